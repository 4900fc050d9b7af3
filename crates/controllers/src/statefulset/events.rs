//! core/v1 Events about a controller's objects, as upstream's event recorder writes them
//! (`kubectl describe` lists these). Recording is best effort: a failed write is logged, never
//! allowed to fail a sync. The DaemonSet controller records through this too.

use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

pub struct Recorder {
    client: kube::Client,
    component: &'static str,
    /// Keeps event names unique when two events land in the same nanosecond.
    sequence: AtomicU64,
}

impl Recorder {
    pub fn new(client: kube::Client, component: &'static str) -> Self {
        Self {
            client,
            component,
            sequence: AtomicU64::new(0),
        }
    }

    /// Record an event about `object` (type [`NORMAL`] or [`WARNING`]).
    pub async fn record<K>(&self, object: &K, kind: &str, reason: &str, message: String)
    where
        K: Resource<DynamicType = ()>,
    {
        let namespace = object.namespace().unwrap_or_else(|| "default".into());
        let now = Timestamp::now();
        let unique = u64::try_from(now.as_nanosecond()).unwrap_or_default()
            + self.sequence.fetch_add(1, Ordering::Relaxed);
        let event = Event {
            metadata: ObjectMeta {
                // Upstream's form: `<involved object>.<hex timestamp>`.
                name: Some(format!("{}.{unique:x}", object.name_any())),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(K::kind(&()).into_owned()),
                name: Some(object.name_any()),
                namespace: object.namespace(),
                uid: object.uid(),
                resource_version: object.resource_version(),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(kind.into()),
            source: Some(EventSource {
                component: Some(self.component.into()),
                host: None,
            }),
            reporting_component: Some(self.component.into()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(err) = api.create(&PostParams::default(), &event).await {
            tracing::debug!(%err, reason, "recording an event failed");
        }
    }
}
