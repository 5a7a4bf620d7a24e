//! Preset for genai-requests.csv (alibaba/clusterdata GenAI trace), one image
//! generation request per row:
//!
//! | fact          | column                                          |
//! |---------------|-------------------------------------------------|
//! | user          | `groupId`                                       |
//! | service       | `predict_type` (TXT_2_IMG, IMG_2_IMG, ...)     |
//! | model         | `checkpoint_model_version_id` (empty → none)    |
//! | outcome       | `predict_status`: SUCCEED → success, FAILED → failure kind "failed"; PENDING and PROCESSING never finished and are skipped |
//! | occurred_at   | `gmt_create`, zone-less, read as UTC           |
//! | duration_ms   | `exec_time_seconds` × 1000                      |
//! | quantities    | images=`num_images_per_prompt`, steps=`num_inference_steps`, prompt_chars=`prompt_length`, negative_prompt_chars=`negative_prompt_length`, loras=`num_lora` (empty cell → omitted) |
//! | id            | `genai:HASH` of the row (see `row_ids`)         |

use std::io::Read;

use super::cells::{Cells, CsvRows, Header, read_header};
use super::row_ids::RowIds;
use super::{Mapped, Row};
use crate::bindings::{Fact, Failure, Outcome, Quantity};
use crate::timestamp;
use crate::wire::FieldError;

/// The trace's header, exactly, for format detection.
pub const HEADER: &str = "gmt_create,predict_type,predict_status,exec_time_seconds,groupId,prompt_length,negative_prompt_length,num_images_per_prompt,num_inference_steps,checkpoint_model_version_id,num_lora";

/// Why PENDING and PROCESSING rows are skipped.
pub const UNFINISHED: &str = "PENDING/PROCESSING never finished";

/// Quantity name and source column, in the order they are stored.
const QUANTITIES: [(&str, &str); 5] = [
    ("images", "num_images_per_prompt"),
    ("loras", "num_lora"),
    ("negative_prompt_chars", "negative_prompt_length"),
    ("prompt_chars", "prompt_length"),
    ("steps", "num_inference_steps"),
];

struct Columns {
    created: usize,
    service: usize,
    status: usize,
    exec_seconds: usize,
    user: usize,
    model: usize,
    quantities: Vec<(&'static str, usize)>,
}

impl Columns {
    fn find(header: &Header) -> anyhow::Result<Columns> {
        let col = |name| header.require("genai", name);
        Ok(Columns {
            created: col("gmt_create")?,
            service: col("predict_type")?,
            status: col("predict_status")?,
            exec_seconds: col("exec_time_seconds")?,
            user: col("groupId")?,
            model: col("checkpoint_model_version_id")?,
            quantities: QUANTITIES
                .iter()
                .map(|(name, column)| Ok((*name, col(column)?)))
                .collect::<anyhow::Result<_>>()?,
        })
    }
}

pub fn rows(reader: impl Read) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Row>>> {
    let (reader, header) = read_header(reader)?;
    let columns = Columns::find(&header)?;
    let mut ids = RowIds::default();
    Ok(CsvRows::new(
        reader,
        header,
        move |cells: &Cells<'_>| match map_row(&columns, cells, &mut ids) {
            Ok(mapped) => mapped,
            Err(e) => Mapped::Rejected(e),
        },
    ))
}

fn map_row(columns: &Columns, cells: &Cells<'_>, ids: &mut RowIds) -> Result<Mapped, FieldError> {
    let outcome = match cells.required_text(columns.status)? {
        "SUCCEED" => Outcome::Success,
        "FAILED" => Outcome::Failure(Failure {
            kind: "failed".to_owned(),
            message: None,
        }),
        "PENDING" | "PROCESSING" => return Ok(Mapped::Skipped(UNFINISHED)),
        other => {
            return Err(FieldError::new(
                cells.name(columns.status),
                format!(
                    "unknown status `{other}` (expected SUCCEED, FAILED, PENDING or PROCESSING)"
                ),
            ));
        }
    };
    let occurred_at = timestamp::parse_naive_utc(cells.required_text(columns.created)?)
        .map_err(|e| FieldError::new(cells.name(columns.created), e.to_string()))?;
    let duration_ms = cells
        .text(columns.exec_seconds)?
        .map(|text| {
            seconds_to_ms(text).map_err(|m| FieldError::new(cells.name(columns.exec_seconds), m))
        })
        .transpose()?;
    let mut quantities = Vec::new();
    for (name, column) in &columns.quantities {
        if let Some(value) = cells.whole_number(*column)? {
            quantities.push(Quantity {
                name: (*name).to_owned(),
                value,
            });
        }
    }
    let user = cells.required_text(columns.user)?.to_owned();
    let service = cells.required_text(columns.service)?.to_owned();
    let model = cells.text(columns.model)?.map(str::to_owned);
    Ok(Mapped::Fact(Box::new(Fact {
        id: Some(ids.next("genai", cells.raw())),
        user,
        service,
        model,
        outcome,
        occurred_at: Some(occurred_at),
        duration_ms,
        quantities,
    })))
}

/// `32.0` seconds → 32000 ms, rounded to the nearest millisecond.
fn seconds_to_ms(text: &str) -> Result<u64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    // About 31 years: anything longer is a broken cell, not a call.
    if !(0.0..1e9).contains(&seconds) {
        return Err(format!("`{text}` is not a plausible duration in seconds"));
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "range checked above"
    )]
    Ok((seconds * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header, then rows copied from the real trace (lines 2, 3, a FAILED, a
    /// PENDING and a PROCESSING row), then made-up broken rows.
    const SAMPLE: &[u8] = b"gmt_create,predict_type,predict_status,exec_time_seconds,groupId,prompt_length,negative_prompt_length,num_images_per_prompt,num_inference_steps,checkpoint_model_version_id,num_lora
2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63.0,26.0,1.0,30.0,M0000,0
2024-11-15 18:16:14,TXT_2_IMG,SUCCEED,43.0,G0001,93.0,,1.0,40.0,M0001,0
2024-11-17 04:44:00,TXT_2_IMG,FAILED,3.0,G0019,67.0,,2.0,30.0,M0013,0
2024-11-26 22:50:35,TXT_2_IMG,PENDING,0.0,G0325,,,,,,0
2024-12-05 00:30:12,TXT_2_IMG,PROCESSING,43.0,G3745,61.0,26.0,8.0,30.0,M0011,0
2024-11-15 16:57:50,TXT_2_IMG,DONE,32.0,G0000,63.0,26.0,1.0,30.0,M0000,0
2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63.5,26.0,1.0,30.0,M0000,0
2024-11-15,TXT_2_IMG,SUCCEED,32.0,G0000,63.0,26.0,1.0,30.0,M0000,0
2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,,63.0,26.0,1.0,30.0,M0000,0
2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,-1.0,G0000,63.0,26.0,1.0,30.0,M0000,0
2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G\xff,63.0,26.0,1.0,30.0,M0000,0
2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63.0,26.0,1.0,30.0,M0000,0
";

    fn read() -> Vec<Row> {
        rows(SAMPLE)
            .expect("header is fine")
            .collect::<anyhow::Result<_>>()
            .expect("reads")
    }

    fn fact(row: &Row) -> &Fact {
        match &row.mapped {
            Mapped::Fact(f) => f,
            other => panic!("line {}: expected a fact, got {other:?}", row.line),
        }
    }

    fn quantities(f: &Fact) -> Vec<(&str, u64)> {
        f.quantities
            .iter()
            .map(|q| (q.name.as_str(), q.value))
            .collect()
    }

    #[test]
    fn maps_a_successful_row() {
        let rows = read();
        let f = fact(&rows[0]);
        assert_eq!(f.user, "G0000");
        assert_eq!(f.service, "TXT_2_IMG");
        assert_eq!(f.model.as_deref(), Some("M0000"));
        assert!(matches!(f.outcome, Outcome::Success));
        assert_eq!(f.occurred_at, Some(1_731_689_870_000));
        assert_eq!(f.duration_ms, Some(32_000));
        assert_eq!(
            quantities(f),
            [
                ("images", 1),
                ("loras", 0),
                ("negative_prompt_chars", 26),
                ("prompt_chars", 63),
                ("steps", 30)
            ]
        );
        assert!(f.id.as_deref().is_some_and(|id| id.starts_with("genai:")));
    }

    #[test]
    fn empty_negative_prompt_is_omitted() {
        let rows = read();
        let names: Vec<_> = quantities(fact(&rows[1]))
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["images", "loras", "prompt_chars", "steps"]);
    }

    #[test]
    fn failed_is_a_failure_of_kind_failed() {
        let rows = read();
        let f = fact(&rows[2]);
        assert!(
            matches!(&f.outcome, Outcome::Failure(x) if x.kind == "failed" && x.message.is_none())
        );
        assert_eq!(f.duration_ms, Some(3_000));
    }

    #[test]
    fn pending_and_processing_are_skipped() {
        let rows = read();
        assert!(matches!(rows[3].mapped, Mapped::Skipped(UNFINISHED)));
        assert!(matches!(rows[4].mapped, Mapped::Skipped(UNFINISHED)));
    }

    #[test]
    fn broken_rows_are_rejected_naming_the_column() {
        let rows = read();
        let rejected: Vec<_> = rows[5..11]
            .iter()
            .map(|r| match &r.mapped {
                Mapped::Rejected(e) => (r.line, e.field.as_str()),
                other => panic!("line {}: expected a rejection, got {other:?}", r.line),
            })
            .collect();
        assert_eq!(
            rejected,
            [
                (7, "predict_status"),
                (8, "prompt_length"),
                (9, "gmt_create"),
                (10, "groupId"),
                (11, "exec_time_seconds"),
                (12, "groupId"),
            ]
        );
    }

    #[test]
    fn ids_are_stable_and_repeated_rows_stay_distinct() {
        let first = read();
        let again = read();
        let id = |rows: &[Row], i: usize| fact(&rows[i]).id.clone();
        assert_eq!(id(&first, 0), id(&again, 0));
        let repeat = id(&first, 11).expect("has an id");
        assert_eq!(
            Some(repeat.trim_end_matches(".2").to_owned()),
            id(&first, 0)
        );
        assert!(repeat.ends_with(".2"));
    }

    #[test]
    fn seconds_round_to_milliseconds() {
        assert_eq!(seconds_to_ms("1.0"), Ok(1000));
        assert_eq!(seconds_to_ms("0.0004"), Ok(0));
        assert_eq!(seconds_to_ms("2.5"), Ok(2500));
        assert!(seconds_to_ms("NaN").is_err());
        assert!(seconds_to_ms("inf").is_err());
        assert!(seconds_to_ms("x").is_err());
    }
}
