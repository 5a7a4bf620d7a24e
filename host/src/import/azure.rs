//! Preset for the Azure LLM inference trace 2023 (AzurePublicDataset,
//! `AzureLLMInferenceTrace_{conv,code}.csv`), one completed request per row:
//!
//! | fact        | source                                                        |
//! |-------------|---------------------------------------------------------------|
//! | occurred_at | `TIMESTAMP` (UTC, 7 fractional digits; cut to milliseconds)   |
//! | quantities  | input_tokens=`ContextTokens`, output_tokens=`GeneratedTokens` |
//! | service     | `--service`, else a `Service` column, else the file name (`…conv…` → conversation, `…code…` → code) |
//! | user        | `--user`, default "azure" (the trace has no users)            |
//! | outcome     | success (the trace has only completed calls)                  |
//! | id          | `azure-llm:HASH` of service, time and token cells (`row_ids`) |
//!
//! The id leaves out the user and the file, so the same call imported from the
//! full trace and from the demo sample counts once, and re-importing it under
//! another `--user` is a conflict rather than a second count.

use std::io::Read;

use super::cells::{Cells, CsvRows, read_header};
use super::row_ids::RowIds;
use super::{BadFile, Mapped, Row};
use crate::bindings::{Fact, Outcome, Quantity};
use crate::timestamp;
use crate::wire::FieldError;

/// The trace's header (a `Service` column may follow), for format detection.
pub const HEADER: &str = "TIMESTAMP,ContextTokens,GeneratedTokens";

/// The service a trace file holds, from its name: `azure-llm-conv.csv` → conversation.
pub fn service_from_file_name(file_name: &str) -> Option<&'static str> {
    let name = file_name.to_ascii_lowercase();
    if name.contains("conv") {
        Some("conversation")
    } else if name.contains("code") {
        Some("code")
    } else {
        None
    }
}

/// Where each row's service comes from, in order of precedence.
#[derive(Debug, Clone, Default)]
pub struct ServiceChoice {
    /// `--service`: every row.
    pub forced: Option<String>,
    /// From the file name, used when there is no `Service` column.
    pub from_file_name: Option<String>,
}

struct Columns {
    timestamp: usize,
    input_tokens: usize,
    output_tokens: usize,
    service: Option<usize>,
}

pub fn rows(
    reader: impl Read,
    choice: ServiceChoice,
    user: String,
) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Row>>> {
    let (reader, header) = read_header(reader)?;
    let columns = Columns {
        timestamp: header.require("azure-llm", "TIMESTAMP")?,
        input_tokens: header.require("azure-llm", "ContextTokens")?,
        output_tokens: header.require("azure-llm", "GeneratedTokens")?,
        service: header.index("Service"),
    };
    let fixed_service = match (choice.forced, columns.service, choice.from_file_name) {
        (Some(forced), _, _) => Some(forced),
        (None, Some(_), _) => None,
        (None, None, Some(from_name)) => Some(from_name),
        (None, None, None) => {
            return Err(BadFile(
                "azure-llm: cannot tell the service from the file name: pass --service (e.g. conversation or code)"
                    .to_owned(),
            )
            .into());
        }
    };
    let mut ids = RowIds::default();
    Ok(CsvRows::new(
        reader,
        header,
        move |cells: &Cells<'_>| match map_row(
            &columns,
            fixed_service.as_deref(),
            &user,
            cells,
            &mut ids,
        ) {
            Ok(fact) => Mapped::Fact(Box::new(fact)),
            Err(e) => Mapped::Rejected(e),
        },
    ))
}

fn map_row(
    columns: &Columns,
    fixed_service: Option<&str>,
    user: &str,
    cells: &Cells<'_>,
    ids: &mut RowIds,
) -> Result<Fact, FieldError> {
    let service = match (fixed_service, columns.service) {
        (Some(service), _) => service,
        (None, Some(column)) => cells.required_text(column)?,
        (None, None) => return Err(FieldError::new("Service", "no service for this row")),
    };
    let occurred_at = timestamp::parse_naive_utc(cells.required_text(columns.timestamp)?)
        .map_err(|e| FieldError::new(cells.name(columns.timestamp), e.to_string()))?;
    let tokens = |column| {
        cells
            .whole_number(column)?
            .ok_or_else(|| FieldError::new(cells.name(column), "empty"))
    };
    let quantities = vec![
        Quantity {
            name: "input_tokens".to_owned(),
            value: tokens(columns.input_tokens)?,
        },
        Quantity {
            name: "output_tokens".to_owned(),
            value: tokens(columns.output_tokens)?,
        },
    ];
    let id_cells = [
        service.as_bytes(),
        cells.raw_cell(columns.timestamp),
        cells.raw_cell(columns.input_tokens),
        cells.raw_cell(columns.output_tokens),
    ];
    Ok(Fact {
        id: Some(ids.next("azure-llm", id_cells.into_iter())),
        user: user.to_owned(),
        service: service.to_owned(),
        model: None,
        outcome: Outcome::Success,
        occurred_at: Some(occurred_at),
        duration_ms: None,
        quantities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first two rows of azure-llm-conv.csv, then made-up broken rows.
    const CONV: &[u8] = b"TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:15:46.6805900,374,44
2023-11-16 18:15:50.9951690,396,109
2023-11-16 18:15:50,,109
2023-11-16T18:15:50,1,1
2023-11-16 18:15:50.1,1.5,1
2023-11-16 18:15:50.1,\xff,1
";

    fn read(input: &'static [u8], choice: ServiceChoice) -> Vec<Row> {
        rows(input, choice, "azure".to_owned())
            .expect("header is fine")
            .collect::<anyhow::Result<_>>()
            .expect("reads")
    }

    fn named(file: &str) -> ServiceChoice {
        ServiceChoice {
            forced: None,
            from_file_name: service_from_file_name(file).map(str::to_owned),
        }
    }

    fn fact(row: &Row) -> &Fact {
        match &row.mapped {
            Mapped::Fact(f) => f,
            other => panic!("line {}: expected a fact, got {other:?}", row.line),
        }
    }

    #[test]
    fn maps_tokens_time_and_service_from_the_file_name() {
        let rows = read(CONV, named("azure-llm-conv.csv"));
        let f = fact(&rows[0]);
        assert_eq!(f.service, "conversation");
        assert_eq!(f.user, "azure");
        assert!(matches!(f.outcome, Outcome::Success));
        // 2023-11-16T18:15:46Z = 1700158546 s (date -u -d ... +%s), plus 680 ms.
        assert_eq!(f.occurred_at, Some(1_700_158_546_680));
        let q: Vec<_> = f
            .quantities
            .iter()
            .map(|q| (q.name.as_str(), q.value))
            .collect();
        assert_eq!(q, [("input_tokens", 374), ("output_tokens", 44)]);
        assert!(
            f.id.as_deref()
                .is_some_and(|id| id.starts_with("azure-llm:"))
        );
    }

    #[test]
    fn broken_rows_are_rejected_naming_the_column() {
        let rows = read(CONV, named("AzureLLMInferenceTrace_conv.csv"));
        let fields: Vec<_> = rows[2..]
            .iter()
            .map(|r| match &r.mapped {
                Mapped::Rejected(e) => e.field.as_str(),
                other => panic!("line {}: expected a rejection, got {other:?}", r.line),
            })
            .collect();
        assert_eq!(
            fields,
            [
                "ContextTokens",
                "TIMESTAMP",
                "ContextTokens",
                "ContextTokens"
            ]
        );
    }

    #[test]
    fn service_precedence_is_flag_then_column_then_file_name() {
        let with_column: &[u8] =
            b"TIMESTAMP,ContextTokens,GeneratedTokens,Service\n2023-11-16 18:17:03.9799600,4808,10,code\n";
        let from_column = read(with_column, named("azure-llm-conv.csv"));
        assert_eq!(fact(&from_column[0]).service, "code");
        let forced = read(
            with_column,
            ServiceChoice {
                forced: Some("chat".to_owned()),
                from_file_name: None,
            },
        );
        assert_eq!(fact(&forced[0]).service, "chat");
        assert!(rows(CONV, named("trace.csv"), "azure".to_owned()).is_err());
    }

    #[test]
    fn the_same_call_gets_the_same_id_from_any_file() {
        let code_file: &[u8] =
            b"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n";
        let sample: &[u8] =
            b"TIMESTAMP,ContextTokens,GeneratedTokens,Service\n2023-11-16 18:17:03.9799600,4808,10,code\n";
        let a = read(code_file, named("azure-llm-code.csv"));
        let b = read(sample, named("azure-llm-sample.csv"));
        assert_eq!(fact(&a[0]).id, fact(&b[0]).id);
        let c = read(
            code_file,
            ServiceChoice {
                forced: Some("other".to_owned()),
                from_file_name: None,
            },
        );
        assert_ne!(fact(&a[0]).id, fact(&c[0]).id);
    }
}
