//! The results of one run: one table on stdout, the same as Markdown sections
//! (for BENCHMARKS.md) and as JSON for machines.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::{Value, json};

/// One measured figure.
pub struct Row {
    pub section: &'static str,
    pub case: String,
    pub value: f64,
    pub unit: &'static str,
    /// Context: a second figure, the baseline, a ratio.
    pub detail: String,
}

/// A target of the issue and whether this run met it.
pub struct Target {
    pub name: String,
    pub measured: f64,
    pub goal: String,
    pub met: bool,
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn add(
        &mut self,
        section: &'static str,
        case: impl Into<String>,
        value: f64,
        unit: &'static str,
        detail: impl Into<String>,
    ) {
        let row = Row {
            section,
            case: case.into(),
            value,
            unit,
            detail: detail.into(),
        };
        eprintln!(
            "  {} | {} | {} {} | {}",
            row.section,
            row.case,
            fmt(row.value),
            row.unit,
            row.detail
        );
        self.rows.push(row);
    }

    /// Records a ratio target: met when `measured >= min` (or `<= max`).
    pub fn target(&mut self, name: impl Into<String>, measured: f64, goal: Goal) {
        let (met, goal) = match goal {
            Goal::AtLeast(min) => (measured >= min, format!(">= {min}")),
            Goal::AtMost(max) => (measured <= max, format!("<= {max}")),
        };
        self.targets.push(Target {
            name: name.into(),
            measured,
            goal,
            met,
        });
    }

    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("  note: {note}");
        self.notes.push(note);
    }

    pub fn table(&self) -> String {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(["section", "case", "value", "unit", "detail"]);
        for r in &self.rows {
            table.add_row([
                r.section.to_owned(),
                r.case.clone(),
                fmt(r.value),
                r.unit.to_owned(),
                r.detail.clone(),
            ]);
        }
        for t in &self.targets {
            let verdict = if t.met { "met" } else { "NOT met" };
            table.add_row([
                "target".to_owned(),
                t.name.clone(),
                fmt(t.measured),
                "ratio".to_owned(),
                format!("{} {verdict}", t.goal),
            ]);
        }
        let mut out = table.to_string();
        for note in &self.notes {
            let _ = write!(out, "\nnote: {note}");
        }
        out
    }

    /// One Markdown table per section, then the targets.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let mut sections: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !sections.contains(&r.section) {
                sections.push(r.section);
            }
        }
        for section in sections {
            let _ = writeln!(
                out,
                "### {section}\n\n| case | value | unit | detail |\n|---|---:|---|---|"
            );
            for r in self.rows.iter().filter(|r| r.section == section) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    r.case,
                    fmt(r.value),
                    r.unit,
                    r.detail
                );
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "### Targets\n\n| target | measured | goal | met |\n|---|---:|---|---|"
        );
        for t in &self.targets {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                t.name,
                fmt(t.measured),
                t.goal,
                if t.met { "yes" } else { "**no**" }
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n- {note}");
        }
        out
    }

    pub fn json(&self, size: &str, elapsed_s: f64) -> Value {
        json!({
            "size": size,
            "elapsed_s": elapsed_s,
            "rows": self.rows.iter().map(|r| json!({
                "section": r.section, "case": r.case, "value": r.value, "unit": r.unit, "detail": r.detail,
            })).collect::<Vec<_>>(),
            "targets": self.targets.iter().map(|t| json!({
                "name": t.name, "measured": t.measured, "goal": t.goal, "met": t.met,
            })).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }

    pub fn write(&self, dir: &Path, size: &str, elapsed_s: f64) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = serde_json::to_string_pretty(&self.json(size, elapsed_s))?;
        std::fs::write(dir.join("usage.json"), json)?;
        std::fs::write(dir.join("usage.md"), self.markdown())?;
        Ok(())
    }
}

pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

/// Three significant figures, thousands separated.
pub fn fmt(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_owned();
    }
    if v.abs() >= 1000.0 {
        let n = v.round() as i64;
        let digits = n.abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
