//! Human output: tables for pages, summaries, reports and imports, with readable
//! numbers. Works from the wire types, so what a person sees and what `--json`
//! prints come from the same values.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use crate::import::ImportReport;
use crate::timestamp::format_short;
use crate::wire::{
    EventJson, EventPageJson, FiguresJson, OutcomeKind, SummaryJson, SummaryRowJson,
    UsageReportJson,
};

/// A page of events, newest or oldest first as asked, and how to continue.
pub fn events_page(page: &EventPageJson) -> String {
    let mut out = events_table(&page.events);
    if let Some(cursor) = &page.next_cursor {
        let _ = write!(out, "\nmore: --cursor {cursor}");
    }
    out
}

fn events_table(events: &[EventJson]) -> String {
    if events.is_empty() {
        return "no events".to_owned();
    }
    let mut table = new_table();
    table.set_header([
        "#",
        "occurred (UTC)",
        "user",
        "service",
        "model",
        "outcome",
        "duration",
        "quantities",
    ]);
    for e in events {
        table.add_row([
            thousands(e.position),
            format_short(e.occurred_at),
            e.user.clone(),
            e.service.clone(),
            e.model.clone().unwrap_or_default(),
            outcome_label(e),
            e.duration_ms.map(duration).unwrap_or_default(),
            e.quantities
                .iter()
                .map(|(name, value)| format!("{name} {}", thousands(*value)))
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    align_right(&mut table, &[0, 6]);
    table.to_string()
}

fn outcome_label(e: &EventJson) -> String {
    match (e.outcome, &e.error_kind, &e.error_message) {
        (OutcomeKind::Success, _, _) => "success".to_owned(),
        (OutcomeKind::Failure, kind, Some(message)) => {
            format!("failure: {} ({message})", kind.as_deref().unwrap_or(""))
        }
        (OutcomeKind::Failure, kind, None) => {
            format!("failure: {}", kind.as_deref().unwrap_or(""))
        }
    }
}

/// A summary: one line per group (only the grouped dimensions get columns),
/// one column per quantity, and a totals line.
pub fn summary(summary: &SummaryJson) -> String {
    if summary.rows.is_empty() {
        return "no calls in this window".to_owned();
    }
    let dims = GroupColumns::of(&summary.rows);
    let figures = FigureColumns::of(summary);
    let mut table = new_table();
    let mut header: Vec<String> = dims.names().iter().map(|s| (*s).to_owned()).collect();
    let figures_from = header.len();
    header.extend(figures.names());
    table.set_header(header);
    for row in &summary.rows {
        let mut cells = dims.cells(row);
        cells.extend(figures.cells(&row.figures));
        table.add_row(cells);
    }
    // With no group columns the single row already is the total.
    if summary.rows.len() > 1 && figures_from > 0 {
        let mut cells = vec![String::new(); figures_from];
        cells[0] = "total".to_owned();
        cells.extend(figures.cells(&summary.totals));
        table.add_row(cells);
    }
    let right: Vec<usize> = (figures_from..figures_from + figures.count()).collect();
    align_right(&mut table, &right);
    table.to_string()
}

/// The figure columns: the fixed counts, the duration when any call reported
/// one, and one column per quantity name seen.
struct FigureColumns<'a> {
    duration: bool,
    quantities: BTreeSet<&'a str>,
}

impl<'a> FigureColumns<'a> {
    const COUNTS: [&'static str; 4] = ["calls", "successes", "failures", "users"];

    fn of(summary: &'a SummaryJson) -> FigureColumns<'a> {
        FigureColumns {
            duration: summary.totals.duration_ms > 0,
            quantities: summary
                .rows
                .iter()
                .flat_map(|r| r.figures.quantities.keys())
                .chain(summary.totals.quantities.keys())
                .map(String::as_str)
                .collect(),
        }
    }

    fn count(&self) -> usize {
        Self::COUNTS.len() + usize::from(self.duration) + self.quantities.len()
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Self::COUNTS.iter().map(|s| (*s).to_owned()).collect();
        if self.duration {
            names.push("duration".to_owned());
        }
        names.extend(self.quantities.iter().map(|q| (*q).to_owned()));
        names
    }

    fn cells(&self, f: &FiguresJson) -> Vec<String> {
        let mut cells = vec![
            thousands(f.calls),
            thousands(f.successes),
            thousands(f.failures),
            thousands(f.distinct_users),
        ];
        if self.duration {
            cells.push(duration(f.duration_ms));
        }
        cells.extend(self.quantities.iter().map(|q| {
            f.quantities
                .get(*q)
                .copied()
                .map(thousands)
                .unwrap_or_default()
        }));
        cells
    }
}

/// Which of the optional group columns the rows carry.
struct GroupColumns {
    bucket: bool,
    service: bool,
    model: bool,
    user: bool,
    outcome: bool,
}

impl GroupColumns {
    fn of(rows: &[SummaryRowJson]) -> GroupColumns {
        GroupColumns {
            bucket: rows.iter().any(|r| r.bucket_start.is_some()),
            service: rows.iter().any(|r| r.service.is_some()),
            model: rows.iter().any(|r| r.model.is_some()),
            user: rows.iter().any(|r| r.user.is_some()),
            outcome: rows.iter().any(|r| r.outcome.is_some()),
        }
    }

    fn names(&self) -> Vec<&'static str> {
        [
            (self.bucket, "from (UTC)"),
            (self.service, "service"),
            (self.model, "model"),
            (self.user, "user"),
            (self.outcome, "outcome"),
        ]
        .into_iter()
        .filter_map(|(shown, name)| shown.then_some(name))
        .collect()
    }

    fn cells(&self, row: &SummaryRowJson) -> Vec<String> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut cells = Vec::new();
        if self.bucket {
            cells.push(row.bucket_start.map(format_bucket).unwrap_or_default());
        }
        if self.service {
            cells.push(text(&row.service));
        }
        if self.model {
            // A fact without a model groups under "".
            cells.push(match row.model.as_deref() {
                Some("") => "(none)".to_owned(),
                other => other.unwrap_or_default().to_owned(),
            });
        }
        if self.user {
            cells.push(text(&row.user));
        }
        if self.outcome {
            cells.push(text(&row.outcome));
        }
        cells
    }
}

/// Bucket starts without the always-zero seconds and milliseconds.
fn format_bucket(ms: u64) -> String {
    format_short(ms).chars().take(16).collect()
}

/// One user's report: their summary, then their newest events.
/// `city` only shapes the hint for continuing with `usage events`.
pub fn usage_report(report: &UsageReportJson, city: &str) -> String {
    let mut out = format!("usage of {}\n", report.user);
    out.push_str(&summary(&report.summary));
    if !report.recent.is_empty() {
        let _ = write!(out, "\n\nnewest {} events\n", report.recent.len());
        out.push_str(&events_table(&report.recent));
    }
    if let Some(cursor) = &report.next_cursor {
        let _ = write!(
            out,
            "\nolder: usage events --city {city} --user {} --cursor {cursor}",
            report.user
        );
    }
    out
}

/// What an import did, with the first rejected rows by line.
pub fn import_report(report: &ImportReport, source: &str) -> String {
    let mut table = new_table();
    table.set_header(["", "rows"]);
    table.add_row(["imported".to_owned(), thousands(report.imported)]);
    table.add_row([
        "duplicates (counted before)".to_owned(),
        thousands(report.duplicates),
    ]);
    if report.not_recorded > 0 {
        table.add_row([
            "not recorded (record_errors is off)".to_owned(),
            thousands(report.not_recorded),
        ]);
    }
    for skip in &report.skipped {
        table.add_row([format!("skipped: {}", skip.reason), thousands(skip.rows)]);
    }
    table.add_row(["rejected".to_owned(), thousands(report.rejected)]);
    align_right(&mut table, &[1]);
    let mut out = format!(
        "{source} ({}): {} rows read\n{table}",
        report.format,
        thousands(report.rows)
    );
    for r in &report.rejections {
        let _ = match &r.field {
            Some(field) => write!(out, "\n  line {}: {field}: {}", r.line, r.message),
            None => write!(out, "\n  line {}: {}", r.line, r.message),
        };
    }
    let unlisted = report
        .rejected
        .saturating_sub(report.rejections.len() as u64);
    if unlisted > 0 {
        let _ = write!(out, "\n  … and {} more rejected rows", thousands(unlisted));
    }
    out
}

fn new_table() -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table
}

fn align_right(table: &mut Table, columns: &[usize]) {
    for i in columns {
        if let Some(column) = table.column_mut(*i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A duration as a person reads it: `850 ms`, `41.2 s`, `12m 05s`, `3h 12m`, `5d 03h`.
pub fn duration(ms: u64) -> String {
    const SECOND: u64 = 1000;
    const MINUTE: u64 = 60 * SECOND;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    match ms {
        ms if ms < SECOND => format!("{ms} ms"),
        ms if ms < MINUTE => format!("{}.{} s", ms / SECOND, ms % SECOND / 100),
        ms if ms < HOUR => format!("{}m {:02}s", ms / MINUTE, ms % MINUTE / SECOND),
        ms if ms < DAY => format!("{}h {:02}m", ms / HOUR, ms % HOUR / MINUTE),
        ms => format!("{}d {:02}h", thousands(ms / DAY), ms % DAY / HOUR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0), "0 ms");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(41_250), "41.2 s");
        assert_eq!(duration(725_000), "12m 05s");
        assert_eq!(duration(3 * 3_600_000 + 12 * 60_000), "3h 12m");
        assert_eq!(duration(5 * 86_400_000 + 3 * 3_600_000), "5d 03h");
    }

    fn figures(calls: u64, tokens: u64) -> FiguresJson {
        FiguresJson {
            calls,
            successes: calls,
            failures: 0,
            duration_ms: 0,
            distinct_users: 1,
            quantities: BTreeMap::from([("input_tokens".to_owned(), tokens)]),
        }
    }

    fn row(service: &str, calls: u64, tokens: u64) -> SummaryRowJson {
        SummaryRowJson {
            bucket_start: None,
            service: Some(service.to_owned()),
            model: None,
            user: None,
            outcome: None,
            figures: figures(calls, tokens),
        }
    }

    #[test]
    fn summary_shows_grouped_columns_quantities_and_totals() {
        let text = summary(&SummaryJson {
            rows: vec![row("code", 1000, 2_048_000), row("conversation", 2000, 12)],
            totals: figures(3000, 2_048_012),
        });
        assert!(text.contains("service"), "{text}");
        assert!(!text.contains("model"), "{text}");
        assert!(text.contains("input_tokens"), "{text}");
        assert!(text.contains("2,048,000"), "{text}");
        assert!(text.contains("total"), "{text}");
        assert!(text.contains("3,000"), "{text}");
    }

    #[test]
    fn empty_summary_and_page_say_so() {
        let empty = SummaryJson {
            rows: vec![],
            totals: figures(0, 0),
        };
        assert_eq!(summary(&empty), "no calls in this window");
        let page = EventPageJson {
            events: vec![],
            next_cursor: None,
        };
        assert_eq!(events_page(&page), "no events");
    }

    #[test]
    fn import_report_lists_skips_and_rejections() {
        let report = ImportReport {
            format: "genai".to_owned(),
            rows: 26_823,
            imported: 26_790,
            skipped: vec![crate::import::SkipCount {
                reason: "PENDING/PROCESSING never finished".to_owned(),
                rows: 33,
            }],
            rejected: 22,
            rejections: vec![crate::import::Rejection {
                line: 7,
                field: Some("predict_status".to_owned()),
                message: "unknown status `DONE`".to_owned(),
            }],
            ..ImportReport::default()
        };
        let text = import_report(&report, "genai-requests.csv");
        assert!(text.contains("26,823 rows read"), "{text}");
        assert!(
            text.contains("skipped: PENDING/PROCESSING never finished"),
            "{text}"
        );
        assert!(
            text.contains("line 7: predict_status: unknown status"),
            "{text}"
        );
        assert!(text.contains("and 21 more"), "{text}");
    }
}
