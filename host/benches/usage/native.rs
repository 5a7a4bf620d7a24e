//! The guest's ingest compiled natively over the host's per-call transaction:
//! what the wasm boundary is measured against. Shared with
//! `examples/ingest_profile.rs`.

use std::cell::RefCell;
use std::sync::Arc;

use usage_guest::Ctx;
use usage_guest::kv::{Kv, KvError, KvResult};
use usage_guest::model::Fact;
use usage_host::store::{Backend, CallTxn};

/// Records `facts` with the guest's ingest logic in one transaction on
/// `backend`, committed like the runtime commits a call.
pub fn record_batch(
    backend: &Arc<dyn Backend>,
    city: &str,
    facts: Vec<Fact>,
) -> anyhow::Result<()> {
    let kv = TxnKv(RefCell::new(CallTxn::begin(backend.clone(), city)?));
    let cx = Ctx {
        kv: &kv,
        city,
        now: usage_host::timestamp::now(),
    };
    let answers = usage_guest::ingest::record_batch(&cx, facts);
    anyhow::ensure!(answers.iter().all(Result::is_ok), "a fact was rejected");
    kv.0.into_inner().commit()?;
    Ok(())
}

/// [`Kv`] over one call's transaction, as the wasm host's keyvalue does.
struct TxnKv(RefCell<CallTxn>);

fn kv_err(e: impl std::fmt::Display) -> KvError {
    KvError(e.to_string())
}

impl Kv for TxnKv {
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<Vec<u8>>>> {
        self.0.borrow_mut().get_many(keys).map_err(kv_err)
    }

    fn set_many(&self, items: Vec<(String, Vec<u8>)>) -> KvResult<()> {
        let mut txn = self.0.borrow_mut();
        for (key, value) in items {
            txn.set(key, value);
        }
        Ok(())
    }

    fn increment(&self, key: &str, delta: u64) -> KvResult<u64> {
        self.0.borrow_mut().increment(key, delta).map_err(kv_err)
    }
}
