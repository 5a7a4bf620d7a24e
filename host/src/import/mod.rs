//! Bulk import: reads rows in one of several formats, turns each into a fact, and
//! records them through `record-batch` in batches. A bad row never stops the file:
//! it is rejected with its line number and the field at fault, and counted.
//!
//! | format      | rows                                  | ids                               |
//! |-------------|---------------------------------------|-----------------------------------|
//! | `jsonl`     | one wire fact (JSON object) per line  | the fact's own `id`, if any       |
//! | `csv`       | header names wire fields, `q.NAME`    | the `id` column, if any           |
//! | `genai`     | genai-requests.csv                    | derived from the row (`row_ids`)  |
//! | `azure-llm` | AzureLLMInferenceTrace_{conv,code}    | derived from the row (`row_ids`)  |
//!
//! Formats without derived ids are only idempotent if the input carries ids.

mod azure;
mod cells;
mod csv;
mod genai;
mod jsonl;
mod row_ids;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::bindings::{Fact, Outcome, Receipt, ReceiptStatus, UsageError};
use crate::wire::{ErrorJson, FieldError};

/// The input cannot be imported at all (wrong header, unknown columns, no service):
/// the user's mistake, unlike a failing disk.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadFile(pub String);

/// Facts per `record-batch` call.
pub const BATCH_SIZE: usize = 1000;

/// Bytes of text one batch may carry into the sandbox (well under its memory
/// cap), so a file of long rows cannot make a batch fail as a whole.
pub const BATCH_BYTES: usize = 4 << 20;

/// The longest row (line or CSV record) any valid fact needs, with room to
/// spare; longer rows are rejected without being read whole.
pub const MAX_ROW_BYTES: usize = 64 * 1024;

/// How many rejected rows a report lists by line; the rest are only counted.
pub const LISTED_REJECTIONS: usize = 20;

/// The input formats `usage import` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON fact per line (the wire format).
    Jsonl,
    /// CSV whose header names wire fields; quantities as `q.NAME` columns.
    Csv,
    /// The genai-requests.csv trace (image generation).
    Genai,
    /// The Azure LLM inference trace (conversation or code).
    #[value(name = "azure-llm")]
    AzureLlm,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Genai => "genai",
            Format::AzureLlm => "azure-llm",
        }
    }

    /// Guesses the format from the file name and its first line: the two trace
    /// presets by their exact headers, then JSONL by extension or a leading `{`.
    pub fn detect(file_name: &str, first_line: &str) -> Format {
        let header = first_line.trim().trim_start_matches('\u{feff}');
        if header == genai::HEADER {
            Format::Genai
        } else if header.starts_with(azure::HEADER) {
            Format::AzureLlm
        } else if [".jsonl", ".ndjson", ".json"]
            .iter()
            .any(|ext| file_name.ends_with(ext))
            || header.starts_with('{')
        {
            Format::Jsonl
        } else {
            Format::Csv
        }
    }
}

/// Choices that shape the facts, beyond what the rows say.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Forces the format instead of detecting it.
    pub format: Option<Format>,
    /// azure-llm: the service of every row (else a `Service` column, else the file name).
    pub service: Option<String>,
    /// azure-llm: the user of every row (default "azure").
    pub user: Option<String>,
}

/// One input row after mapping; `line` is its line in the file (1 = header in CSV).
#[derive(Debug)]
pub struct Row {
    pub line: u64,
    pub mapped: Mapped,
}

/// What a row turned into.
#[derive(Debug)]
pub enum Mapped {
    Fact(Box<Fact>),
    /// Deliberately not imported, counted under this reason.
    Skipped(&'static str),
    Rejected(FieldError),
}

/// Anything that records batches: a city of the runtime, or a fake in tests.
pub trait Recorder {
    fn record_batch(&self, facts: Vec<Fact>) -> anyhow::Result<Vec<Result<Receipt, UsageError>>>;
}

impl Recorder for crate::runtime::City<'_> {
    fn record_batch(&self, facts: Vec<Fact>) -> anyhow::Result<Vec<Result<Receipt, UsageError>>> {
        crate::runtime::City::record_batch(self, facts)
    }
}

/// The outcome of one import, shown to the user and printed with `--json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub format: String,
    /// Data rows read (not counting the header or blank lines).
    pub rows: u64,
    pub imported: u64,
    /// Rows whose id was stored before with the same content.
    pub duplicates: u64,
    /// Failed calls not stored because the city's `record_errors` is off.
    pub not_recorded: u64,
    pub skipped: Vec<SkipCount>,
    pub rejected: u64,
    /// The first `LISTED_REJECTIONS` rejected rows.
    pub rejections: Vec<Rejection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkipCount {
    pub reason: String,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

/// An input stream and what is known about it.
pub struct Source {
    /// File name (for format detection and the azure service), `-` for stdin.
    pub name: String,
    /// Size in bytes, when known, for the progress bar.
    pub len: Option<u64>,
    pub reader: Box<dyn Read>,
}

impl Source {
    /// Opens a file, or stdin for `-`.
    pub fn open(path: &Path) -> anyhow::Result<Source> {
        if path == Path::new("-") {
            return Ok(Source {
                name: "-".to_owned(),
                len: None,
                reader: Box::new(std::io::stdin()),
            });
        }
        let file = std::fs::File::open(path)
            .map_err(|e| BadFile(format!("cannot open {}: {e}", path.display())))?;
        Ok(Source {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            len: file.metadata().ok().map(|m| m.len()),
            reader: Box::new(file),
        })
    }
}

/// Imports a whole source into `recorder`, showing progress on `progress`.
pub fn import(
    recorder: &dyn Recorder,
    source: Source,
    options: &Options,
    progress: &ProgressBar,
) -> anyhow::Result<ImportReport> {
    if let Some(len) = source.len {
        progress.set_length(len);
    }
    progress.set_message("");
    let mut reader = BufReader::with_capacity(64 * 1024, progress.wrap_read(source.reader));
    let format = match options.format {
        Some(format) => format,
        None => {
            let head = reader.fill_buf().context("reading the input")?;
            let first_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
            Format::detect(&source.name, &String::from_utf8_lossy(first_line))
        }
    };
    if format != Format::AzureLlm && (options.service.is_some() || options.user.is_some()) {
        return Err(BadFile(format!(
            "--service and --user apply to --format azure-llm only (this is {})",
            format.name()
        ))
        .into());
    }
    let rows = rows(format, Box::new(reader), &source.name, options)?;
    let mut report = record_rows(recorder, rows, BATCH_SIZE, progress)?;
    report.format = format.name().to_owned();
    progress.finish_and_clear();
    Ok(report)
}

/// The row reader of one format.
fn rows(
    format: Format,
    reader: Box<dyn Read>,
    file_name: &str,
    options: &Options,
) -> anyhow::Result<Box<dyn Iterator<Item = anyhow::Result<Row>>>> {
    Ok(match format {
        Format::Jsonl => Box::new(jsonl::rows(reader)),
        Format::Csv => Box::new(csv::rows(reader)?),
        Format::Genai => Box::new(genai::rows(reader)?),
        Format::AzureLlm => {
            let choice = azure::ServiceChoice {
                forced: options.service.clone(),
                from_file_name: azure::service_from_file_name(file_name).map(str::to_owned),
            };
            let user = options.user.clone().unwrap_or_else(|| "azure".to_owned());
            Box::new(azure::rows(reader, choice, user)?)
        }
    })
}

/// Sends mapped rows in batches and counts what happened to each.
pub fn record_rows(
    recorder: &dyn Recorder,
    rows: impl Iterator<Item = anyhow::Result<Row>>,
    batch_size: usize,
    progress: &ProgressBar,
) -> anyhow::Result<ImportReport> {
    let mut tally = Tally::default();
    let mut batch: Vec<(u64, Fact)> = Vec::with_capacity(batch_size);
    let mut batch_bytes = 0;
    for row in rows {
        let row = row.with_context(|| {
            format!(
                "stopped after {} rows ({} imported)",
                tally.report.rows, tally.report.imported
            )
        })?;
        tally.report.rows += 1;
        match row.mapped {
            Mapped::Fact(fact) => {
                batch_bytes += text_bytes(&fact);
                batch.push((row.line, *fact));
            }
            Mapped::Skipped(reason) => *tally.skipped.entry(reason).or_default() += 1,
            Mapped::Rejected(e) => tally.reject(row.line, Some(e.field), e.message),
        }
        if batch.len() >= batch_size || batch_bytes >= BATCH_BYTES {
            tally.send(recorder, std::mem::take(&mut batch))?;
            batch_bytes = 0;
            progress.set_message(format!(
                "{} rows",
                crate::render::thousands(tally.report.rows)
            ));
        }
    }
    tally.send(recorder, batch)?;
    Ok(tally.finish())
}

/// The text a fact carries into the sandbox, roughly (what dominates its size).
fn text_bytes(f: &Fact) -> usize {
    let failure = match &f.outcome {
        Outcome::Success => 0,
        Outcome::Failure(failure) => {
            failure.kind.len() + failure.message.as_ref().map_or(0, String::len)
        }
    };
    let quantities: usize = f.quantities.iter().map(|q| q.name.len() + 16).sum();
    f.id.as_ref().map_or(0, String::len)
        + f.user.len()
        + f.service.len()
        + f.model.as_ref().map_or(0, String::len)
        + failure
        + quantities
        + 64
}

#[derive(Default)]
struct Tally {
    report: ImportReport,
    skipped: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn reject(&mut self, line: u64, field: Option<String>, message: String) {
        self.report.rejected += 1;
        if self.report.rejections.len() < LISTED_REJECTIONS {
            self.report.rejections.push(Rejection {
                line,
                field,
                message,
            });
        }
    }

    fn send(&mut self, recorder: &dyn Recorder, batch: Vec<(u64, Fact)>) -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let (lines, facts): (Vec<u64>, Vec<Fact>) = batch.into_iter().unzip();
        let results = recorder.record_batch(facts)?;
        if results.len() != lines.len() {
            bail!(
                "record-batch answered {} results for {} facts",
                results.len(),
                lines.len()
            );
        }
        for (line, result) in lines.into_iter().zip(results) {
            match result {
                Ok(receipt) => match receipt.status {
                    ReceiptStatus::Recorded => self.report.imported += 1,
                    ReceiptStatus::Duplicate => self.report.duplicates += 1,
                    ReceiptStatus::NotRecorded => self.report.not_recorded += 1,
                },
                // Storage failures will hit every later row too: stop, and say re-running is safe.
                Err(UsageError::Storage(message)) => bail!(
                    "storage failed at line {line}: {message} ({} imported so far; \
                     re-running counts rows with ids only once)",
                    self.report.imported
                ),
                Err(other) => {
                    let e = ErrorJson::from(other);
                    let message = match e.field {
                        Some(_) => e.message,
                        None => format!("{}: {}", e.error, e.message),
                    };
                    self.reject(line, e.field, message);
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> ImportReport {
        self.report.skipped = self
            .skipped
            .into_iter()
            .map(|(reason, rows)| SkipCount {
                reason: reason.to_owned(),
                rows,
            })
            .collect();
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::InvalidInput;
    use std::cell::RefCell;

    /// Records everything, answering by the fact's user: "dup" is a duplicate,
    /// "off" not recorded, "bad" invalid, "clash" a conflict.
    #[derive(Default)]
    struct FakeCity {
        batches: RefCell<Vec<usize>>,
    }

    impl Recorder for FakeCity {
        fn record_batch(
            &self,
            facts: Vec<Fact>,
        ) -> anyhow::Result<Vec<Result<Receipt, UsageError>>> {
            self.batches.borrow_mut().push(facts.len());
            Ok(facts
                .into_iter()
                .map(|f| {
                    let status = match f.user.as_str() {
                        "dup" => ReceiptStatus::Duplicate,
                        "off" => ReceiptStatus::NotRecorded,
                        "bad" => {
                            return Err(UsageError::Invalid(InvalidInput {
                                field: "quantities[0].name".to_owned(),
                                message: "empty".to_owned(),
                            }));
                        }
                        "clash" => return Err(UsageError::Conflict("id x reused".to_owned())),
                        _ => ReceiptStatus::Recorded,
                    };
                    Ok(Receipt {
                        status,
                        position: None,
                        recorded_at: None,
                    })
                })
                .collect())
        }
    }

    fn fact(user: &str) -> Mapped {
        Mapped::Fact(Box::new(Fact {
            id: None,
            user: user.to_owned(),
            service: "s".to_owned(),
            model: None,
            outcome: Outcome::Success,
            occurred_at: None,
            duration_ms: None,
            quantities: vec![],
        }))
    }

    fn row(line: u64, mapped: Mapped) -> anyhow::Result<Row> {
        Ok(Row { line, mapped })
    }

    #[test]
    fn long_rows_make_smaller_batches() {
        let city = FakeCity::default();
        let long = "u".repeat(60 * 1024);
        let rows: Vec<_> = (0..200).map(|i| row(i + 1, fact(&long))).collect();
        let report = record_rows(&city, rows.into_iter(), BATCH_SIZE, &ProgressBar::hidden())
            .expect("imports");
        assert_eq!(report.imported, 200);
        let batches = city.batches.borrow();
        assert_eq!(batches.iter().sum::<usize>(), 200);
        assert!(batches.len() >= 3, "{batches:?}");
        let most = BATCH_BYTES / long.len() + 1;
        assert!(batches.iter().all(|n| *n <= most), "{batches:?}");
    }

    #[test]
    fn counts_every_kind_of_row_and_batches() {
        let city = FakeCity::default();
        let rows = vec![
            row(2, fact("a")),
            row(3, fact("dup")),
            row(4, Mapped::Skipped("never finished")),
            row(5, fact("off")),
            row(6, Mapped::Rejected(FieldError::new("user", "empty"))),
            row(7, fact("bad")),
            row(8, fact("clash")),
            row(9, Mapped::Skipped("never finished")),
            row(10, fact("b")),
        ];
        let report =
            record_rows(&city, rows.into_iter(), 2, &ProgressBar::hidden()).expect("imports");
        assert_eq!(*city.batches.borrow(), [2, 2, 2]);
        assert_eq!(report.rows, 9);
        assert_eq!(report.imported, 2);
        assert_eq!(report.duplicates, 1);
        assert_eq!(report.not_recorded, 1);
        assert_eq!(
            report.skipped,
            [SkipCount {
                reason: "never finished".to_owned(),
                rows: 2
            }]
        );
        assert_eq!(report.rejected, 3);
        let lines: Vec<_> = report.rejections.iter().map(|r| r.line).collect();
        assert_eq!(lines, [6, 7, 8]);
        assert_eq!(
            report.rejections[1].field.as_deref(),
            Some("quantities[0].name")
        );
        assert_eq!(report.rejections[2].message, "conflict: id x reused");
    }

    #[test]
    fn lists_only_the_first_rejections_but_counts_all() {
        let city = FakeCity::default();
        let rows = (0..LISTED_REJECTIONS as u64 + 5)
            .map(|line| row(line, Mapped::Rejected(FieldError::new("user", "empty"))));
        let report = record_rows(&city, rows, 10, &ProgressBar::hidden()).expect("imports");
        assert_eq!(report.rejected, LISTED_REJECTIONS as u64 + 5);
        assert_eq!(report.rejections.len(), LISTED_REJECTIONS);
        assert!(city.batches.borrow().is_empty());
    }

    #[test]
    fn a_read_error_stops_with_the_count_so_far() {
        let city = FakeCity::default();
        let rows = vec![row(2, fact("a")), Err(anyhow::anyhow!("disk gone"))];
        let err =
            record_rows(&city, rows.into_iter(), 10, &ProgressBar::hidden()).expect_err("stops");
        assert!(format!("{err:#}").contains("stopped after 1 rows"));
    }

    /// Keeps every fact it is sent, answering "recorded".
    #[derive(Default)]
    struct KeepAll {
        facts: RefCell<Vec<Fact>>,
    }

    impl Recorder for KeepAll {
        fn record_batch(
            &self,
            facts: Vec<Fact>,
        ) -> anyhow::Result<Vec<Result<Receipt, UsageError>>> {
            let receipts = facts
                .iter()
                .map(|_| {
                    Ok(Receipt {
                        status: ReceiptStatus::Recorded,
                        position: None,
                        recorded_at: None,
                    })
                })
                .collect();
            self.facts.borrow_mut().extend(facts);
            Ok(receipts)
        }
    }

    fn sum(facts: &[Fact], quantity: &str) -> u64 {
        facts
            .iter()
            .flat_map(|f| &f.quantities)
            .filter(|q| q.name == quantity)
            .map(|q| q.value)
            .sum()
    }

    /// The real traces from ../shared/data, when present (they are not in the repo).
    fn real_trace(name: &str) -> Option<Source> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data")
            .join(name);
        if !path.exists() {
            eprintln!("skipped: {} is not here", path.display());
            return None;
        }
        Source::open(&path).ok()
    }

    /// Expected values counted independently with a Python script over the CSV.
    #[test]
    fn the_real_genai_trace_imports_completely() {
        let Some(source) = real_trace("genai-requests.csv") else {
            return;
        };
        let city = KeepAll::default();
        let report =
            import(&city, source, &Options::default(), &ProgressBar::hidden()).expect("imports");
        assert_eq!(report.format, "genai");
        assert_eq!(
            (report.rows, report.imported, report.rejected),
            (26_823, 26_790, 0)
        );
        assert_eq!(
            report.skipped,
            [SkipCount {
                reason: genai::UNFINISHED.to_owned(),
                rows: 33
            }]
        );
        let facts = city.facts.borrow();
        let ids: std::collections::HashSet<_> = facts.iter().filter_map(|f| f.id.clone()).collect();
        assert_eq!(ids.len(), 26_790, "19 repeated rows must keep distinct ids");
        assert_eq!(sum(&facts, "images"), 72_174);
        assert_eq!(
            facts.iter().filter_map(|f| f.duration_ms).sum::<u64>(),
            768_803_000
        );
        let without_negative = facts
            .iter()
            .filter(|f| {
                !f.quantities
                    .iter()
                    .any(|q| q.name == "negative_prompt_chars")
            })
            .count();
        assert_eq!(without_negative, 6_189);
        let failed = facts
            .iter()
            .filter(|f| !matches!(f.outcome, Outcome::Success))
            .count();
        assert_eq!(failed, 398);
    }

    #[test]
    fn the_real_azure_traces_import_completely() {
        for (file, service, rows, input, output) in [
            (
                "azure-llm-conv.csv",
                "conversation",
                19_366,
                22_361_870,
                4_088_665,
            ),
            ("azure-llm-code.csv", "code", 8_819, 18_059_974, 245_896),
        ] {
            let Some(source) = real_trace(file) else {
                return;
            };
            let city = KeepAll::default();
            let report = import(&city, source, &Options::default(), &ProgressBar::hidden())
                .expect("imports");
            assert_eq!(report.format, "azure-llm");
            assert_eq!(
                (report.rows, report.imported, report.rejected),
                (rows, rows, 0)
            );
            let facts = city.facts.borrow();
            assert!(
                facts
                    .iter()
                    .all(|f| f.service == service && f.user == "azure")
            );
            assert_eq!(sum(&facts, "input_tokens"), input);
            assert_eq!(sum(&facts, "output_tokens"), output);
        }
    }

    #[test]
    fn rows_split_by_a_bare_cr_share_a_line_and_are_each_counted() {
        // Found by the import fuzz target: CSV rows on one line, split by a bare CR.
        let source = Source {
            name: "f.csv".to_owned(),
            len: None,
            reader: Box::new(&b"user,service,outcome\nu,s\rv,s\nw,s,success\n"[..]),
        };
        let city = KeepAll::default();
        let report =
            import(&city, source, &Options::default(), &ProgressBar::hidden()).expect("imports");
        assert_eq!((report.rows, report.imported, report.rejected), (3, 1, 2));
        let lines: Vec<u64> = report.rejections.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 2]);
    }

    #[test]
    fn service_and_user_flags_are_refused_outside_azure() {
        let source = Source {
            name: "facts.jsonl".to_owned(),
            len: None,
            reader: Box::new(&b""[..]),
        };
        let options = Options {
            service: Some("chat".to_owned()),
            ..Options::default()
        };
        let err = import(
            &KeepAll::default(),
            source,
            &options,
            &ProgressBar::hidden(),
        )
        .expect_err("refused");
        assert!(err.is::<BadFile>());
    }

    #[test]
    fn detects_formats_by_header_then_name() {
        assert_eq!(Format::detect("x.csv", genai::HEADER), Format::Genai);
        assert_eq!(
            Format::detect("conv.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\r"),
            Format::AzureLlm
        );
        assert_eq!(Format::detect("facts.jsonl", ""), Format::Jsonl);
        assert_eq!(Format::detect("-", "{\"user\":\"u\"}"), Format::Jsonl);
        assert_eq!(
            Format::detect("facts.csv", "user,service,outcome"),
            Format::Csv
        );
    }
}
