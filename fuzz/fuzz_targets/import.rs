//! The importers (JSONL, CSV and the two trace presets, or format detection):
//! any file either is refused as a whole, or imports with every row accounted
//! for exactly once (imported, skipped or rejected by line), rejections in line
//! order, and batches within their size limits. Never a panic or a hang.

#![no_main]

use std::cell::RefCell;

use indicatif::ProgressBar;
use libfuzzer_sys::fuzz_target;
use usage_host::bindings::{Fact, Receipt, ReceiptStatus, UsageError};
use usage_host::import::{self, BATCH_SIZE, Format, Options, Recorder, Source};

/// Accepts every fact, remembering the batch sizes.
#[derive(Default)]
struct Accept {
    batches: RefCell<Vec<usize>>,
}

impl Recorder for Accept {
    fn record_batch(&self, facts: Vec<Fact>) -> anyhow::Result<Vec<Result<Receipt, UsageError>>> {
        self.batches.borrow_mut().push(facts.len());
        Ok(facts
            .iter()
            .map(|_| {
                Ok(Receipt {
                    status: ReceiptStatus::Recorded,
                    position: None,
                    recorded_at: None,
                })
            })
            .collect())
    }
}

fuzz_target!(|data: &[u8]| {
    let [choice, file @ ..] = data else {
        return;
    };
    let format = match choice % 5 {
        0 => None,
        1 => Some(Format::Jsonl),
        2 => Some(Format::Csv),
        3 => Some(Format::Genai),
        _ => Some(Format::AzureLlm),
    };
    let name = if choice & 0x80 != 0 {
        "trace.jsonl"
    } else {
        "AzureLLMInferenceTrace_conv.csv"
    };
    let source = Source {
        name: name.to_owned(),
        len: Some(file.len() as u64),
        reader: Box::new(std::io::Cursor::new(file.to_vec())),
    };
    let recorder = Accept::default();
    let options = Options {
        format,
        ..Options::default()
    };
    let Ok(report) = import::import(&recorder, source, &options, &ProgressBar::hidden()) else {
        return;
    };
    let skipped: u64 = report.skipped.iter().map(|s| s.rows).sum();
    assert_eq!(
        report.rows,
        report.imported + report.duplicates + report.not_recorded + skipped + report.rejected,
        "{report:?}"
    );
    let batches = recorder.batches.borrow();
    assert_eq!(batches.iter().sum::<usize>() as u64, report.imported);
    assert!(batches.iter().all(|n| (1..=BATCH_SIZE).contains(n)), "{batches:?}");
    assert_eq!(
        report.rejections.len() as u64,
        report.rejected.min(import::LISTED_REJECTIONS as u64)
    );
    assert!(
        report.rejections.windows(2).all(|w| w[0].line < w[1].line),
        "rejections out of line order: {:?}",
        report.rejections
    );
});
