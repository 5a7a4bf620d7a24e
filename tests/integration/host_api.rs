//! The shared scenarios' [`Api`] over the real host: every call goes through
//! wasmtime, the component and a storage backend.

use usage_guest::model as m;
use usage_guest::scenarios::Api;
use usage_host::runtime::Runtime;

use crate::convert;

pub struct HostApi {
    pub runtime: Runtime,
}

/// Unwraps the host's outer error (a trap or host failure is a test failure)
/// and converts the guest's answer.
fn answer<T, U>(
    r: anyhow::Result<Result<T, usage_host::bindings::UsageError>>,
    f: impl FnOnce(T) -> U,
) -> m::UsageResult<U> {
    match r {
        Ok(inner) => inner.map(f).map_err(convert::error),
        Err(e) => panic!("host failure: {e:#}"),
    }
}

impl HostApi {
    fn city(&self, name: &str) -> usage_host::runtime::City<'_> {
        self.runtime.city(name).expect("valid city")
    }
}

impl Api for HostApi {
    fn record_batch(&mut self, city: &str, facts: Vec<m::Fact>) -> Vec<m::UsageResult<m::Receipt>> {
        let facts = facts.into_iter().map(convert::fact).collect();
        match self.city(city).record_batch(facts) {
            Ok(results) => results
                .into_iter()
                .map(|r| r.map(convert::receipt).map_err(convert::error))
                .collect(),
            Err(e) => panic!("host failure: {e:#}"),
        }
    }

    fn events(&mut self, city: &str, q: m::EventsQuery) -> m::UsageResult<m::EventPage> {
        answer(
            self.city(city).events(convert::events_query(q)),
            convert::page,
        )
    }

    fn summary(&mut self, city: &str, q: m::SummaryQuery) -> m::UsageResult<m::Summary> {
        answer(
            self.city(city).summary(convert::summary_query(q)),
            convert::summary,
        )
    }

    fn me(&mut self, city: &str, user: &str, q: m::MeQuery) -> m::UsageResult<m::UsageReport> {
        answer(
            self.city(city).me(user, convert::me_query(q)),
            convert::report,
        )
    }

    fn get_settings(&mut self, city: &str) -> m::UsageResult<m::Settings> {
        answer(self.city(city).settings(), convert::settings)
    }

    fn set_settings(&mut self, city: &str, s: m::Settings) -> m::UsageResult<m::Settings> {
        let s = usage_host::bindings::Settings {
            record_errors: s.record_errors,
        };
        answer(self.city(city).set_settings(s), convert::settings)
    }
}
