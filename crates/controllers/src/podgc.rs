//! The pod garbage collector (upstream's pod-garbage-collector). Every 20 seconds it:
//!
//! - deletes the oldest terminated pods (Succeeded or Failed) beyond the threshold
//!   (`--terminated-pod-gc-threshold`, 12500 by default);
//! - deletes pods bound to nodes that no longer exist, once the node has been missing for 40
//!   seconds and a fresh read confirms it, after marking them Failed with the
//!   DisruptionTarget condition (reason DeletionByPodGC);
//! - force-deletes terminating pods that were never scheduled, after marking them Failed.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;

const CHECK_PERIOD: Duration = Duration::from_secs(20);
const QUARANTINE: Duration = Duration::from_secs(40);

#[derive(Clone, Copy, Debug)]
pub struct PodGcOptions {
    /// Terminated pods kept before the oldest are deleted; 0 disables that collection.
    pub terminated_pod_threshold: usize,
}

impl Default for PodGcOptions {
    fn default() -> Self {
        Self {
            terminated_pod_threshold: 12_500,
        }
    }
}

struct Collector {
    client: kube::Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    options: PodGcOptions,
    /// Nodes referenced by pods but absent from the cache, and since when.
    missing_since: HashMap<String, Instant>,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    options: PodGcOptions,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    // Only the caches are needed: the change streams are dropped so nobody waits on them.
    let pods = informers.shared::<Pod>().cache;
    let nodes = informers.shared::<Node>().cache;
    let mut collector = Collector {
        client,
        pods,
        nodes,
        options,
        missing_since: HashMap::new(),
    };
    async move {
        let mut ticks = tokio::time::interval(CHECK_PERIOD);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticks.tick() => collector.collect().await,
            }
        }
    }
}

impl Collector {
    async fn collect(&mut self) {
        let pods = self.pods.state();
        self.terminated(&pods).await;
        self.orphaned(&pods).await;
        for pod in pods.iter().filter(|p| is_unscheduled_terminating(p)) {
            self.fail_and_delete(pod, None).await;
        }
    }

    async fn terminated(&self, pods: &[Arc<Pod>]) {
        let threshold = self.options.terminated_pod_threshold;
        let excess = excess_terminated(pods, threshold);
        if !excess.is_empty() {
            tracing::info!(
                excess = excess.len(),
                threshold,
                "garbage collecting terminated pods"
            );
        }
        for pod in excess {
            self.fail_and_delete(pod, None).await;
        }
    }

    async fn orphaned(&mut self, pods: &[Arc<Pod>]) {
        let mut absent: HashSet<String> = HashSet::new();
        for pod in pods {
            if let Some(node) = node_name(pod)
                && self.nodes.get(&ObjectRef::new(node)).is_none()
            {
                absent.insert(node.to_string());
            }
        }
        self.missing_since.retain(|node, _| absent.contains(node));
        let now = Instant::now();
        let mut gone = HashSet::new();
        for node in absent {
            let since = *self.missing_since.entry(node.clone()).or_insert(now);
            if now.duration_since(since) < QUARANTINE {
                continue;
            }
            let api: Api<Node> = Api::all(self.client.clone());
            match api.get_opt(&node).await {
                Ok(None) => {
                    gone.insert(node);
                }
                Ok(Some(_)) => {
                    self.missing_since.remove(&node);
                }
                Err(err) => tracing::warn!(%err, node, "could not check whether a node exists"),
            }
        }
        for pod in pods {
            if node_name(pod).is_some_and(|n| gone.contains(n)) {
                tracing::info!(pod = %pod.name_any(), "deleting pod of a node that no longer exists");
                self.fail_and_delete(pod, Some("PodGC: node no longer exists"))
                    .await;
            }
        }
    }

    /// Mark the pod Failed (with the DisruptionTarget condition when `disruption` says why),
    /// unless it already terminated, then delete it without grace.
    async fn fail_and_delete(&self, pod: &Pod, disruption: Option<&str>) {
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let name = pod.name_any();
        if !is_terminated(pod) {
            let mut status = json!({"phase": "Failed"});
            if let Some(message) = disruption {
                status["conditions"] = json!([{
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "DeletionByPodGC",
                    "message": message,
                    "lastTransitionTime": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                }]);
            }
            let patch = json!({"metadata": {"uid": pod.uid()}, "status": status});
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => return,
                Err(err) => {
                    tracing::warn!(%err, pod = %name, "could not mark pod failed");
                    return;
                }
            }
        }
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(kube::api::Preconditions {
                uid: pod.uid(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(err) => tracing::warn!(%err, pod = %name, "could not delete pod"),
        }
    }
}

/// The oldest terminated pods beyond `threshold` (none when the threshold is 0).
fn excess_terminated(pods: &[Arc<Pod>], threshold: usize) -> Vec<&Arc<Pod>> {
    if threshold == 0 {
        return Vec::new();
    }
    let mut terminated: Vec<&Arc<Pod>> = pods.iter().filter(|p| is_terminated(p)).collect();
    let excess = terminated.len().saturating_sub(threshold);
    terminated.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    terminated.truncate(excess);
    terminated
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn is_terminated(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn is_unscheduled_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some() && node_name(pod).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, phase: &str, created: &str, extra: serde_json::Value) -> Arc<Pod> {
        let mut value = json!({
            "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
            "status": {"phase": phase},
        });
        if let (Some(into), Some(from)) = (value.as_object_mut(), extra.as_object()) {
            for (k, v) in from {
                into.insert(k.clone(), v.clone());
            }
        }
        Arc::new(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn oldest_terminated_pods_beyond_the_threshold() {
        let pods = vec![
            pod("new-done", "Succeeded", "2024-01-03T00:00:00Z", json!({})),
            pod("running", "Running", "2024-01-01T00:00:00Z", json!({})),
            pod("old-failed", "Failed", "2024-01-01T00:00:00Z", json!({})),
            pod("mid-done", "Succeeded", "2024-01-02T00:00:00Z", json!({})),
        ];
        let names = |v: Vec<&Arc<Pod>>| v.iter().map(|p| p.name_any()).collect::<Vec<_>>();
        assert_eq!(
            names(excess_terminated(&pods, 1)),
            ["old-failed", "mid-done"]
        );
        assert!(excess_terminated(&pods, 3).is_empty());
        assert!(
            excess_terminated(&pods, 0).is_empty(),
            "0 disables the collection"
        );
    }

    #[test]
    fn unscheduled_terminating() {
        let deleting =
            json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}});
        assert!(is_unscheduled_terminating(&pod(
            "a",
            "Pending",
            "2024-01-01T00:00:00Z",
            deleting.clone()
        )));
        let mut bound = deleting;
        bound["spec"] = json!({"nodeName": "n1", "containers": []});
        assert!(!is_unscheduled_terminating(&pod(
            "a",
            "Pending",
            "2024-01-01T00:00:00Z",
            bound
        )));
    }
}
