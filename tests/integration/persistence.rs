//! Acknowledged data survives closing and reopening the embedded store.

use std::sync::Arc;

use usage_guest::model as m;
use usage_guest::scenarios::{Api, all_events, sample_facts};
use usage_host::runtime::{Limits, Runtime};
use usage_host::store::RedbBackend;

use crate::host_api::HostApi;

fn open(path: &std::path::Path) -> HostApi {
    let backend = RedbBackend::open(path).expect("open redb");
    HostApi {
        runtime: Runtime::new(Arc::new(backend), Limits::default()).expect("runtime"),
    }
}

#[test]
fn data_survives_closing_and_reopening_the_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("usage.redb");
    let facts = sample_facts(120, 21);
    let (before, events_before) = {
        let mut api = open(&path);
        let results = api.record_batch("kept", facts.clone());
        assert!(results.iter().all(|r| r.is_ok()));
        api.set_settings(
            "kept",
            m::Settings {
                record_errors: false,
            },
        )
        .expect("settings");
        let summary = api.summary(
            "kept",
            m::SummaryQuery {
                group_by: vec![m::Dimension::Model],
                ..Default::default()
            },
        );
        (
            summary.expect("summary"),
            all_events(&mut api, "kept", m::EventsQuery::default()),
        )
    };
    let mut api = open(&path);
    let after = api.summary(
        "kept",
        m::SummaryQuery {
            group_by: vec![m::Dimension::Model],
            ..Default::default()
        },
    );
    assert_eq!(after.expect("summary"), before);
    assert_eq!(before.totals.calls, facts.len() as u64);
    assert_eq!(
        all_events(&mut api, "kept", m::EventsQuery::default()),
        events_before
    );
    assert_eq!(
        api.get_settings("kept"),
        Ok(m::Settings {
            record_errors: false
        })
    );
    // The ids are still known: a replay after reopening counts nothing.
    let replay = api.record_batch("kept", facts);
    assert!(replay.iter().all(|r| matches!(
        r,
        Ok(m::Receipt {
            status: m::ReceiptStatus::Duplicate,
            ..
        })
    )));
    assert_eq!(
        api.runtime.cities().expect("cities"),
        vec!["kept".to_owned()]
    );
}
