//! JSONL: one wire fact per line (see `wire::FactJson`). Blank lines are ignored;
//! a line that is not UTF-8, not a valid fact, or longer than any fact can be
//! (`MAX_ROW_BYTES`, read no further than that) is rejected on its own.

use std::io::{BufRead, BufReader, Read};

use anyhow::Context;

use super::{MAX_ROW_BYTES, Mapped, Row};
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
            let whole = match read_line_bounded(&mut self.reader, &mut self.buf, MAX_ROW_BYTES) {
                Ok(None) => return None,
                Ok(Some(whole)) => whole,
                Err(e) => {
                    return Some(Err(e).with_context(|| format!("reading line {}", self.line + 1)));
                }
            };
            self.line += 1;
            if !whole {
                let why = format!("longer than {MAX_ROW_BYTES} bytes; no fact is that long");
                return Some(Ok(Row {
                    line: self.line,
                    mapped: Mapped::Rejected(FieldError::new("line", why)),
                }));
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

/// Reads one line into `buf`, keeping at most `max` bytes of it: `None` at the
/// end of input, `Some(false)` if the line was longer (the rest is skipped).
fn read_line_bounded(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    let mut seen_any = false;
    let mut whole = true;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(seen_any.then_some(whole));
        }
        seen_any = true;
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(end) => (&available[..=end], true),
            None => (available, false),
        };
        let room = max.saturating_sub(buf.len());
        if chunk.len() > room {
            whole = false;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len();
        reader.consume(used);
        if done {
            return Ok(Some(whole));
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
    fn an_over_long_line_is_rejected_without_reading_it_whole() {
        let good = b"{\"user\":\"u\",\"service\":\"s\",\"outcome\":\"success\"}\n";
        let mut input = good.to_vec();
        input.extend(std::iter::repeat_n(b'x', 3 * MAX_ROW_BYTES));
        input.push(b'\n');
        input.extend_from_slice(good);
        input.extend(std::iter::repeat_n(b'y', MAX_ROW_BYTES + 1)); // no final newline
        let rows: Vec<Row> = rows(&input[..])
            .collect::<anyhow::Result<_>>()
            .expect("reads");
        let lines: Vec<_> = rows
            .iter()
            .map(|r| match &r.mapped {
                Mapped::Rejected(e) => (r.line, e.field.as_str()),
                _ => (r.line, "ok"),
            })
            .collect();
        assert_eq!(lines, [(1, "ok"), (2, "line"), (3, "ok"), (4, "line")]);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read() {
        let mut buf = Vec::new();
        let mut input = vec![b'a'; 9];
        input.push(b'\n');
        let mut reader = BufReader::with_capacity(4, &input[..]);
        assert_eq!(
            read_line_bounded(&mut reader, &mut buf, 10).expect("reads"),
            Some(true)
        );
        assert_eq!(buf, input);
        buf.clear();
        assert_eq!(
            read_line_bounded(&mut reader, &mut buf, 10).expect("reads"),
            None
        );
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
