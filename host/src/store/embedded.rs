//! `redb:PATH` — the default store, one embedded redb file. Table `kv` holds
//! every city's keys (namespace-encoded), table `cities` the registered cities.
//! A commit is one write transaction with immediate durability, validating the
//! call's reads inside it unless no commit has happened since its snapshot.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{
    Database, DatabaseError, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase,
    ReadableTable, TableDefinition,
};

use super::namespace::Namespace;
use super::{Backend, ReadSet, Snapshot, StoreError, Write, WriteSet, validate};

/// redb's page cache. Its default (1 GiB) made a long import's resident memory
/// grow past a gigabyte; the hot part of the layout (recent cells, lists) is
/// far smaller.
const CACHE_BYTES: usize = 128 << 20;

const KV: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");
const CITIES: TableDefinition<&str, ()> = TableDefinition::new("cities");

pub struct RedbBackend {
    db: Database,
    path: PathBuf,
    /// A sequence count of commits: odd while one is running, bumped twice by
    /// each. The file is this handle's alone (redb locks it), so a snapshot
    /// taken at an even count equal to the count when a commit starts has
    /// seen every commit there is: its reads cannot have changed, and the
    /// commit skips re-reading them (most of an import's validation cost).
    commits: AtomicU64,
}

impl RedbBackend {
    /// Opens (or creates) the store file, creating its directory if needed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen => StoreError::Backend(format!(
                    "{} is already in use by another process or handle (a running `usage serve`?): \
                     the embedded store serves one process at a time; stop it, or send \
                     reads through its HTTP API, or share a redis:// store",
                    path.display()
                )),
                e => StoreError::Backend(format!("cannot open {}: {e}", path.display())),
            })?;
        // Create both tables up front so read transactions always find them.
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(KV).map_err(backend)?;
        txn.open_table(CITIES).map_err(backend)?;
        txn.commit().map_err(backend)?;
        Ok(Self {
            db,
            path: path.to_owned(),
            commits: AtomicU64::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

struct RedbSnapshot {
    ns: Namespace,
    version: u64,
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
    // Keeps the snapshot pinned for as long as the table is used.
    _txn: ReadTransaction,
}

impl Snapshot for RedbSnapshot {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        get(&self.table, &self.ns, key)
    }

    fn keys(&self) -> Result<BTreeSet<String>, StoreError> {
        keys(&self.table, &self.ns)
    }

    fn version(&self) -> Option<u64> {
        Some(self.version)
    }
}

impl Backend for RedbBackend {
    fn snapshot(&self, city: &str) -> Result<Box<dyn Snapshot>, StoreError> {
        let ns = Namespace::new(city)?;
        // Read the count before the snapshot: a commit that lands in between
        // makes the count differ, never the other way round.
        let version = self.commits.load(Ordering::SeqCst);
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(KV).map_err(backend)?;
        Ok(Box::new(RedbSnapshot {
            ns,
            version,
            table,
            _txn: txn,
        }))
    }

    fn commit(&self, city: &str, reads: &ReadSet, writes: &WriteSet) -> Result<(), StoreError> {
        let ns = Namespace::new(city)?;
        let mut txn = self.db.begin_write().map_err(backend)?;
        // Holding the write transaction: no other commit runs now.
        let seen = self.commits.load(Ordering::SeqCst);
        let unchanged = seen.is_multiple_of(2) && reads.snapshot_version == Some(seen);
        let _running = CommitRunning::start(&self.commits);
        txn.set_durability(Durability::Immediate).map_err(backend)?;
        {
            let mut kv = txn.open_table(KV).map_err(backend)?;
            if !unchanged {
                validate(reads, |key| get(&kv, &ns, key), || keys(&kv, &ns))?;
            }
            for (key, write) in writes {
                let stored = ns.key(key);
                match write {
                    Write::Put(value) => kv.insert(stored.as_slice(), value.as_slice()),
                    Write::Delete => kv.remove(stored.as_slice()).map(|_| None),
                }
                .map_err(backend)?;
            }
            if !writes.is_empty() {
                let mut cities = txn.open_table(CITIES).map_err(backend)?;
                cities.insert(city, ()).map_err(backend)?;
            }
        }
        txn.commit().map_err(backend)
    }

    fn cities(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(CITIES).map_err(backend)?;
        let mut out = Vec::new();
        for entry in table.range(..).map_err(backend)? {
            let (city, _) = entry.map_err(backend)?;
            out.push(city.value().to_owned());
        }
        Ok(out)
    }
}

/// Marks a commit as running in the count (odd) until dropped, whether it
/// succeeded or not.
struct CommitRunning<'a>(&'a AtomicU64);

impl<'a> CommitRunning<'a> {
    fn start(commits: &'a AtomicU64) -> Self {
        commits.fetch_add(1, Ordering::SeqCst);
        CommitRunning(commits)
    }
}

impl Drop for CommitRunning<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn get(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    ns: &Namespace,
    key: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let stored = ns.key(key);
    let value = table.get(stored.as_slice()).map_err(backend)?;
    Ok(value.map(|guard| guard.value().to_vec()))
}

fn keys(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    ns: &Namespace,
) -> Result<BTreeSet<String>, StoreError> {
    let mut out = BTreeSet::new();
    for entry in table.range(ns.prefix()..).map_err(backend)? {
        let (stored, _) = entry.map_err(backend)?;
        let Some(key) = ns.strip(stored.value()) else {
            break;
        };
        let key = std::str::from_utf8(key)
            .map_err(|_| StoreError::Backend("a stored key is not UTF-8".to_owned()))?;
        out.insert(key.to_owned());
    }
    Ok(out)
}

fn backend(err: impl Display) -> StoreError {
    StoreError::Backend(err.to_string())
}
