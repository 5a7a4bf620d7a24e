//! The commit of one call as a single Lua script (`commit.lua`): one round trip
//! that validates the read set and applies the write set atomically. Sent as
//! `EVALSHA`, falling back to loading the script once per server.

use std::sync::LazyLock;

use redis::{Script, ScriptInvocation};

use super::super::{ReadSet, Write, WriteSet};
use super::layout::CityKeys;

static COMMIT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("commit.lua")));

/// What the script answers.
pub(super) const APPLIED: i64 = 1;
pub(super) const CONFLICT: i64 = 0;

/// The script call for one commit; see `commit.lua` for the argument layout.
pub(super) fn invocation(
    city: &CityKeys,
    reads: &ReadSet,
    writes: &WriteSet,
) -> ScriptInvocation<'static> {
    let (present, absent): (Vec<_>, Vec<_>) =
        reads.values.iter().partition(|(_, seen)| seen.is_some());
    let (puts, deletes): (Vec<_>, Vec<_>) = writes
        .iter()
        .partition(|(_, write)| matches!(write, Write::Put(_)));
    let listed = reads.keys.as_ref();

    let mut call = COMMIT.prepare_invoke();
    call.arg(present.len())
        .arg(absent.len())
        .arg(listed.map_or(-1, |keys| i64::try_from(keys.len()).unwrap_or(i64::MAX)))
        .arg(puts.len())
        .arg(deletes.len())
        .arg(city.pattern());
    let keys = present
        .iter()
        .chain(&absent)
        .map(|(key, _)| *key)
        .chain(listed.into_iter().flatten())
        .chain(puts.iter().chain(&deletes).map(|(key, _)| *key));
    for key in keys {
        call.key(city.key(key));
    }
    for (_, seen) in &present {
        call.arg(seen.as_deref().unwrap_or_default());
    }
    for (_, write) in &puts {
        if let Write::Put(value) = write {
            call.arg(value.as_slice());
        }
    }
    call
}
