//! `usage record`: one fact, from flags or from wire JSON.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::Context as _;
use clap::Args;

use super::args;
use super::context::{BadInput, Context, answer};
use crate::bindings::{Fact, Receipt, ReceiptStatus};
use crate::import::MAX_ROW_BYTES;
use crate::timestamp::{Millis, format_rfc3339};
use crate::wire::{FactFields, FactJson, OutcomeKind, ReceiptJson};

/// Record one call (a fact). Recording the same --id again counts nothing.
#[derive(Debug, Args)]
pub struct RecordCommand {
    /// The whole fact as wire JSON (`-` reads it from stdin), instead of the flags below.
    #[arg(long, value_name = "JSON", conflicts_with_all = [
        "user", "service", "model", "outcome", "error_kind", "error_message",
        "at", "duration_ms", "quantity", "id",
    ])]
    fact: Option<String>,
    /// Who made the call.
    #[arg(long, required_unless_present = "fact")]
    user: Option<String>,
    /// Which service was called.
    #[arg(long, required_unless_present = "fact")]
    service: Option<String>,
    #[arg(long)]
    model: Option<String>,
    #[arg(long, value_enum, default_value = "success")]
    outcome: OutcomeArg,
    /// Failure class, e.g. timeout (required with --outcome failure).
    #[arg(long)]
    error_kind: Option<String>,
    #[arg(long)]
    error_message: Option<String>,
    /// When the call happened [default: now].
    #[arg(long, value_parser = args::time, value_name = "TIME")]
    at: Option<Millis>,
    #[arg(long, value_name = "MS")]
    duration_ms: Option<u64>,
    /// A measured amount, NAME=VALUE (repeatable): --quantity input_tokens=812.
    #[arg(long, value_parser = args::quantity, value_name = "NAME=VALUE")]
    quantity: Vec<(String, u64)>,
    /// Idempotency id: the same id is stored and counted once.
    #[arg(long)]
    id: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OutcomeArg {
    Success,
    Failure,
}

impl RecordCommand {
    pub fn run(self, context: &Context) -> anyhow::Result<()> {
        let fact = self.to_fact()?;
        let runtime = context.runtime()?;
        let city = runtime.city(&context.city_or("default"))?;
        let receipt = answer(city.record(fact))?;
        if context.common.json {
            return context.print_json(&ReceiptJson::from(receipt));
        }
        println!("{}", describe(&receipt));
        Ok(())
    }

    fn to_fact(&self) -> anyhow::Result<Fact> {
        if let Some(json) = &self.fact {
            let text = if json == "-" {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .context("reading the fact from stdin")?;
                String::from_utf8(bytes).map_err(|e| {
                    BadInput(format!("--fact: not valid UTF-8 ({})", e.utf8_error()))
                })?
            } else {
                json.clone()
            };
            if text.len() > MAX_ROW_BYTES {
                return Err(BadInput(format!(
                    "--fact: longer than {MAX_ROW_BYTES} bytes; no fact is that long"
                ))
                .into());
            }
            let fact =
                FactJson::from_json_str(&text).map_err(|e| BadInput(format!("--fact: {e}")))?;
            return Ok(fact.into());
        }
        let mut quantities = BTreeMap::new();
        for (name, value) in &self.quantity {
            if quantities.insert(name.clone(), *value).is_some() {
                return Err(
                    BadInput(format!("--quantity: `{name}` is given more than once")).into(),
                );
            }
        }
        let fields = FactFields {
            id: self.id.clone(),
            user: self.user.clone(),
            service: self.service.clone(),
            model: self.model.clone(),
            outcome: Some(match self.outcome {
                OutcomeArg::Success => OutcomeKind::Success,
                OutcomeArg::Failure => OutcomeKind::Failure,
            }),
            error_kind: self.error_kind.clone(),
            error_message: self.error_message.clone(),
            occurred_at: self.at,
            duration_ms: self.duration_ms,
            quantities,
        };
        let fact = fields
            .finish()
            .map_err(|e| BadInput(format!("--{}: {}", e.field.replace('_', "-"), e.message)))?;
        Ok(fact.into())
    }
}

fn describe(receipt: &Receipt) -> String {
    let at = |ms: Option<Millis>| ms.map(format_rfc3339).unwrap_or_default();
    let position = receipt.position.map(|p| p.to_string()).unwrap_or_default();
    match receipt.status {
        ReceiptStatus::Recorded => {
            format!(
                "recorded as event {position} at {}",
                at(receipt.recorded_at)
            )
        }
        ReceiptStatus::Duplicate => {
            format!("duplicate: already stored as event {position}; nothing counted again")
        }
        ReceiptStatus::NotRecorded => {
            "not recorded: this city does not keep failed calls (settings --record-errors false)"
                .to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::Outcome;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn fact_of(argv: &[&str]) -> anyhow::Result<Fact> {
        let cli = Cli::try_parse_from(argv).expect("parses");
        let Command::Record(record) = cli.command else {
            panic!("not record");
        };
        record.to_fact()
    }

    #[test]
    fn flags_build_a_fact() {
        let fact = fact_of(&[
            "usage",
            "record",
            "--user",
            "u",
            "--service",
            "chat",
            "--outcome",
            "failure",
            "--error-kind",
            "timeout",
            "--at",
            "2024-11-15",
            "--quantity",
            "input_tokens=812",
            "--quantity",
            "output_tokens=5",
        ])
        .expect("valid");
        assert!(matches!(&fact.outcome, Outcome::Failure(f) if f.kind == "timeout"));
        assert_eq!(fact.occurred_at, Some(1_731_628_800_000));
        assert_eq!(fact.quantities.len(), 2);
    }

    #[test]
    fn failure_without_kind_is_bad_input_naming_the_flag() {
        let err = fact_of(&[
            "usage",
            "record",
            "--user",
            "u",
            "--service",
            "s",
            "--outcome",
            "failure",
        ])
        .expect_err("needs a kind");
        assert!(err.is::<BadInput>());
        assert!(err.to_string().starts_with("--error-kind:"), "{err}");
    }

    #[test]
    fn json_fact_is_checked_like_an_import_line() {
        let fact = fact_of(&[
            "usage",
            "record",
            "--fact",
            r#"{"user":"u","service":"s","outcome":"success"}"#,
        ])
        .expect("valid");
        assert_eq!(fact.user, "u");
        let err = fact_of(&["usage", "record", "--fact", r#"{"user":"u"}"#]).expect_err("invalid");
        assert_eq!(err.to_string(), "--fact: service: required");
    }

    #[test]
    fn a_quantity_given_twice_is_refused_not_overwritten() {
        let err = fact_of(&[
            "usage",
            "record",
            "--user",
            "u",
            "--service",
            "s",
            "--quantity",
            "images=1",
            "--quantity",
            "images=2",
        ])
        .expect_err("ambiguous");
        assert!(err.is::<BadInput>());
        assert!(err.to_string().starts_with("--quantity: `images`"), "{err}");
    }

    #[test]
    fn fact_json_excludes_the_field_flags() {
        assert!(Cli::try_parse_from(["usage", "record", "--fact", "{}", "--user", "u"]).is_err());
    }
}
