//! core/v1 Events as upstream's (legacy) event recorder writes them: one Event per call, named
//! `<object>.<unique suffix>`, with `source.component` and `reportingComponent` naming the
//! controller. Cluster-scoped objects' events live in "default". Recording is best effort: a
//! failed event is logged, never returned, so it never fails a reconcile.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    component: &'static str,
}

/// The reference to an object an Event is about (its involvedObject).
pub fn reference_to<K: kube::Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    let meta = object.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}

impl Recorder {
    pub fn new(client: kube::Client, component: &'static str) -> Self {
        Recorder { client, component }
    }

    pub async fn normal(&self, regarding: &ObjectReference, reason: &str, message: &str) {
        self.publish(regarding.clone(), NORMAL, reason, message.to_string())
            .await;
    }

    pub async fn warning(&self, regarding: &ObjectReference, reason: &str, message: &str) {
        self.publish(regarding.clone(), WARNING, reason, message.to_string())
            .await;
    }

    pub async fn publish(
        &self,
        regarding: ObjectReference,
        type_: &str,
        reason: &str,
        message: String,
    ) {
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let now = Timestamp::now();
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or("object"),
            now.as_nanosecond()
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: regarding,
            reason: Some(reason.to_string()),
            message: Some(message),
            type_: Some(type_.to_string()),
            source: Some(EventSource {
                component: Some(self.component.to_string()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            count: Some(1),
            reporting_component: Some(self.component.to_string()),
            reporting_instance: Some(String::new()),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(err) = api.create(&PostParams::default(), &event).await {
            tracing::debug!(%err, reason, "could not record an event");
        }
    }
}
