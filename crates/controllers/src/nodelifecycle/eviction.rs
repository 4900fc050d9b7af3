//! Taint-based eviction (upstream's taint-eviction-controller): pods on a node with NoExecute
//! taints they do not tolerate are deleted at once; pods tolerating them for
//! tolerationSeconds are deleted when that time has passed since the taint was noticed, unless
//! the taint goes away first.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::informers::Changes;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Context;
use crate::events::reference_to;

const TICK: Duration = Duration::from_millis(200);

enum Verdict {
    Keep,
    EvictNow,
    EvictAfter(Duration),
}

struct Scheduled {
    uid: Option<String>,
    noticed: Instant,
}

pub(crate) async fn run(
    context: Arc<Context>,
    mut node_changes: Changes<Node>,
    mut pod_changes: Changes<Pod>,
    shutdown: CancellationToken,
) {
    let mut scheduled: HashMap<ObjectRef<Pod>, Scheduled> = HashMap::new();
    for node in context.nodes.state() {
        process_node(&context, &mut scheduled, &node).await;
    }
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            Some(node) = node_changes.next() => process_node(&context, &mut scheduled, &node).await,
            Some(pod) = pod_changes.next() => {
                let key = ObjectRef::from_obj(&*pod);
                if context.pods.get(&key).is_none() {
                    // Deleted: nothing left to evict.
                    scheduled.remove(&key);
                    continue;
                }
                context.pods_by_node.observe(&pod);
                process_pod(&context, &mut scheduled, &pod).await;
            }
            _ = tick.tick() => {
                let due: Vec<ObjectRef<Pod>> = scheduled.keys().cloned().collect();
                for key in due {
                    match context.pods.get(&key) {
                        Some(pod) => process_pod(&context, &mut scheduled, &pod).await,
                        None => {
                            scheduled.remove(&key);
                        }
                    }
                }
            }
        }
    }
}

fn no_execute_taints(node: &Node) -> Vec<&Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoExecute")
        .collect()
}

async fn process_node(
    context: &Context,
    scheduled: &mut HashMap<ObjectRef<Pod>, Scheduled>,
    node: &Node,
) {
    let Some(name) = node.metadata.name.as_deref() else {
        return;
    };
    let tainted = !no_execute_taints(node).is_empty();
    for pod in context.pods_by_node.get(&context.pods, name) {
        let key = ObjectRef::from_obj(&*pod);
        if tainted || scheduled.contains_key(&key) {
            process_pod(context, scheduled, &pod).await;
        }
    }
}

async fn process_pod(
    context: &Context,
    scheduled: &mut HashMap<ObjectRef<Pod>, Scheduled>,
    pod: &Pod,
) {
    let key = ObjectRef::from_obj(pod);
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .and_then(|n| context.nodes.get(&ObjectRef::new(n)));
    let verdict = match (&node, pod.metadata.deletion_timestamp.is_some()) {
        (Some(node), false) => verdict(pod, &no_execute_taints(node)),
        _ => Verdict::Keep,
    };
    let now = Instant::now();
    match verdict {
        Verdict::Keep => {
            scheduled.remove(&key);
        }
        Verdict::EvictNow => {
            scheduled.remove(&key);
            evict(context, pod).await;
        }
        Verdict::EvictAfter(wait) => {
            let entry = scheduled.entry(key.clone()).or_insert(Scheduled {
                uid: pod.metadata.uid.clone(),
                noticed: now,
            });
            if entry.uid != pod.metadata.uid {
                *entry = Scheduled {
                    uid: pod.metadata.uid.clone(),
                    noticed: now,
                };
            }
            if now.duration_since(entry.noticed) >= wait {
                scheduled.remove(&key);
                evict(context, pod).await;
            }
        }
    }
}

/// Upstream's ToleratesTaint.
fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        _ => toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
    }
}

/// What the pod's tolerations make of the node's NoExecute taints: every taint must be
/// tolerated, and the shortest tolerationSeconds among the tolerations used wins.
fn verdict(pod: &Pod, taints: &[&Taint]) -> Verdict {
    if taints.is_empty() {
        return Verdict::Keep;
    }
    let tolerations: &[Toleration] = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    let mut shortest: Option<i64> = None;
    for taint in taints {
        let used: Vec<&Toleration> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if used.is_empty() {
            return Verdict::EvictNow;
        }
        for toleration in used {
            if let Some(seconds) = toleration.toleration_seconds {
                shortest = Some(shortest.map_or(seconds, |s| s.min(seconds)));
            }
        }
    }
    match shortest {
        None => Verdict::Keep,
        Some(seconds) if seconds <= 0 => Verdict::EvictNow,
        Some(seconds) => Verdict::EvictAfter(Duration::from_secs(seconds as u64)),
    }
}

async fn evict(context: &Context, pod: &Pod) {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint",
        "lastTransitionTime": Timestamp::now().to_string(),
    }]}});
    if let Err(err) = api
        .patch_status(&name, &PatchParams::default(), &Patch::Strategic(condition))
        .await
    {
        tracing::debug!(%err, pod = name, "adding the DisruptionTarget condition failed");
    }
    context
        .eviction_events
        .normal(
            &reference_to(pod),
            "TaintManagerEviction",
            &format!("Marking for deletion Pod {namespace}/{name}"),
        )
        .await;
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => tracing::info!(
            namespace,
            pod = name,
            "evicted pod from a NoExecute-tainted node"
        ),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
        Err(err) => tracing::warn!(%err, namespace, pod = name, "taint eviction failed"),
    }
}
