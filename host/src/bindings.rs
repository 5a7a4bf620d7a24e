//! Generated host bindings for the `usage` world; the rest of the crate uses the
//! re-exports below, never the generated module paths.

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "usage",
        imports: { default: trappable },
        with: {
            "wasi:keyvalue/store.bucket": crate::keyvalue::Bucket,
        },
        trappable_error_type: {
            "wasi:keyvalue/store.error" => crate::keyvalue::KvError,
        },
    });
}

pub use generated::exports::downcity::usage::query::{
    Bucket as TimeBucket, Dimension, EventPage, EventsQuery, Figures, MeQuery, Order,
    OutcomeFilter, SummaryQuery, SummaryRow, UsageReport, UsageSummary,
};
pub use generated::exports::downcity::usage::types::{
    Error as UsageError, Event, Fact, Failure, InvalidInput, Outcome, Quantity, Receipt,
    ReceiptStatus, Settings, Timestamp,
};
pub use generated::{Usage, UsagePre};

/// The generated `wasi:keyvalue` interfaces, for the host implementation only.
pub(crate) use generated::wasi::keyvalue as wasi_keyvalue;
