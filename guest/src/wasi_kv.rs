//! [`Kv`] over the standard `wasi:keyvalue@0.2.0-draft` imports.

use crate::bindings::wasi::keyvalue::{atomics, batch, store};
use crate::kv::{Kv, KvError, KvResult};

/// The city's bucket. The host maps the default identifier `""` to this
/// instance's city; the handle is opened once per instance and kept (wasmtime's
/// own in-memory host only keeps writes within one handle).
pub struct WasiKv {
    bucket: store::Bucket,
}

impl WasiKv {
    pub fn open() -> KvResult<WasiKv> {
        Ok(WasiKv {
            bucket: store::open("").map_err(err)?,
        })
    }
}

fn err(e: store::Error) -> KvError {
    KvError(match e {
        store::Error::NoSuchStore => "no such store".to_owned(),
        store::Error::AccessDenied => "access denied".to_owned(),
        store::Error::Other(m) => m,
    })
}

impl Kv for WasiKv {
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let found = batch::get_many(&self.bucket, keys).map_err(err)?;
        Ok(found.into_iter().map(|kv| kv.map(|(_, v)| v)).collect())
    }

    fn set_many(&self, items: Vec<(String, Vec<u8>)>) -> KvResult<()> {
        batch::set_many(&self.bucket, &items).map_err(err)
    }

    fn increment(&self, key: &str, delta: u64) -> KvResult<u64> {
        atomics::increment(&self.bucket, key, delta).map_err(err)
    }
}
