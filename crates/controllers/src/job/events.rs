//! core/v1 Events as client-go's event recorder writes them (named `<object>.<hex nanos>`,
//! `source.component` and `reportingComponent` naming the controller).
//!
//! Shared by the job and cronjob controllers until a crate-wide recorder exists.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

pub struct Recorder {
    client: kube::Client,
    component: &'static str,
}

impl Recorder {
    pub fn new(client: kube::Client, component: &'static str) -> Self {
        Self { client, component }
    }

    /// Record an event about `object`; failures are logged, never returned, as events are
    /// best-effort.
    pub async fn record<K>(&self, object: &K, kind: &str, reason: &str, message: String)
    where
        K: Resource<DynamicType = ()>,
    {
        let namespace = object.namespace().unwrap_or_else(|| "default".into());
        let now = jiff::Timestamp::now();
        let name = format!("{}.{:x}", object.name_any(), now.as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
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
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            count: Some(1),
            reporting_component: Some(self.component.into()),
            reporting_instance: Some(String::new()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(err) = api.create(&PostParams::default(), &event).await {
            tracing::debug!(%err, reason, "could not record event");
        }
    }
}
