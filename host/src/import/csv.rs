//! Generic CSV: the header names wire fields, in any order:
//! `id, user, service, model, outcome, error_kind, error_message, occurred_at,
//! duration_ms`, plus one `q.NAME` column per quantity (`q.input_tokens`).
//! `user`, `service` and `outcome` are required columns; any other column name is
//! refused up front, so a typo cannot silently drop data. Empty cells are absent
//! values; `occurred_at` is RFC 3339 or integer milliseconds, like the JSON.

use std::io::Read;

use super::cells::{Cells, CsvRows, Header, read_header};
use super::{BadFile, Mapped, Row};
use crate::bindings::Fact;
use crate::timestamp;
use crate::wire::{FactFields, FieldError};

/// Prefix of quantity columns.
const QUANTITY_PREFIX: &str = "q.";

const FIELDS: [&str; 9] = [
    "id",
    "user",
    "service",
    "model",
    "outcome",
    "error_kind",
    "error_message",
    "occurred_at",
    "duration_ms",
];

pub fn rows(reader: impl Read) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Row>>> {
    let (reader, header) = read_header(reader)?;
    check_header(&header)?;
    let columns = header.clone();
    Ok(CsvRows::new(
        reader,
        header,
        move |cells: &Cells<'_>| match map_row(&columns, cells) {
            Ok(fact) => Mapped::Fact(Box::new(fact)),
            Err(e) => Mapped::Rejected(e),
        },
    ))
}

fn check_header(header: &Header) -> anyhow::Result<()> {
    for name in header.names() {
        let known = FIELDS.contains(&name.as_str())
            || name
                .strip_prefix(QUANTITY_PREFIX)
                .is_some_and(|q| !q.is_empty());
        if !known {
            return Err(BadFile(format!(
                "csv: unknown column `{name}`: use {} or q.NAME for a quantity",
                FIELDS.join(", ")
            ))
            .into());
        }
        if header.names().iter().filter(|n| *n == name).count() > 1 {
            return Err(BadFile(format!("csv: column `{name}` appears twice")).into());
        }
    }
    for required in ["user", "service", "outcome"] {
        header.require("csv", required)?;
    }
    Ok(())
}

fn map_row(header: &Header, cells: &Cells<'_>) -> Result<Fact, FieldError> {
    let mut fields = FactFields::default();
    for (column, name) in header.names().iter().enumerate() {
        let Some(text) = cells.text(column)? else {
            continue;
        };
        let owned = Some(text.to_owned());
        match name.as_str() {
            "id" => fields.id = owned,
            "user" => fields.user = owned,
            "service" => fields.service = owned,
            "model" => fields.model = owned,
            "outcome" => {
                fields.outcome = Some(text.parse().map_err(|m| FieldError::new(name, m))?);
            }
            "error_kind" => fields.error_kind = owned,
            "error_message" => fields.error_message = owned,
            "occurred_at" => {
                fields.occurred_at = Some(
                    timestamp::parse_wire(text)
                        .map_err(|e| FieldError::new(name, e.to_string()))?,
                );
            }
            "duration_ms" => fields.duration_ms = cells.whole_number(column)?,
            quantity => {
                let q = quantity.trim_start_matches(QUANTITY_PREFIX).to_owned();
                if let Some(value) = cells.whole_number(column)? {
                    fields.quantities.insert(q, value);
                }
            }
        }
    }
    fields.finish().map(Fact::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::Outcome;

    fn read(input: &'static [u8]) -> Vec<Row> {
        rows(input)
            .expect("header is fine")
            .collect::<anyhow::Result<_>>()
            .expect("reads")
    }

    fn fact(row: &Row) -> &Fact {
        match &row.mapped {
            Mapped::Fact(f) => f,
            other => panic!("expected a fact, got {other:?}"),
        }
    }

    fn rejected_field(row: &Row) -> &str {
        match &row.mapped {
            Mapped::Rejected(e) => &e.field,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn maps_columns_in_any_order_with_quantities() {
        let rows = read(
            b"outcome,service,user,occurred_at,q.images,q.steps,error_kind,duration_ms\n\
              success,txt2img,G1,2024-11-15T16:57:50Z,4,30,,1500\n\
              failure,txt2img,G2,1731689870000,,,failed,\n",
        );
        let first = fact(&rows[0]);
        assert_eq!(first.user, "G1");
        assert_eq!(first.occurred_at, Some(1_731_689_870_000));
        assert_eq!(first.duration_ms, Some(1500));
        let quantities: Vec<_> = first
            .quantities
            .iter()
            .map(|q| (q.name.as_str(), q.value))
            .collect();
        assert_eq!(quantities, [("images", 4), ("steps", 30)]);
        let second = fact(&rows[1]);
        assert!(second.quantities.is_empty(), "empty cells are omitted");
        assert!(matches!(&second.outcome, Outcome::Failure(f) if f.kind == "failed"));
    }

    #[test]
    fn bad_cells_reject_their_row_naming_the_column() {
        let rows = read(
            b"user,service,outcome,q.images,occurred_at\n\
              u,s,success,four,\n\
              u,s,maybe,,\n\
              u,s,success,,2024-13-01T00:00:00Z\n\
              ,s,success,,\n\
              u,s,success,2.0,\n\
              u,\xc3\x28,success,,\n",
        );
        let fields: Vec<_> = rows[..4].iter().map(rejected_field).collect();
        assert_eq!(fields, ["q.images", "outcome", "occurred_at", "user"]);
        assert_eq!(fact(&rows[4]).quantities[0].value, 2);
        assert_eq!(rejected_field(&rows[5]), "service");
    }

    #[test]
    fn header_mistakes_refuse_the_file() {
        assert!(rows(&b"user,service,outcome,colour\n"[..]).is_err());
        assert!(rows(&b"user,service\n"[..]).is_err());
        assert!(rows(&b"user,service,outcome,user\n"[..]).is_err());
        assert!(rows(&b"user,service,outcome,q.\n"[..]).is_err());
    }
}
