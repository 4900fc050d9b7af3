//! Writes to the API: bindings, events, pod status (PodScheduled, nominatedNodeName) and the
//! eviction of preemption victims. Events go through a bounded channel and are dropped when it
//! is full, as upstream's event broadcaster does, so they never slow scheduling down.

use k8s_openapi::api::core::v1::{Event, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::model::PodInfo;

const EVENT_BUFFER: usize = 4096;
const EVENT_WORKERS: usize = 4;

#[derive(Clone)]
pub struct Writer {
    client: kube::Client,
    identity: String,
    /// Events are reported by the scheduler's name, as upstream's per-profile recorders do.
    component: String,
    events: mpsc::Sender<Event>,
}

/// Whether the API says the pod no longer exists.
pub fn is_gone(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}

impl Writer {
    /// Start the event workers (owned by `tasks`, stopped by `shutdown`).
    pub fn start(
        client: kube::Client,
        identity: String,
        component: String,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Writer {
        let (tx, rx) = mpsc::channel::<Event>(EVENT_BUFFER);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..EVENT_WORKERS {
            let rx = rx.clone();
            let client = client.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                loop {
                    let event = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        event = async { rx.lock().await.recv().await } => event,
                    };
                    let Some(event) = event else { return };
                    let namespace = event.metadata.namespace.clone().unwrap_or_default();
                    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
                    if let Err(err) = api.create(&PostParams::default(), &event).await {
                        tracing::debug!(%err, "recording an event failed");
                    }
                }
            });
        }
        Writer {
            client,
            identity,
            component,
            events: tx,
        }
    }

    fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// POST pods/{name}/binding.
    pub async fn bind(&self, pod: &PodInfo, node: &str) -> Result<(), kube::Error> {
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        self.pods(&pod.namespace)
            .create_subresource::<_, serde_json::Value>(
                "binding",
                &pod.name,
                &PostParams::default(),
                &binding,
            )
            .await
            .map(|_| ())
    }

    /// Record a core/v1 Event about `pod` (dropped if the buffer is full).
    pub fn event(&self, pod: &PodInfo, kind: &str, reason: &str, action: &str, message: String) {
        let now = Timestamp::now();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.{:x}", pod.name, now.as_nanosecond())),
                namespace: Some(pod.namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(pod.name.clone()),
                namespace: Some(pod.namespace.clone()),
                uid: Some(pod.uid.clone()),
                resource_version: Some(pod.resource_version.clone()).filter(|r| !r.is_empty()),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(kind.into()),
            action: Some(action.into()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            source: Some(k8s_openapi::api::core::v1::EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.identity.clone()),
            ..Default::default()
        };
        if self.events.try_send(event).is_err() {
            tracing::debug!("event buffer full; dropping an event");
        }
    }

    /// PodScheduled=False with the reason and message, and the nomination (empty clears it).
    pub async fn mark_unschedulable(
        &self,
        pod: &PodInfo,
        reason: &str,
        message: &str,
        nominated_node: Option<&str>,
    ) -> Result<(), kube::Error> {
        let mut status = json!({
            "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": reason, "message": message,
                "lastProbeTime": null, "lastTransitionTime": Time(Timestamp::now()),
            }],
        });
        if let Some(node) = nominated_node {
            status["nominatedNodeName"] = if node.is_empty() {
                json!(null)
            } else {
                json!(node)
            };
        }
        let patch = json!({"status": status});
        self.pods(&pod.namespace)
            .patch_status(
                &pod.name,
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await
            .map(|_| ())
    }

    pub async fn set_nominated_node(&self, pod: &PodInfo, node: &str) -> Result<(), kube::Error> {
        let value = if node.is_empty() {
            json!(null)
        } else {
            json!(node)
        };
        let patch = json!({"status": {"nominatedNodeName": value}});
        self.pods(&pod.namespace)
            .patch_status(&pod.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
    }

    /// Delete a preemption victim (only that incarnation of it).
    pub async fn evict(&self, victim: &PodInfo) -> Result<(), kube::Error> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(victim.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match self
            .pods(&victim.namespace)
            .delete(&victim.name, &params)
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if is_gone(&err) => Ok(()),
            Err(err) => Err(err),
        }
    }
}
