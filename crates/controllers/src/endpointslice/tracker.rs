//! Upstream's EndpointSliceTracker: the slices this controller just wrote, by generation, so a
//! service is not synced against a cache that has not yet seen them (which would create
//! duplicates or resurrect deleted endpoints).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::discovery::v1::EndpointSlice;

/// After this long an unobserved write is forgotten (upstream's expectations timeout).
const EXPIRY: Duration = Duration::from_secs(300);

#[derive(Clone, Copy)]
enum Expected {
    /// The cache must show the slice at this generation or later.
    AtLeast(i64),
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
    pub(crate) fn wrote(&self, service: &str, slice: &EndpointSlice) {
        let (Some(name), generation) = (&slice.metadata.name, slice.metadata.generation) else {
            return;
        };
        self.expect(service, name, Expected::AtLeast(generation.unwrap_or(1)));
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
            match (*expectation, seen) {
                (Expected::Deleted, None) => false,
                (Expected::Deleted, Some(_)) => true,
                (Expected::AtLeast(generation), Some(slice)) => {
                    slice.metadata.generation.unwrap_or(0) < generation
                }
                (Expected::AtLeast(_), None) => true,
            }
        });
        let current = expected.is_empty();
        if current {
            services.remove(service);
        }
        current
    }
}
