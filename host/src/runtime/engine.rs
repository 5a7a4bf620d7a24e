//! The wasmtime side: one engine, compiled component and `InstancePre` for the
//! whole process, and `Shared::run`, which makes a fresh sandboxed instance for
//! one call and drops it afterwards, whatever happened.

use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store,
};
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Limits;
use crate::bindings::{Usage, UsagePre};
use crate::keyvalue::{self, KeyValue};
use crate::store::{Backend, CallTxn};

pub(super) static GUEST_WASM: &[u8] = include_bytes!(env!("USAGE_GUEST_WASM"));

/// How often the epoch advances; deadlines are counted in these ticks.
const TICK: Duration = Duration::from_millis(10);
/// Instances alive at once in this process (the size of the instance pool).
const MAX_INSTANCES: u32 = 64;
/// Bytes of each pooled linear memory kept mapped between calls (see `build`).
const KEEP_RESIDENT: usize = 1 << 20;
/// Bytes of the guest's stderr kept to explain a trap (e.g. a panic message).
const STDERR_CAPACITY: usize = 8 * 1024;

/// The data of one call's store.
pub(super) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    txn: CallTxn,
    limits: MemoryCap,
}

/// The store's limits, remembering whether a memory growth was refused, so a
/// trap that follows can be explained as the call exceeding its memory cap.
struct MemoryCap {
    limits: StoreLimits,
    refused: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// What every `Runtime` of the process shares: compiling the component takes
/// a noticeable fraction of a second, and the instance pool is process-wide.
pub(super) struct Shared {
    engine: Engine,
    pre: UsagePre<CallState>,
    slots: Slots,
}

impl Shared {
    /// The process-wide instance, compiled on first use.
    pub(super) fn get() -> anyhow::Result<&'static Shared> {
        static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Shared::build().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("cannot load the usage component: {e}"))
    }

    fn build() -> anyhow::Result<Shared> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(MAX_INSTANCES)
            .total_core_instances(MAX_INSTANCES * 8)
            .total_memories(MAX_INSTANCES * 2)
            .total_tables(MAX_INSTANCES * 4)
            // A fresh instance per call reuses a pooled slot: reset only the
            // pages the last call dirtied (PAGEMAP_SCAN, Linux 6.7+; else a
            // memset of the low pages) instead of unmapping them, so the next
            // call takes no page faults for them.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(64 << 10)
            .pagemap_scan(Enabled::Auto);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(wasm_err)?;
        let component = Component::new(&engine, GUEST_WASM)
            .map_err(wasm_err)
            .context("compiling the component")?;

        let mut linker = Linker::<CallState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(wasm_err)?;
        keyvalue::add_to_linker(&mut linker, |state| {
            KeyValue::new(&mut state.txn, &mut state.table)
        })
        .map_err(wasm_err)?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(UsagePre::new)
            .map_err(wasm_err)
            .context("linking the component")?;

        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("usage-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .context("starting the epoch thread")?;

        Ok(Shared {
            engine,
            pre,
            slots: Slots::new(MAX_INSTANCES),
        })
    }

    /// Names of the component's imports.
    pub(super) fn imports(&self) -> Vec<String> {
        let ty = self.pre.instance_pre().component().component_type();
        ty.imports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    /// One fresh instance for `city`, one call of `invoke`; returns the answer
    /// and the call's uncommitted transaction (a read-only one for a call
    /// that only reads).
    pub(super) fn run<R>(
        &self,
        backend: &Arc<dyn Backend>,
        city: &str,
        limits: &Limits,
        read_only: bool,
        invoke: &impl Fn(&Usage, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> anyhow::Result<(R, CallTxn)> {
        let _slot = self.slots.acquire();
        let txn = if read_only {
            CallTxn::begin_read(backend.clone(), city)?
        } else {
            CallTxn::begin(backend.clone(), city)?
        };
        let (mut store, stderr) = self.new_store(txn, city, limits);
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|usage| invoke(&usage, &mut store));
        match result {
            Ok(answer) => Ok((answer, store.into_data().txn)),
            Err(err) => Err(call_failed(err, &store, limits, &stderr)),
        }
    }

    /// An instance for `city` kept for many calls (see [`Warm::run`]); it
    /// holds one slot of the pool until dropped.
    pub(super) fn warm(
        &'static self,
        backend: &Arc<dyn Backend>,
        city: &str,
        limits: &Limits,
    ) -> anyhow::Result<Warm> {
        let slot = self.slots.acquire();
        let txn = CallTxn::idle(backend.clone(), city);
        let (mut store, stderr) = self.new_store(txn, city, limits);
        let usage = self
            .pre
            .instantiate(&mut store)
            .map_err(|err| explain_trap(err, limits.deadline, &stderr))?;
        Ok(Warm {
            store,
            usage,
            stderr,
            _slot: slot,
        })
    }

    fn new_store(
        &self,
        txn: CallTxn,
        city: &str,
        limits: &Limits,
    ) -> (Store<CallState>, MemoryOutputPipe) {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtx::builder()
            .env("USAGE_CITY", city)
            .stderr(stderr.clone())
            .build();
        let state = CallState {
            wasi,
            table: ResourceTable::new(),
            txn,
            limits: MemoryCap {
                limits: StoreLimitsBuilder::new()
                    .memory_size(limits.memory_bytes)
                    .build(),
                refused: false,
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(ticks(limits.deadline));
        store.epoch_deadline_trap();
        (store, stderr)
    }
}

/// A kept instance of one city: each call gets its own transaction and
/// deadline; between calls it holds an idle transaction that reaches nothing.
/// After a trap it must be dropped (the caller does).
pub(super) struct Warm {
    store: Store<CallState>,
    usage: Usage,
    stderr: MemoryOutputPipe,
    _slot: Slot<'static>,
}

impl Warm {
    /// One call of `invoke` in this instance; returns the answer and the
    /// call's uncommitted transaction, like [`Shared::run`].
    pub(super) fn run<R>(
        &mut self,
        backend: &Arc<dyn Backend>,
        city: &str,
        limits: &Limits,
        invoke: &impl Fn(&Usage, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> anyhow::Result<(R, CallTxn)> {
        self.store.data_mut().txn = CallTxn::begin(backend.clone(), city)?;
        self.store.set_epoch_deadline(ticks(limits.deadline));
        match invoke(&self.usage, &mut self.store) {
            Ok(answer) => Ok((answer, self.store.data_mut().txn.take())),
            Err(err) => Err(call_failed(err, &self.store, limits, &self.stderr)),
        }
    }
}

/// Explains a failed call: a trap (deadline, guest panic), naming the memory
/// cap when a refused memory growth is what stopped it.
fn call_failed(
    err: wasmtime::Error,
    store: &Store<CallState>,
    limits: &Limits,
    stderr: &MemoryOutputPipe,
) -> anyhow::Error {
    let err = explain_trap(err, limits.deadline, stderr);
    if store.data().limits.refused {
        return err.context(format!(
            "the call needed more than its memory cap of {} bytes",
            limits.memory_bytes
        ));
    }
    err
}

fn ticks(deadline: Duration) -> u64 {
    let ticks = deadline.as_nanos().div_ceil(TICK.as_nanos()).max(1);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// wasmtime 48 has its own error type; without its `anyhow` feature the
/// conversion goes through a boxed error, which keeps the cause chain.
fn wasm_err(err: wasmtime::Error) -> anyhow::Error {
    anyhow::Error::from_boxed(err.into())
}

fn explain_trap(
    err: wasmtime::Error,
    deadline: Duration,
    stderr: &MemoryOutputPipe,
) -> anyhow::Error {
    let interrupted = matches!(err.downcast_ref::<Trap>(), Some(Trap::Interrupt));
    let mut err = wasm_err(err);
    if interrupted {
        err = err.context(format!("the call ran past its deadline of {deadline:?}"));
    }
    let output = stderr.contents();
    let output = String::from_utf8_lossy(&output);
    match output.trim() {
        "" => err,
        output => err.context(format!("the component failed; its stderr: {output}")),
    }
}

/// A counting semaphore over the instance pool: a call waits for a free slot
/// instead of failing when every pooled instance is in use.
struct Slots {
    free: Mutex<u32>,
    freed: Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(count: u32) -> Self {
        Self {
            free: Mutex::new(count),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ticks_round_up() {
        assert_eq!(ticks(Duration::from_secs(5)), 500);
        assert_eq!(ticks(Duration::from_nanos(1)), 1);
        assert_eq!(ticks(Duration::from_millis(15)), 2);
        assert_eq!(ticks(Duration::MAX), u64::MAX);
    }

    #[test]
    fn slots_block_until_freed() {
        let slots = Arc::new(Slots::new(1));
        let held = slots.acquire();
        let waiter = {
            let slots = slots.clone();
            std::thread::spawn(move || drop(slots.acquire()))
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(!waiter.is_finished());
        drop(held);
        waiter.join().expect("waiter");
    }
}
