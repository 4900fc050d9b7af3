//! Scheduler throughput against a real API server, in the spirit of upstream's scheduler_perf:
//! simulated Nodes (objects only), pending pods created first, then a scheduler started in
//! this process; pods/s is measured from the first binding to the last.
//!
//! Bench pods use their own schedulerName, so a default scheduler already running in the
//! control plane leaves them alone.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::SchedulerError;

pub const BENCH_SCHEDULER_NAME: &str = "keelson-bench-scheduler";
const NAMESPACE: &str = "default";
const CREATE_CONCURRENCY: usize = 64;
const ZONES: usize = 10;

#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub nodes: usize,
    /// Pods of the basic case.
    pub basic_pods: usize,
    /// Pods of each of the affinity and spreading cases (0 skips them).
    pub constrained_pods: usize,
    /// Give up on a case after this long.
    pub case_timeout: Duration,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            nodes: 5000,
            basic_pods: 10_000,
            constrained_pods: 1000,
            case_timeout: Duration::from_secs(600),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CaseResult {
    pub name: &'static str,
    pub pods: usize,
    /// From starting the scheduler to the last binding (informer sync included).
    pub total: Duration,
    /// Bindings per second between the first and the last.
    pub pods_per_second: f64,
}

#[derive(Clone, Debug)]
pub struct BenchReport {
    pub nodes: usize,
    pub cases: Vec<CaseResult>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "| case ({} nodes) | pods | total s | pods/s |",
            self.nodes
        )?;
        writeln!(f, "| --- | ---: | ---: | ---: |")?;
        for c in &self.cases {
            writeln!(
                f,
                "| {} | {} | {:.2} | {:.0} |",
                c.name,
                c.pods,
                c.total.as_secs_f64(),
                c.pods_per_second
            )?;
        }
        Ok(())
    }
}

fn node(i: usize) -> Value {
    let name = format!("bench-node-{i}");
    let resources =
        json!({"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"});
    json!({
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name,
            "topology.kubernetes.io/zone": format!("zone-{}", i % ZONES),
            "bench.keelson.dev/node": "true"}},
        "status": {"allocatable": resources, "capacity": resources,
                   "conditions": [{"type": "Ready", "status": "True"}]},
    })
}

/// Create `count` objects from `make`, CREATE_CONCURRENCY at a time.
async fn create_all<K>(
    api: &Api<K>,
    count: usize,
    make: impl Fn(usize) -> Value,
) -> Result<Vec<K>, SchedulerError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + fmt::Debug,
{
    let objects: Vec<K> = (0..count)
        .map(|i| serde_json::from_value(make(i)))
        .collect::<Result<_, _>>()
        .map_err(|e| SchedulerError::Bench(format!("bench object: {e}")))?;
    let params = PostParams::default();
    futures::stream::iter(objects.iter().map(|obj| api.create(&params, obj)))
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect()
        .await
        .map_err(SchedulerError::Kube)
}

async fn create_nodes(client: &kube::Client, count: usize) -> Result<(), SchedulerError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let created = create_all(&nodes, count, node).await?;
    // Some servers drop status on create (the kubelet's way); set it through the subresource.
    let has_allocatable = created
        .first()
        .and_then(|n| n.status.as_ref())
        .and_then(|s| s.allocatable.as_ref())
        .is_some();
    if !has_allocatable {
        let patches = (0..count).map(|i| {
            let nodes = nodes.clone();
            async move {
                let status = json!({"status": node(i)["status"]});
                nodes
                    .patch_status(
                        &format!("bench-node-{i}"),
                        &kube::api::PatchParams::default(),
                        &kube::api::Patch::Merge(&status),
                    )
                    .await
            }
        });
        futures::stream::iter(patches)
            .buffer_unordered(CREATE_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
    }
    Ok(())
}

/// The constrained cases of upstream's scheduler_perf that the issue names.
pub const CONSTRAINED_CASES: [&str; 3] = ["anti-affinity", "preferred-affinity", "topology-spread"];

/// What a constrained case adds to a pod's spec; each selects the pods of its own case.
fn constrained_spec(case: &str) -> Value {
    match case {
        "anti-affinity" => {
            json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"bench": case}}, "topologyKey": "kubernetes.io/hostname"}]}}})
        }
        "preferred-affinity" => {
            json!({"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 10, "podAffinityTerm": {"labelSelector": {"matchLabels": {"bench": case, "group": "g0"}},
            "topologyKey": "topology.kubernetes.io/zone"}}]}}})
        }
        _ => json!({"topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"bench": case}}}]}),
    }
}

/// A pod of a constrained case for [`core_throughput`], as the informer would convert it.
pub fn constrained_pod(case: &str, i: usize) -> crate::model::PodInfo {
    let mut value = pod(case, i, &constrained_spec(case));
    value["metadata"]["namespace"] = json!(NAMESPACE);
    value["metadata"]["uid"] = json!(format!("{case}-{i}"));
    value["spec"]["schedulerName"] = json!(crate::SCHEDULER_NAME);
    let pod: Pod = serde_json::from_value(value).expect("a well-formed bench pod");
    crate::convert::pod(&pod)
}

fn pod(case: &str, i: usize, extra_spec: &Value) -> Value {
    let mut spec = json!({
        "schedulerName": BENCH_SCHEDULER_NAME,
        "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}}],
    });
    for (k, v) in extra_spec.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    json!({
        "metadata": {"name": format!("{case}-{i}"), "labels": {"bench": case, "group": format!("g{}", i % 10)}},
        "spec": spec,
    })
}

/// Watch the case's pods until all are bound; (first binding, last binding).
async fn wait_bound(
    pods: Api<Pod>,
    case: &str,
    count: usize,
    timeout: Duration,
) -> Result<(Instant, Instant), SchedulerError> {
    let config = watcher::Config::default().labels(&format!("bench={case}"));
    let mut stream = watcher::watcher(pods, config).applied_objects().boxed();
    let mut bound = HashSet::new();
    let mut first = None;
    let deadline = tokio::time::Instant::now() + timeout;
    while bound.len() < count {
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .map_err(|_| {
                SchedulerError::Bench(format!(
                    "{case}: only {} of {count} pods bound in time",
                    bound.len()
                ))
            })?;
        let Some(Ok(pod)) = next else { continue };
        if pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some_and(|n| !n.is_empty())
            && bound.insert(pod.metadata.name.unwrap_or_default())
        {
            first.get_or_insert_with(Instant::now);
        }
    }
    let last = Instant::now();
    Ok((first.unwrap_or(last), last))
}

async fn run_case(
    client: &kube::Client,
    name: &'static str,
    count: usize,
    extra_spec: Value,
    timeout: Duration,
) -> Result<CaseResult, SchedulerError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    create_all(&pods, count, |i| pod(name, i, &extra_spec)).await?;
    let waiter = tokio::spawn(wait_bound(pods, name, count, timeout));
    let started = Instant::now();
    let stop = CancellationToken::new();
    let scheduler = tokio::spawn(crate::run_named(
        client.clone(),
        format!("bench-{name}"),
        BENCH_SCHEDULER_NAME.into(),
        stop.clone(),
    ));
    let outcome = waiter
        .await
        .map_err(|e| SchedulerError::Bench(format!("{name}: watcher task: {e}")));
    stop.cancel();
    let _ = scheduler.await;
    let (first, last) = outcome??;
    let window = last.duration_since(first).as_secs_f64();
    Ok(CaseResult {
        name,
        pods: count,
        total: last.duration_since(started),
        pods_per_second: if window > 0.0 {
            (count.saturating_sub(1)) as f64 / window
        } else {
            count as f64
        },
    })
}

/// Run the cases on the cluster `client` reaches (it needs the rights of an administrator).
pub async fn bench(
    client: kube::Client,
    options: BenchOptions,
) -> Result<BenchReport, SchedulerError> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), NAMESPACE);
    let deadline = Instant::now() + Duration::from_secs(60);
    while accounts.get_opt("default").await?.is_none() {
        if Instant::now() > deadline {
            return Err(SchedulerError::Bench("no default service account".into()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    create_nodes(&client, options.nodes).await?;
    let mut cases = vec![
        run_case(
            &client,
            "basic",
            options.basic_pods,
            json!({}),
            options.case_timeout,
        )
        .await?,
    ];
    if options.constrained_pods > 0 {
        for case in CONSTRAINED_CASES {
            let n = options.constrained_pods;
            cases.push(
                run_case(
                    &client,
                    case,
                    n,
                    constrained_spec(case),
                    options.case_timeout,
                )
                .await?,
            );
        }
    }
    Ok(BenchReport {
        nodes: options.nodes,
        cases,
    })
}

/// Scheduling cycles per second of the core alone (no API server): `nodes` simulated nodes,
/// `pods` pods built by `make_pod`, each binding confirmed at once as the informer would.
pub fn core_throughput(
    nodes: usize,
    pods: usize,
    make_pod: impl Fn(usize) -> crate::model::PodInfo,
) -> f64 {
    core_throughput_among(nodes, 0, pods, make_pod)
}

/// [`core_throughput`] with `placed` basic pods already spread over the nodes, as when the
/// constrained cases run after the basic one.
pub fn core_throughput_among(
    nodes: usize,
    placed: usize,
    pods: usize,
    make_pod: impl Fn(usize) -> crate::model::PodInfo,
) -> f64 {
    use crate::model::{NodeSpec, Resources};
    let mut state = crate::state::State::default();
    let now = Instant::now();
    for i in 0..nodes {
        let name = format!("node-{i}");
        state.on_node(
            NodeSpec {
                labels: [
                    ("kubernetes.io/hostname".to_string(), name.clone()),
                    (
                        "topology.kubernetes.io/zone".to_string(),
                        format!("zone-{}", i % ZONES),
                    ),
                ]
                .into(),
                name,
                allocatable: Resources {
                    milli_cpu: 32_000,
                    memory: 128 << 30,
                    pods: 110,
                    ..Default::default()
                },
                ..Default::default()
            },
            now,
        );
    }
    for i in 0..placed {
        let mut pod = basic_pod(pods + i);
        pod.node_name = format!("node-{}", i % nodes.max(1));
        state.on_pod(pod, now);
    }
    for i in 0..pods {
        state.on_pod(make_pod(i), now);
    }
    let started = Instant::now();
    let mut scheduled = 0;
    while let Some(decision) = state.schedule_next(now) {
        if let crate::state::Decision::Bind { pod, node } = decision {
            let mut bound = (*pod).clone();
            bound.node_name = node;
            state.on_pod(bound, now);
            scheduled += 1;
        }
    }
    scheduled as f64 / started.elapsed().as_secs_f64()
}

/// A basic pod for [`core_throughput`]: 100m cpu, 100Mi memory.
pub fn basic_pod(i: usize) -> crate::model::PodInfo {
    let mut pod = crate::model::PodInfo {
        uid: format!("uid-{i}"),
        name: format!("pod-{i}"),
        namespace: NAMESPACE.into(),
        scheduler_name: crate::SCHEDULER_NAME.into(),
        labels: [("bench".to_string(), "basic".to_string())].into(),
        non_zero_milli_cpu: 100,
        non_zero_memory: 100 << 20,
        ..Default::default()
    };
    pod.requests.milli_cpu = 100;
    pod.requests.memory = 100 << 20;
    pod
}
