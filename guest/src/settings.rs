//! Per-city settings, stored in the city's own bucket (see `layout.rs`), so a
//! host providing nothing but `wasi:keyvalue` can keep them.

use crate::context::Ctx;
use crate::kv::Kv;
use crate::layout;
use crate::model::{Settings, UsageResult};

pub fn get<K: Kv + ?Sized>(cx: &Ctx<K>) -> UsageResult<Settings> {
    Ok(parse(cx.kv.get(layout::RECORD_ERRORS)?.as_deref()))
}

pub fn set<K: Kv + ?Sized>(cx: &Ctx<K>, s: Settings) -> UsageResult<Settings> {
    let value = if s.record_errors { "true" } else { "false" };
    cx.kv.set_many(vec![(
        layout::RECORD_ERRORS.to_owned(),
        value.as_bytes().to_vec(),
    )])?;
    Ok(s)
}

/// Reads the stored `record_errors` value; anything but `false` keeps the default.
pub fn parse(record_errors: Option<&[u8]>) -> Settings {
    Settings {
        record_errors: record_errors != Some(b"false"),
    }
}
