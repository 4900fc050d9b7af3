//! The periodic node health pass (upstream's monitorNodeHealth): conditions of silent nodes
//! to Unknown, their pods to not ready, condition taints (NoSchedule) kept current, and
//! NoExecute taints added at each zone's rate.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::ObjectRef;
use tokio_util::sync::CancellationToken;

use super::Context;
use super::health::{Health, mark_unknown, ready_condition, ready_status};
use super::taints::{self, ZoneLimiters, ZoneState};
use crate::events::reference_to;

const LEASE_NAMESPACE: &str = "kube-node-lease";

#[derive(Default)]
struct State {
    health: Health,
    limiters: ZoneLimiters,
    last_ready: HashMap<String, String>,
    all_disrupted: bool,
}

pub(crate) async fn run(context: Arc<Context>, shutdown: CancellationToken) {
    let mut state = State::default();
    loop {
        pass(&context, &mut state).await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(context.options.node_monitor_period) => {}
        }
    }
}

async fn pass(context: &Context, state: &mut State) {
    let now = Instant::now();
    let nodes = context.nodes.state();
    state
        .health
        .retain(|name| context.nodes.get(&ObjectRef::new(name)).is_some());
    let mut zones: BTreeMap<String, Vec<Arc<Node>>> = BTreeMap::new();
    for node in nodes {
        let node = check_health(context, state, node, now).await;
        zones.entry(taints::zone_of(&node)).or_default().push(node);
    }
    let all_disrupted = !zones.is_empty()
        && zones
            .values()
            .all(|nodes| zone_state(context, nodes) == ZoneState::FullDisruption);
    if state.all_disrupted && !all_disrupted {
        tracing::info!(
            "nodes are reachable again after a full disruption; restarting grace periods"
        );
        state.health.reset(now);
    }
    if all_disrupted && !state.all_disrupted {
        tracing::warn!("no node is ready in any zone; stopping NoExecute tainting");
    }
    state.all_disrupted = all_disrupted;
    for (zone, nodes) in &zones {
        let zone_state = zone_state(context, nodes);
        let rate = taints::zone_rate(zone_state, nodes.len(), &context.options);
        for node in nodes {
            // With every zone down the fault is most likely ours: evict nothing.
            let wanted = if all_disrupted {
                None
            } else {
                taints::wanted_no_execute(node)
            };
            if taints::has_no_execute(node, wanted) {
                continue;
            }
            // Removing, or swapping not-ready for unreachable, is not rate limited.
            let swapping = taints::has_no_execute(node, Some(taints::NOT_READY))
                || taints::has_no_execute(node, Some(taints::UNREACHABLE));
            if wanted.is_some() && !swapping && !state.limiters.try_take(zone, rate, now) {
                continue;
            }
            let taints = taints::with_no_execute(node, wanted, Timestamp::now());
            if let Err(err) = write_taints(context, node, taints).await {
                tracing::debug!(%err, node = ?node.metadata.name, "updating NoExecute taints failed");
            }
        }
    }
}

fn zone_state(context: &Context, nodes: &[Arc<Node>]) -> ZoneState {
    let ready = nodes.iter().filter(|n| ready_status(n) == "True").count();
    taints::zone_state(ready, nodes.len() - ready, &context.options)
}

/// Judge one node; returns it as it is after any write.
async fn check_health(
    context: &Context,
    state: &mut State,
    mut node: Arc<Node>,
    now: Instant,
) -> Arc<Node> {
    let Some(name) = node.metadata.name.clone() else {
        return node;
    };
    let lease = context
        .leases
        .get(&ObjectRef::new(&name).within(LEASE_NAMESPACE));
    let probe = state.health.observe(&node, lease.as_deref(), now);
    let grace = if ready_condition(&node).is_none() {
        context.options.node_startup_grace_period
    } else {
        context.options.node_monitor_grace_period
    };
    let api: Api<Node> = Api::all(context.client.clone());
    if now.duration_since(probe) > grace
        && let Some(updated) = mark_unknown(&node, Timestamp::now())
    {
        match api
            .replace_status(&name, &PostParams::default(), &updated)
            .await
        {
            Ok(written) => node = Arc::new(written),
            Err(err) => tracing::debug!(%err, node = name, "marking node status unknown failed"),
        }
    }
    let ready = ready_status(&node).to_string();
    if ready != "True" {
        mark_pods_not_ready(context, &name).await;
    }
    if state.last_ready.get(&name).map(String::as_str) == Some("True") && ready != "True" {
        context
            .node_events
            .normal(
                &reference_to(&*node),
                "NodeNotReady",
                &format!("Node {name} status is now: NodeNotReady"),
            )
            .await;
    }
    state.last_ready.insert(name.clone(), ready);
    if let Some(taints) = taints::with_no_schedule_taints(&node) {
        match write_taints(context, &node, taints).await {
            Ok(written) => node = Arc::new(written),
            Err(err) => tracing::debug!(%err, node = name, "updating NoSchedule taints failed"),
        }
    }
    node
}

async fn write_taints(context: &Context, node: &Node, taints: Vec<Taint>) -> kube::Result<Node> {
    let mut updated = node.clone();
    updated.spec.get_or_insert_with(Default::default).taints = Some(taints);
    let api: Api<Node> = Api::all(context.client.clone());
    let name = node.metadata.name.clone().unwrap_or_default();
    api.replace(&name, &PostParams::default(), &updated).await
}

/// Upstream's MarkPodsNotReady: the pods of a node that is not ready stop being Ready.
async fn mark_pods_not_ready(context: &Context, node_name: &str) {
    for pod in context.pods_by_node.get(&context.pods, node_name) {
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True");
        if !ready {
            continue;
        }
        let mut updated: Pod = (*pod).clone();
        if let Some(conditions) = updated.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            for condition in conditions.iter_mut().filter(|c| c.type_ == "Ready") {
                condition.status = "False".into();
                condition.last_transition_time = Some(Time(Timestamp::now()));
            }
        }
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
        match api
            .replace_status(&name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => {
                context
                    .node_events
                    .warning(&reference_to(&*pod), "NodeNotReady", "Node is not ready")
                    .await
            }
            Err(err) => tracing::debug!(%err, pod = name, "marking pod not ready failed"),
        }
    }
}
