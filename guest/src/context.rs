//! What one export call works with: the city's storage, its name and the time.

use crate::kv::{Kv, KvError};
use crate::model::{Timestamp, UsageError};

pub struct Ctx<'a, K: Kv + ?Sized> {
    pub kv: &'a K,
    /// The city of this instance; set by the host, never by a caller.
    pub city: &'a str,
    pub now: Timestamp,
}

impl From<KvError> for UsageError {
    fn from(e: KvError) -> Self {
        UsageError::Storage(e.0)
    }
}
