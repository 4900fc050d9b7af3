//! Upstream's EndpointSliceTracker: the slices this controller just wrote, so a service is not
//! synced against a cache that has not yet seen them (which would create duplicates or
//! resurrect deleted endpoints). Upstream compares generations; this compares resource
//! versions (the cache is current once it no longer shows the version that was replaced),
//! which needs nothing of the server beyond resourceVersion.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::discovery::v1::EndpointSlice;

/// After this long an unobserved write is forgotten (upstream's expectations timeout).
const EXPIRY: Duration = Duration::from_secs(300);

#[derive(Clone)]
enum Expected {
    /// The cache must show the slice, at another version than this one (None: any version).
    Replaced(Option<String>),
    Deleted,
}

/// slice name -> what the cache must show, and since when
type SliceExpectations = HashMap<String, (Expected, Instant)>;

#[derive(Default)]
pub(crate) struct Tracker {
    /// service key ("namespace/name") -> slice name -> what the cache must show, and since when
    services: Mutex<HashMap<String, SliceExpectations>>,
}

impl Tracker {
    /// `replaced` is the version the write replaced (None for a create).
    pub(crate) fn wrote(&self, service: &str, slice: &str, replaced: Option<String>) {
        self.expect(service, slice, Expected::Replaced(replaced));
    }

    pub(crate) fn deleted(&self, service: &str, slice: &str) {
        self.expect(service, slice, Expected::Deleted);
    }

    fn expect(&self, service: &str, slice: &str, expected: Expected) {
        self.services
            .lock()
            .expect("tracker lock")
            .entry(service.to_string())
            .or_default()
            .insert(slice.to_string(), (expected, Instant::now()));
    }

    /// Whether the cached slices of `service` include every write made to them; satisfied
    /// expectations are dropped.
    pub(crate) fn cache_is_current(&self, service: &str, cached: &[&EndpointSlice]) -> bool {
        let mut services = self.services.lock().expect("tracker lock");
        let Some(expected) = services.get_mut(service) else {
            return true;
        };
        expected.retain(|name, (expectation, since)| {
            if since.elapsed() > EXPIRY {
                return false;
            }
            let seen = cached
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(name.as_str()));
            match (&*expectation, seen) {
                (Expected::Deleted, None) => false,
                (Expected::Deleted, Some(_)) => true,
                (Expected::Replaced(old), Some(slice)) => {
                    old.is_some() && slice.metadata.resource_version == *old
                }
                (Expected::Replaced(_), None) => true,
            }
        });
        let current = expected.is_empty();
        if current {
            services.remove(service);
        }
        current
    }
}
