//! JSONL: one wire fact per line (see `wire::FactJson`). Blank lines are ignored;
//! a line that is not UTF-8 or not a valid fact is rejected on its own.

use std::io::{BufRead, BufReader, Read};

use anyhow::Context;

use super::{Mapped, Row};
use crate::bindings::Fact;
use crate::wire::{FactJson, FieldError};

pub fn rows(reader: impl Read) -> impl Iterator<Item = anyhow::Result<Row>> {
    JsonlRows {
        reader: BufReader::new(reader),
        line: 0,
        buf: Vec::new(),
    }
}

struct JsonlRows<R> {
    reader: BufReader<R>,
    line: u64,
    buf: Vec<u8>,
}

impl<R: Read> Iterator for JsonlRows<R> {
    type Item = anyhow::Result<Row>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => self.line += 1,
                Err(e) => {
                    return Some(Err(e).with_context(|| format!("reading line {}", self.line + 1)));
                }
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Ok(Row {
                line: self.line,
                mapped: map_line(&self.buf),
            }));
        }
    }
}

fn map_line(bytes: &[u8]) -> Mapped {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            return Mapped::Rejected(FieldError::new("line", format!("not valid UTF-8 ({e})")));
        }
    };
    match FactJson::from_json_str(text.trim_start_matches('\u{feff}')) {
        Ok(fact) => Mapped::Fact(Box::new(Fact::from(fact))),
        Err(e) => Mapped::Rejected(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::Outcome;

    fn read(input: &'static [u8]) -> Vec<Row> {
        rows(input).collect::<anyhow::Result<_>>().expect("reads")
    }

    #[test]
    fn maps_facts_and_keeps_line_numbers_across_blank_lines() {
        let rows = read(
            b"{\"user\":\"u\",\"service\":\"chat\",\"outcome\":\"success\",\"quantities\":{\"input_tokens\":812}}\n\
              \n\
              {\"user\":\"u\",\"service\":\"chat\",\"outcome\":\"failure\",\"error_kind\":\"timeout\"}\r\n",
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].line, 3);
        let Mapped::Fact(first) = &rows[0].mapped else {
            panic!("expected a fact");
        };
        assert_eq!(first.quantities[0].name, "input_tokens");
        assert_eq!(first.quantities[0].value, 812);
        let Mapped::Fact(second) = &rows[1].mapped else {
            panic!("expected a fact");
        };
        assert!(matches!(&second.outcome, Outcome::Failure(f) if f.kind == "timeout"));
    }

    #[test]
    fn bad_lines_are_rejected_alone() {
        let rows = read(
            b"{\"user\":\"u\",\"service\":\"s\",\"outcome\":\"success\",\"extra\":1}\n\
              {\"user\":\"\xff\",\"service\":\"s\",\"outcome\":\"success\"}\n\
              {\"user\":\"u\",\"service\":\"s\",\"outcome\":\"success\",\"duration_ms\":\"5\"}\n\
              {truncated\n\
              {\"user\":\"u\",\"service\":\"s\",\"outcome\":\"success\"}",
        );
        let fields: Vec<_> = rows
            .iter()
            .map(|r| match &r.mapped {
                Mapped::Rejected(e) => e.field.as_str(),
                Mapped::Fact(_) => "ok",
                Mapped::Skipped(_) => "skipped",
            })
            .collect();
        assert_eq!(fields, ["extra", "line", "duration_ms", "json", "ok"]);
        assert_eq!(rows[4].line, 5);
    }
}
