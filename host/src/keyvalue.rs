//! The host side of `wasi:keyvalue@0.2.0-draft`. The only bucket an instance can
//! open is `""`, its own city's namespace; every operation goes through the
//! call's transaction (`CallTxn`), so nothing is stored until the call commits.

use wasmtime::component::{HasData, Linker, Resource, ResourceTable, ResourceTableError};

use crate::bindings::wasi_keyvalue::{atomics, batch, store};
use crate::store::{CallTxn, StoreError};

/// The bucket resource. It carries nothing: an instance reaches its own city only.
pub struct Bucket {
    _private: (),
}

/// What a keyvalue function returns instead of a value: an error the guest
/// sees, or a trap for host-side bugs.
pub enum KvError {
    NoSuchStore,
    Store(StoreError),
    Trap(wasmtime::Error),
}

impl From<StoreError> for KvError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl From<ResourceTableError> for KvError {
    fn from(err: ResourceTableError) -> Self {
        Self::Trap(err.into())
    }
}

/// The view the generated host traits are implemented on: the call's
/// transaction and the store's resource table.
pub struct KeyValue<'a> {
    txn: &'a mut CallTxn,
    table: &'a mut ResourceTable,
}

impl<'a> KeyValue<'a> {
    pub fn new(txn: &'a mut CallTxn, table: &'a mut ResourceTable) -> Self {
        Self { txn, table }
    }

    /// Checks that the handle is a live bucket of this instance.
    fn bucket(&self, bucket: &Resource<Bucket>) -> Result<(), KvError> {
        self.table.get(bucket)?;
        Ok(())
    }
}

struct HasKeyValue;

impl HasData for HasKeyValue {
    type Data<'a> = KeyValue<'a>;
}

/// Adds the `store`, `atomics` and `batch` interfaces to `linker`.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> KeyValue<'_>,
) -> wasmtime::Result<()> {
    store::add_to_linker::<T, HasKeyValue>(linker, get)?;
    atomics::add_to_linker::<T, HasKeyValue>(linker, get)?;
    batch::add_to_linker::<T, HasKeyValue>(linker, get)?;
    Ok(())
}

impl store::Host for KeyValue<'_> {
    fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, KvError> {
        if !identifier.is_empty() {
            return Err(KvError::NoSuchStore);
        }
        Ok(self.table.push(Bucket { _private: () })?)
    }

    fn convert_error(&mut self, err: KvError) -> wasmtime::Result<store::Error> {
        match err {
            KvError::NoSuchStore => Ok(store::Error::NoSuchStore),
            KvError::Store(err) => Ok(store::Error::Other(err.to_string())),
            KvError::Trap(err) => Err(err),
        }
    }
}

impl store::HostBucket for KeyValue<'_> {
    fn get(&mut self, bucket: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, KvError> {
        self.bucket(&bucket)?;
        Ok(self.txn.get(&key)?)
    }

    fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), KvError> {
        self.bucket(&bucket)?;
        self.txn.set(key, value);
        Ok(())
    }

    fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<(), KvError> {
        self.bucket(&bucket)?;
        self.txn.delete(key);
        Ok(())
    }

    fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> Result<bool, KvError> {
        self.bucket(&bucket)?;
        Ok(self.txn.exists(&key)?)
    }

    fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse, KvError> {
        self.bucket(&bucket)?;
        let (keys, cursor) = self.txn.list_keys(cursor)?;
        Ok(store::KeyResponse { keys, cursor })
    }

    fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KeyValue<'_> {
    fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64, KvError> {
        self.bucket(&bucket)?;
        Ok(self.txn.increment(&key, delta)?)
    }
}

impl batch::Host for KeyValue<'_> {
    fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
        self.bucket(&bucket)?;
        let values = self.txn.get_many(&keys)?;
        Ok(keys
            .into_iter()
            .zip(values)
            .map(|(key, value)| value.map(|value| (key, value)))
            .collect())
    }

    fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), KvError> {
        self.bucket(&bucket)?;
        for (key, value) in key_values {
            self.txn.set(key, value);
        }
        Ok(())
    }

    fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Result<(), KvError> {
        self.bucket(&bucket)?;
        for key in keys {
            self.txn.delete(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::MemoryBackend;
    use atomics::Host as _;
    use batch::Host as _;
    use store::{Host as _, HostBucket as _};

    fn txn() -> CallTxn {
        CallTxn::begin(Arc::new(MemoryBackend::new()), "c").expect("begin")
    }

    fn open(kv: &mut KeyValue<'_>) -> Resource<Bucket> {
        match kv.open(String::new()) {
            Ok(bucket) => bucket,
            Err(_) => panic!("open failed"),
        }
    }

    fn guest_error(kv: &mut KeyValue<'_>, err: KvError) -> store::Error {
        kv.convert_error(err).expect("not a trap")
    }

    #[test]
    fn only_the_default_bucket_opens() {
        let (mut txn, mut table) = (txn(), ResourceTable::new());
        let mut kv = KeyValue::new(&mut txn, &mut table);
        open(&mut kv);
        for other in ["c", "other", " "] {
            let Err(err) = kv.open(other.to_owned()) else {
                panic!("{other:?} opened");
            };
            assert!(matches!(
                guest_error(&mut kv, err),
                store::Error::NoSuchStore
            ));
        }
    }

    #[test]
    fn get_many_pairs_keys_with_values_in_order() {
        let (mut txn, mut table) = (txn(), ResourceTable::new());
        let mut kv = KeyValue::new(&mut txn, &mut table);
        let bucket = open(&mut kv);
        let put = vec![
            ("a".to_owned(), b"1".to_vec()),
            ("c".to_owned(), b"3".to_vec()),
        ];
        assert!(kv.set_many(Resource::new_borrow(bucket.rep()), put).is_ok());
        let keys = ["c", "b", "a"].map(str::to_owned).to_vec();
        let Ok(got) = kv.get_many(Resource::new_borrow(bucket.rep()), keys) else {
            panic!("get-many failed");
        };
        assert_eq!(
            got,
            vec![
                Some(("c".to_owned(), b"3".to_vec())),
                None,
                Some(("a".to_owned(), b"1".to_vec()))
            ]
        );
        assert!(
            kv.delete_many(Resource::new_borrow(bucket.rep()), vec!["a".into()])
                .is_ok()
        );
        assert!(matches!(
            kv.exists(Resource::new_borrow(bucket.rep()), "a".into()),
            Ok(false)
        ));
        assert!(kv.drop(bucket).is_ok());
    }

    #[test]
    fn increment_errors_reach_the_guest_as_other() {
        let (mut txn, mut table) = (txn(), ResourceTable::new());
        let mut kv = KeyValue::new(&mut txn, &mut table);
        let bucket = open(&mut kv);
        assert!(
            kv.set(
                Resource::new_borrow(bucket.rep()),
                "n".into(),
                b"x".to_vec()
            )
            .is_ok()
        );
        let Err(err) = kv.increment(Resource::new_borrow(bucket.rep()), "n".into(), 1) else {
            panic!("incremented a non-number");
        };
        assert!(matches!(guest_error(&mut kv, err), store::Error::Other(_)));
        assert!(txn.failure().is_some());
    }

    #[test]
    fn list_keys_reports_a_cursor_only_when_more_remain() {
        let (mut txn, mut table) = (txn(), ResourceTable::new());
        let mut kv = KeyValue::new(&mut txn, &mut table);
        let bucket = open(&mut kv);
        for i in 0..3 {
            assert!(
                kv.set(Resource::new_borrow(bucket.rep()), format!("k{i}"), vec![])
                    .is_ok()
            );
        }
        let Ok(page) = kv.list_keys(Resource::new_borrow(bucket.rep()), None) else {
            panic!("list-keys failed");
        };
        assert_eq!((page.keys.len(), page.cursor), (3, None));
        let Ok(page) = kv.list_keys(Resource::new_borrow(bucket.rep()), Some(2)) else {
            panic!("list-keys failed");
        };
        assert_eq!((page.keys, page.cursor), (vec!["k2".to_owned()], None));
    }
}
