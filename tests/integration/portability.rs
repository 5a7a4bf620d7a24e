//! The same component on wasmtime's own `wasmtime-wasi-keyvalue` in-memory host
//! gives the same answers as on ours. That host keeps writes only within one
//! bucket handle, so: one instance, one scenario.

use std::sync::Arc;

use usage_guest::model as m;
use usage_guest::scenarios::sample_facts;
use usage_host::bindings::{self as b, Usage};
use usage_host::runtime::{Limits, Runtime, component_bytes};
use usage_host::store::MemoryBackend;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_keyvalue::{WasiKeyValue, WasiKeyValueCtx};

use crate::convert;
use crate::host_api::HostApi;

struct Host {
    table: ResourceTable,
    wasi: WasiCtx,
    kv: WasiKeyValueCtx,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Everything a scenario observes, minus the recording times (the clocks differ).
fn observe(
    mut record: impl FnMut(Vec<b::Fact>) -> Vec<m::UsageResult<m::Receipt>>,
    mut query: impl FnMut(&str) -> String,
) -> Vec<String> {
    let facts: Vec<b::Fact> = sample_facts(150, 77)
        .into_iter()
        .map(convert::fact)
        .collect();
    let mut seen: Vec<String> = record(facts.clone())
        .into_iter()
        .map(|r| format!("{:?}", r.map(|r| (r.status, r.position))))
        .collect();
    seen.extend(
        record(facts[..10].to_vec())
            .into_iter()
            .map(|r| format!("{:?}", r.map(|r| (r.status, r.position)))),
    );
    for what in ["summary", "me", "events"] {
        seen.push(query(what));
    }
    seen
}

fn strip_times(mut events: Vec<m::Event>) -> Vec<m::Event> {
    for e in &mut events {
        e.recorded_at = 0;
    }
    events
}

fn summary_q() -> b::SummaryQuery {
    convert::summary_query(m::SummaryQuery {
        group_by: vec![m::Dimension::Service, m::Dimension::Outcome],
        bucket: m::Bucket::Day,
        ..Default::default()
    })
}

fn me_q() -> b::MeQuery {
    convert::me_query(m::MeQuery {
        recent: Some(20),
        ..Default::default()
    })
}

fn events_q() -> b::EventsQuery {
    convert::events_query(m::EventsQuery {
        user: Some("user-1".into()),
        limit: Some(25),
        ..Default::default()
    })
}

#[test]
fn wasmtime_keyvalue_host_gives_the_same_answers() -> anyhow::Result<()> {
    // On wasmtime's own host.
    let engine = Engine::default();
    let component =
        Component::new(&engine, component_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut linker = Linker::<Host>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
    wasmtime_wasi_keyvalue::add_to_linker(&mut linker, |h: &mut Host| {
        WasiKeyValue::new(&h.kv, &mut h.table)
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let host = Host {
        table: ResourceTable::new(),
        wasi: WasiCtx::builder().env("USAGE_CITY", "portable").build(),
        kv: WasiKeyValueCtx::builder().build(),
    };
    let store = std::cell::RefCell::new(Store::new(&engine, host));
    let usage = Usage::instantiate(&mut *store.borrow_mut(), &component, &linker)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let theirs = observe(
        |facts| {
            let ingest = usage.downcity_usage_ingest();
            let results = ingest
                .call_record_batch(&mut *store.borrow_mut(), &facts)
                .expect("record-batch");
            results
                .into_iter()
                .map(|r| r.map(convert::receipt).map_err(convert::error))
                .collect()
        },
        |what| {
            let q = usage.downcity_usage_query();
            let mut s = store.borrow_mut();
            match what {
                "summary" => format!(
                    "{:?}",
                    q.call_summary(&mut *s, &summary_q())
                        .expect("summary")
                        .map(convert::summary)
                ),
                "me" => format!(
                    "{:?}",
                    q.call_me(&mut *s, "user-1", &me_q()).expect("me").map(|r| {
                        let mut r = convert::report(r);
                        r.recent = strip_times(r.recent);
                        r
                    })
                ),
                _ => format!(
                    "{:?}",
                    q.call_events(&mut *s, &events_q())
                        .expect("events")
                        .map(|p| strip_times(convert::page(p).events))
                ),
            }
        },
    );

    // On ours.
    let runtime = Runtime::new(Arc::new(MemoryBackend::new()), Limits::default())?;
    let api = HostApi { runtime };
    let ours = {
        let city = api.runtime.city("portable")?;
        observe(
            |facts| {
                let results = city.record_batch(facts).expect("record-batch");
                results
                    .into_iter()
                    .map(|r| r.map(convert::receipt).map_err(convert::error))
                    .collect()
            },
            |what| match what {
                "summary" => format!(
                    "{:?}",
                    city.summary(summary_q())
                        .expect("summary")
                        .map(convert::summary)
                ),
                "me" => format!(
                    "{:?}",
                    city.me("user-1", me_q()).expect("me").map(|r| {
                        let mut r = convert::report(r);
                        r.recent = strip_times(r.recent);
                        r
                    })
                ),
                _ => format!(
                    "{:?}",
                    city.events(events_q())
                        .expect("events")
                        .map(|p| strip_times(convert::page(p).events))
                ),
            },
        )
    };
    assert_eq!(theirs.len(), ours.len());
    for (t, o) in theirs.iter().zip(&ours) {
        assert_eq!(t, o);
    }
    assert!(
        theirs.iter().any(|s| s.contains("Recorded"))
            && theirs.iter().any(|s| s.contains("Duplicate"))
    );
    Ok(())
}
