//! Reading CSV the way every CSV format here needs it: a header looked up by name,
//! records as bytes so a non-UTF-8 cell rejects its row instead of the file, and
//! cells typed with errors that name their column.

use std::io::Read;

use anyhow::Context;

use super::{BadFile, MAX_ROW_BYTES, Mapped, Row};
use crate::wire::FieldError;

/// Column names from the header row, looked up by name so column order does not matter.
#[derive(Debug, Clone)]
pub struct Header {
    names: Vec<String>,
}

impl Header {
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The column's index, or a file-level error naming the format and the column.
    pub fn require(&self, format: &str, name: &str) -> anyhow::Result<usize> {
        match self.index(name) {
            Some(i) => Ok(i),
            None => Err(BadFile(format!(
                "{format}: the header has no `{name}` column (found: {})",
                self.names.join(", ")
            ))
            .into()),
        }
    }
}

/// One record's cells, each read through its column name.
pub struct Cells<'a> {
    record: &'a ::csv::ByteRecord,
    header: &'a Header,
}

impl<'a> Cells<'a> {
    /// The raw bytes of every cell, for deriving row ids.
    pub fn raw(&self) -> impl Iterator<Item = &'a [u8]> {
        self.record.iter()
    }

    /// One cell's raw bytes (empty when the column is absent).
    pub fn raw_cell(&self, column: usize) -> &'a [u8] {
        self.record.get(column).unwrap_or_default()
    }

    /// The cell's text, `None` when empty (after trimming) or the column is absent.
    pub fn text(&self, column: usize) -> Result<Option<&'a str>, FieldError> {
        let Some(bytes) = self.record.get(column) else {
            return Ok(None);
        };
        let text = std::str::from_utf8(bytes)
            .map_err(|e| FieldError::new(self.name(column), format!("not valid UTF-8 ({e})")))?
            .trim();
        Ok((!text.is_empty()).then_some(text))
    }

    /// Like `text`, but an empty cell is an error.
    pub fn required_text(&self, column: usize) -> Result<&'a str, FieldError> {
        self.text(column)?
            .ok_or_else(|| FieldError::new(self.name(column), "empty"))
    }

    /// A whole number ≥ 0. Spreadsheet-style `4.0` is accepted, `4.5` is not.
    pub fn whole_number(&self, column: usize) -> Result<Option<u64>, FieldError> {
        self.text(column)?
            .map(|text| parse_whole_number(text).map_err(|m| FieldError::new(self.name(column), m)))
            .transpose()
    }

    /// The column's header name, for error messages.
    pub fn name(&self, column: usize) -> String {
        self.header
            .names
            .get(column)
            .cloned()
            .unwrap_or_else(|| format!("column {}", column + 1))
    }
}

/// Parses `812` or `812.0` (as pandas writes integer columns with gaps).
pub fn parse_whole_number(text: &str) -> Result<u64, String> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    let (whole, fraction) = text
        .split_once('.')
        .ok_or_else(|| format!("`{text}` is not a whole number ≥ 0"))?;
    if !fraction.is_empty()
        && fraction.bytes().all(|b| b == b'0')
        && let Ok(n) = whole.parse::<u64>()
    {
        return Ok(n);
    }
    Err(format!("`{text}` is not a whole number ≥ 0"))
}

/// Turns CSV records into rows, one mapping call per record.
pub struct CsvRows<R, F> {
    reader: ::csv::Reader<R>,
    header: Header,
    record: ::csv::ByteRecord,
    map: F,
}

/// Reads the header; the caller then looks its columns up and builds `map`.
pub fn read_header<R: Read>(source: R) -> anyhow::Result<(::csv::Reader<R>, Header)> {
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(true)
        .comment(None)
        .from_reader(source);
    let raw = reader.byte_headers().context("reading the CSV header")?;
    let names = raw
        .iter()
        .map(|bytes| {
            std::str::from_utf8(bytes)
                .map(|name| name.trim().trim_start_matches('\u{feff}').to_owned())
                .map_err(|_| BadFile("the CSV header is not valid UTF-8".to_owned()).into())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if names.iter().all(String::is_empty) {
        return Err(BadFile("the file is empty: expected a CSV header row".to_owned()).into());
    }
    Ok((reader, Header { names }))
}

impl<R: Read, F> CsvRows<R, F>
where
    F: FnMut(&Cells<'_>) -> Mapped,
{
    pub fn new(reader: ::csv::Reader<R>, header: Header, map: F) -> Self {
        CsvRows {
            reader,
            header,
            record: ::csv::ByteRecord::new(),
            map,
        }
    }
}

impl<R: Read, F> Iterator for CsvRows<R, F>
where
    F: FnMut(&Cells<'_>) -> Mapped,
{
    type Item = anyhow::Result<Row>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                let columns = self.header.names.len();
                let found = self.record.len();
                let bytes = self.record.as_slice().len();
                let mapped = if bytes > MAX_ROW_BYTES {
                    Mapped::Rejected(FieldError::new(
                        "row",
                        format!("longer than {MAX_ROW_BYTES} bytes; no fact is that long"),
                    ))
                } else if found != columns {
                    Mapped::Rejected(FieldError::new(
                        "row",
                        format!("expected {columns} columns, found {found}"),
                    ))
                } else {
                    (self.map)(&Cells {
                        record: &self.record,
                        header: &self.header,
                    })
                };
                Some(Ok(Row { line, mapped }))
            }
            Err(e) => Some(Err(anyhow::Error::new(e).context("reading CSV"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_accept_trailing_zero_fractions_only() {
        assert_eq!(parse_whole_number("812"), Ok(812));
        assert_eq!(parse_whole_number("1.0"), Ok(1));
        assert_eq!(parse_whole_number("30.00"), Ok(30));
        assert!(parse_whole_number("1.5").is_err());
        assert!(parse_whole_number("1.").is_err());
        assert!(parse_whole_number("-1").is_err());
        assert!(parse_whole_number("-1.0").is_err());
        assert!(parse_whole_number("abc").is_err());
        assert!(parse_whole_number("nan").is_err());
    }

    fn rows_of(text: &'static [u8]) -> Vec<Row> {
        let (reader, header) = read_header(text).expect("header reads");
        let name = header.index("name").expect("has name");
        CsvRows::new(reader, header, move |cells: &Cells<'_>| {
            match cells.required_text(name) {
                Ok(text) => Mapped::Skipped(if text == "a" { "a" } else { "other" }),
                Err(e) => Mapped::Rejected(e),
            }
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .expect("reads")
    }

    #[test]
    fn bad_bytes_short_rows_and_empty_cells_reject_only_their_row() {
        let rows = rows_of(b"name,n\na,1\n\xff\xfe,2\nb\n,3\nb,4\n");
        let lines: Vec<_> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6]);
        assert!(matches!(&rows[0].mapped, Mapped::Skipped("a")));
        assert!(
            matches!(&rows[1].mapped, Mapped::Rejected(e) if e.field == "name" && e.message.contains("UTF-8"))
        );
        assert!(matches!(&rows[2].mapped, Mapped::Rejected(e) if e.field == "row"));
        assert!(
            matches!(&rows[3].mapped, Mapped::Rejected(e) if e.field == "name" && e.message == "empty")
        );
        assert!(matches!(&rows[4].mapped, Mapped::Skipped("other")));
    }

    #[test]
    fn an_over_long_record_rejects_only_its_row() {
        let mut input = b"name,n\na,1\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_ROW_BYTES + 1));
        input.extend_from_slice(b",2\nb,3\n");
        let (reader, header) = read_header(&input[..]).expect("header reads");
        let rows: Vec<Row> = CsvRows::new(reader, header, |_: &Cells<'_>| Mapped::Skipped("ok"))
            .collect::<anyhow::Result<_>>()
            .expect("reads");
        assert_eq!(rows.len(), 3);
        assert!(matches!(&rows[1].mapped, Mapped::Rejected(e) if e.field == "row"));
        assert!(matches!(&rows[2].mapped, Mapped::Skipped("ok")));
    }

    #[test]
    fn empty_file_and_missing_columns_are_file_errors() {
        assert!(read_header(&b""[..]).is_err());
        let (_, header) = read_header(&b"a,b\n"[..]).expect("reads");
        let err = header.require("test", "c").expect_err("no c");
        assert!(err.to_string().contains("`c`"));
    }
}
