//! ReplicaSet, ReplicationController and Deployment controllers against a real control plane
//! (`keelson control-plane`, built first with `cargo build -p keelson`). The test plays the
//! kubelet: it marks pods Running and Ready through the pods/status subresource.

use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod, ReplicationController};
use keelson_e2e::ControlPlane;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Config, ResourceExt};
use serde_json::{Value, json};

const NS: &str = "default";

async fn connect(plane: &ControlPlane) -> anyhow::Result<Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(plane.kubeconfig())?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(Client::try_from(config)?)
}

/// A control plane and a client, once the default service account exists (pods need it).
/// The service-account controller makes it; these tests are not about that controller, so
/// they make it themselves if it is late.
async fn start() -> anyhow::Result<(ControlPlane, Client)> {
    let plane = ControlPlane::start("1.33")?;
    let client = connect(&plane).await?;
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), NS);
    let made = eventually(
        "the default service account",
        Duration::from_secs(5),
        || async { Ok(accounts.get_opt("default").await?.map(|_| ())) },
    )
    .await;
    if made.is_err() {
        let account = serde_json::from_value(json!({"metadata": {"name": "default"}}))?;
        match accounts.create(&PostParams::default(), &account).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok((plane, client))
}

/// Run a test body against a fresh control plane; on failure, show the end of its log.
async fn with_plane<F, Fut>(body: F) -> anyhow::Result<()>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let (plane, client) = start().await?;
    let result = body(client).await;
    if result.is_err() {
        eprintln!("control plane log:\n{}", plane.log_tail());
    }
    result
}

/// Poll `check` until it yields a value or `timeout` passes.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(err) => last_error = Some(err),
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what} (last error: {last_error:?})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn controller_uid(pod: &Pod) -> Option<String> {
    pod.owner_references()
        .iter()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.clone())
}

fn is_active(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && !matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
}

async fn pods_of(pods: &Api<Pod>, owner_uid: &str) -> anyhow::Result<Vec<Pod>> {
    Ok(pods
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|p| controller_uid(p).as_deref() == Some(owner_uid) && is_active(p))
        .collect())
}

/// Act as the kubelet: every pending pod becomes Running and Ready.
async fn make_ready(pods: &Api<Pod>) -> anyhow::Result<usize> {
    make_ready_if(pods, |_| true).await
}

fn image_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

/// Act as the kubelet for the pods `runs` accepts.
async fn make_ready_if(pods: &Api<Pod>, runs: impl Fn(&Pod) -> bool) -> anyhow::Result<usize> {
    make_ready_at_most(pods, runs, usize::MAX).await
}

async fn make_ready_at_most(
    pods: &Api<Pod>,
    runs: impl Fn(&Pod) -> bool,
    limit: usize,
) -> anyhow::Result<usize> {
    let mut count = 0;
    for pod in pods.list(&ListParams::default()).await?.items {
        if !runs(&pod) {
            continue;
        }
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if ready || !is_active(&pod) {
            continue;
        }
        if count >= limit {
            break;
        }
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let status = json!({"status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
        }});
        pods.patch_status(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await?;
        count += 1;
    }
    Ok(count)
}

fn template(labels: &Value, image: &str) -> Value {
    json!({
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": image}]},
    })
}

fn replica_set(name: &str, replicas: i32, app: &str) -> anyhow::Result<ReplicaSet> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": template(&json!({"app": app}), "nginx:1"),
        },
    }))?)
}

fn orphan_pod(name: &str, labels: Value) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1"}]},
    }))?)
}

#[tokio::test]
async fn replicaset_creates_adopts_releases_and_scales() -> anyhow::Result<()> {
    with_plane(|client| async move {
        let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
        let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);

        pods.create(
            &PostParams::default(),
            &orphan_pod("stray", json!({"app": "web"}))?,
        )
        .await?;
        let rs = sets
            .create(&PostParams::default(), &replica_set("web", 3, "web")?)
            .await?;
        let uid = rs.uid().context("uid")?;

        // Two new pods plus the adopted orphan.
        let owned = eventually("3 pods", Duration::from_secs(20), || async {
            let owned = pods_of(&pods, &uid).await?;
            Ok((owned.len() == 3).then_some(owned))
        })
        .await?;
        let stray = owned
            .iter()
            .find(|p| p.name_any() == "stray")
            .context("the orphan was not adopted")?;
        let reference = &stray.owner_references()[0];
        assert_eq!(reference.kind, "ReplicaSet");
        assert_eq!(reference.block_owner_deletion, Some(true));
        for pod in owned.iter().filter(|p| p.name_any() != "stray") {
            assert!(pod.name_any().starts_with("web-"), "{}", pod.name_any());
        }
        // It never overshoots.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(pods_of(&pods, &uid).await?.len(), 3);

        // A pod that stops matching is released and replaced.
        pods.patch(
            "stray",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"app": "other"}}})),
        )
        .await?;
        eventually(
            "release and replacement",
            Duration::from_secs(20),
            || async {
                let released = pods.get("stray").await?.owner_references().is_empty();
                let owned = pods_of(&pods, &uid).await?;
                Ok(
                    (released && owned.len() == 3 && owned.iter().all(|p| p.name_any() != "stray"))
                        .then_some(()),
                )
            },
        )
        .await?;

        // A deleted pod is replaced.
        let victim = pods_of(&pods, &uid).await?[0].name_any();
        pods.delete(&victim, &DeleteParams::default()).await?;
        eventually("a replacement", Duration::from_secs(20), || async {
            let owned = pods_of(&pods, &uid).await?;
            Ok((owned.len() == 3 && owned.iter().all(|p| p.name_any() != victim)).then_some(()))
        })
        .await?;

        // Status follows the kubelet.
        make_ready(&pods).await?;
        eventually("ready status", Duration::from_secs(20), || async {
            let status = sets.get("web").await?.status.context("status")?;
            Ok((status.replicas == 3
                && status.ready_replicas == Some(3)
                && status.available_replicas == Some(3)
                && status.fully_labeled_replicas == Some(3)
                && status.observed_generation == Some(1))
            .then_some(()))
        })
        .await?;

        // Scale down.
        sets.patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 1}})),
        )
        .await?;
        eventually("scale down to 1", Duration::from_secs(20), || async {
            let status = sets.get("web").await?.status.context("status")?;
            let owned = pods_of(&pods, &uid).await?;
            Ok(
                (owned.len() == 1 && status.replicas == 1 && status.observed_generation == Some(2))
                    .then_some(()),
            )
        })
        .await?;

        let events: Api<Event> = Api::namespaced(client.clone(), NS);
        let reasons: Vec<(String, String, String)> = events
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("web"))
            .map(|e| {
                (
                    e.reason.unwrap_or_default(),
                    e.source.and_then(|s| s.component).unwrap_or_default(),
                    e.message.unwrap_or_default(),
                )
            })
            .collect();
        assert!(
            reasons.iter().any(|(r, c, m)| r == "SuccessfulCreate"
                && c == "replicaset-controller"
                && m.starts_with("Created pod: web-")),
            "{reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|(r, _, m)| r == "SuccessfulDelete" && m.starts_with("Deleted pod: ")),
            "{reasons:?}"
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn replication_controller_keeps_its_replicas() -> anyhow::Result<()> {
    with_plane(|client| async move {
        let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
        let controllers: Api<ReplicationController> = Api::namespaced(client.clone(), NS);
        let rc: ReplicationController = serde_json::from_value(json!({
            "metadata": {"name": "legacy"},
            "spec": {
                "replicas": 2,
                "selector": {"app": "legacy"},
                "template": template(&json!({"app": "legacy"}), "nginx:1"),
            },
        }))?;
        let uid = controllers
            .create(&PostParams::default(), &rc)
            .await?
            .uid()
            .context("uid")?;
        eventually("2 pods", Duration::from_secs(20), || async {
            Ok((pods_of(&pods, &uid).await?.len() == 2).then_some(()))
        })
        .await?;
        make_ready(&pods).await?;
        eventually("ready status", Duration::from_secs(20), || async {
            let status = controllers.get("legacy").await?.status.context("status")?;
            Ok((status.replicas == 2 && status.ready_replicas == Some(2)).then_some(()))
        })
        .await?;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Deployments

const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH: &str = "pod-template-hash";

/// A background fake kubelet that readies the pods `runs` accepts; stops when dropped.
struct Kubelet(tokio::task::JoinHandle<()>);

impl Kubelet {
    fn start(pods: Api<Pod>, runs: fn(&Pod) -> bool) -> Self {
        Self::paced(pods, runs, usize::MAX, Duration::from_millis(100))
    }

    /// Readies at most `per_round` pods every `period`.
    fn paced(pods: Api<Pod>, runs: fn(&Pod) -> bool, per_round: usize, period: Duration) -> Self {
        Kubelet(tokio::spawn(async move {
            loop {
                let _ = make_ready_at_most(&pods, runs, per_round).await;
                tokio::time::sleep(period).await;
            }
        }))
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn deployment(
    name: &str,
    replicas: i32,
    strategy: Value,
    image: &str,
) -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": {"kubernetes.io/change-cause": format!("image {image}")}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": template(&json!({"app": name}), image),
        },
    }))?)
}

/// The ReplicaSets a deployment controls.
async fn sets_of(sets: &Api<ReplicaSet>, d: &Deployment) -> anyhow::Result<Vec<ReplicaSet>> {
    let uid = d.uid().context("uid")?;
    Ok(sets
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|rs| {
            rs.owner_references()
                .iter()
                .any(|r| r.controller == Some(true) && r.uid == uid)
        })
        .collect())
}

fn condition(d: &Deployment, type_: &str) -> Option<(String, String)> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
}

/// What `kubectl rollout status` waits for.
fn rolled_out(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(status) = &d.status else {
        return false;
    };
    status.observed_generation >= d.metadata.generation
        && status.updated_replicas.unwrap_or(0) == want
        && status.replicas.unwrap_or(0) == want
        && status.available_replicas.unwrap_or(0) == want
        && condition(d, "Progressing")
            .is_some_and(|(s, r)| s == "True" && r == "NewReplicaSetAvailable")
        && condition(d, "Available").is_some_and(|(s, _)| s == "True")
}

async fn wait_rolled_out(deployments: &Api<Deployment>, name: &str) -> anyhow::Result<Deployment> {
    let result = eventually("the rollout", Duration::from_secs(60), || async {
        let d = deployments.get(name).await?;
        Ok(rolled_out(&d).then_some(d))
    })
    .await;
    if result.is_err() {
        let d = deployments.get(name).await?;
        bail!("{name} did not roll out: {:?} {:?}", d.metadata, d.status);
    }
    result
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

/// Watches a deployment's pods while it rolls and remembers the worst moments: the most
/// active pods and the fewest ready ones.
struct Monitor {
    task: tokio::task::JoinHandle<()>,
    worst: std::sync::Arc<std::sync::Mutex<(usize, usize, i32)>>,
}

impl Monitor {
    fn start(pods: Api<Pod>, sets: Api<ReplicaSet>, app: &'static str) -> Self {
        let worst = std::sync::Arc::new(std::sync::Mutex::new((0usize, usize::MAX, 0i32)));
        let record = worst.clone();
        let task = tokio::spawn(async move {
            loop {
                let selector = ListParams::default().labels(&format!("app={app}"));
                if let (Ok(list), Ok(rs_list)) =
                    (pods.list(&selector).await, sets.list(&selector).await)
                {
                    let active: Vec<&Pod> = list.items.iter().filter(|p| is_active(p)).collect();
                    let ready = active
                        .iter()
                        .filter(|p| {
                            p.status
                                .as_ref()
                                .and_then(|s| s.conditions.as_ref())
                                .is_some_and(|c| {
                                    c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                                })
                        })
                        .count();
                    let spec_total: i32 = rs_list.items.iter().map(rs_replicas).sum();
                    let mut w = record.lock().unwrap();
                    w.0 = w.0.max(active.len());
                    w.1 = w.1.min(ready);
                    w.2 = w.2.max(spec_total);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Monitor { task, worst }
    }

    /// (most active pods, fewest ready pods, largest sum of ReplicaSet sizes)
    fn stop(self) -> (usize, usize, i32) {
        self.task.abort();
        *self.worst.lock().unwrap()
    }
}

#[tokio::test]
async fn deployment_rolls_within_surge_and_unavailability_and_rolls_back() -> anyhow::Result<()> {
    with_plane(|client| async move {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let _kubelet = Kubelet::start(pods.clone(), |_| true);
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}});
    deployments
        .create(
            &PostParams::default(),
            &deployment("web", 4, strategy, "nginx:1")?,
        )
        .await?;
    let d = wait_rolled_out(&deployments, "web").await?;
    let first = sets_of(&sets, &d).await?;
    assert_eq!(first.len(), 1);
    let rs1 = &first[0];
    let hash = rs1
        .labels()
        .get(HASH)
        .context("pod-template-hash label")?
        .clone();
    assert_eq!(rs1.name_any(), format!("web-{hash}"));
    let annotations = rs1.annotations();
    assert_eq!(annotations[REVISION], "1");
    assert_eq!(
        annotations["deployment.kubernetes.io/desired-replicas"],
        "4"
    );
    assert_eq!(annotations["deployment.kubernetes.io/max-replicas"], "5");
    assert_eq!(annotations["kubernetes.io/change-cause"], "image nginx:1");
    assert_eq!(d.annotations()[REVISION], "1");
    for pod in pods_of(&pods, &rs1.uid().unwrap()).await? {
        assert_eq!(pod.labels()[HASH], hash);
    }

    // Roll a new image: never more than replicas+maxSurge pods, never fewer than
    // replicas-maxUnavailable ready.
    let monitor = Monitor::start(pods.clone(), sets.clone(), "web");
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(&json!({
                "metadata": {"annotations": {"kubernetes.io/change-cause": "image nginx:2"}},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}},
            })),
        )
        .await?;
    let d = eventually("the second rollout", Duration::from_secs(60), || async {
        let d = deployments.get("web").await?;
        Ok(
            (rolled_out(&d) && d.status.as_ref().and_then(|s| s.observed_generation) == Some(2))
                .then_some(d),
        )
    })
    .await?;
    let (most_pods, fewest_ready, most_spec) = monitor.stop();
    assert!(most_pods <= 5, "{most_pods} active pods with maxSurge 1");
    assert!(
        most_spec <= 5,
        "ReplicaSets sized {most_spec} in total with maxSurge 1"
    );
    assert!(
        fewest_ready >= 3,
        "{fewest_ready} ready pods with maxUnavailable 1"
    );
    let all = sets_of(&sets, &d).await?;
    assert_eq!(all.len(), 2);
    let rs2 = all
        .iter()
        .find(|rs| rs.uid() != rs1.uid())
        .context("new rs")?;
    assert_eq!(rs2.annotations()[REVISION], "2");
    assert_eq!(
        rs_replicas(all.iter().find(|rs| rs.uid() == rs1.uid()).unwrap()),
        0
    );
    assert_eq!(d.annotations()[REVISION], "2");

    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let messages: Vec<String> = events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some("ScalingReplicaSet")
                && e.source.as_ref().and_then(|s| s.component.as_deref())
                    == Some("deployment-controller")
        })
        .filter_map(|e| e.message)
        .collect();
    let expected = format!("Scaled up replica set web-{hash} from 0 to 4");
    assert!(messages.contains(&expected), "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with(&format!("Scaled down replica set web-{hash} from 4 to "))),
        "{messages:?}"
    );

    // kubectl rollout undo --to-revision=1: the deployment gets revision 1's template (without
    // the hash label) and its change-cause.
    let mut template = serde_json::to_value(rs1.spec.as_ref().unwrap().template.as_ref().unwrap())?;
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove(HASH);
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(json!([
                {"op": "replace", "path": "/spec/template", "value": template},
                {"op": "replace", "path": "/metadata/annotations/kubernetes.io~1change-cause", "value": "image nginx:1"},
            ]))?),
        )
        .await?;
    let d = eventually("the rollback", Duration::from_secs(60), || async {
        let d = deployments.get("web").await?;
        Ok(
            (rolled_out(&d) && d.status.as_ref().and_then(|s| s.observed_generation) == Some(3))
                .then_some(d),
        )
    })
    .await?;
    let all = sets_of(&sets, &d).await?;
    assert_eq!(all.len(), 2, "a rollback reuses the old ReplicaSet");
    let back = all.iter().find(|rs| rs.uid() == rs1.uid()).context("rs1")?;
    assert_eq!(rs_replicas(back), 4);
    assert_eq!(back.annotations()[REVISION], "3");
    assert_eq!(
        back.annotations()["deployment.kubernetes.io/revision-history"],
        "1"
    );
    assert_eq!(d.annotations()[REVISION], "3");
    Ok(())
    })
    .await
}

#[tokio::test]
async fn deployment_pause_resume_recreate_and_history_limit() -> anyhow::Result<()> {
    with_plane(|client| async move {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let _kubelet = Kubelet::start(pods.clone(), |_| true);
    let mut d = deployment("batch", 2, json!({"type": "Recreate"}), "busybox:1")?;
    d.spec.as_mut().unwrap().revision_history_limit = Some(1);
    deployments.create(&PostParams::default(), &d).await?;
    let d = wait_rolled_out(&deployments, "batch").await?;

    // Paused: a template change waits, a scale does not.
    deployments
        .patch(
            "batch",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"paused": true}})),
        )
        .await?;
    eventually("the paused condition", Duration::from_secs(20), || async {
        let d = deployments.get("batch").await?;
        Ok(
            (condition(&d, "Progressing") == Some(("Unknown".into(), "DeploymentPaused".into())))
                .then_some(()),
        )
    })
    .await?;
    let image = |image: &str| json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}});
    deployments
        .patch(
            "batch",
            &PatchParams::default(),
            &Patch::Strategic(&image("busybox:2")),
        )
        .await?;
    deployments
        .patch(
            "batch",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 3}})),
        )
        .await?;
    eventually("scaling while paused", Duration::from_secs(20), || async {
        let all = sets_of(&sets, &d).await?;
        Ok((all.len() == 1 && rs_replicas(&all[0]) == 3).then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sets_of(&sets, &d).await?.len(),
        1,
        "a paused deployment rolled out"
    );

    // Resumed, Recreate: the old pods are gone before any new one exists.
    let monitor = Monitor::start(pods.clone(), sets.clone(), "batch");
    deployments
        .patch(
            "batch",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"paused": false}})),
        )
        .await?;
    let d = eventually("the recreate rollout", Duration::from_secs(60), || async {
        let d = deployments.get("batch").await?;
        let revision = d.annotations().get(REVISION).cloned();
        Ok((rolled_out(&d) && revision.as_deref() == Some("2")).then_some(d))
    })
    .await?;
    let (most_pods, _, most_spec) = monitor.stop();
    assert!(
        most_pods <= 3 && most_spec <= 3,
        "{most_pods} pods, {most_spec} replicas under Recreate"
    );

    // Two more revisions: only one old ReplicaSet is kept.
    for (n, tag) in ["busybox:3", "busybox:4"].iter().enumerate() {
        deployments
            .patch(
                "batch",
                &PatchParams::default(),
                &Patch::Strategic(&image(tag)),
            )
            .await?;
        eventually("the next revision", Duration::from_secs(60), || async {
            let d = deployments.get("batch").await?;
            let revision = d.annotations().get(REVISION).cloned();
            Ok((rolled_out(&d) && revision == Some((n + 3).to_string())).then_some(()))
        })
        .await?;
    }
    let kept = eventually("history cleanup", Duration::from_secs(20), || async {
        let all = sets_of(&sets, &d).await?;
        Ok((all.len() == 2).then_some(all))
    })
    .await?;
    let mut revisions: Vec<String> = kept
        .iter()
        .map(|rs| rs.annotations()[REVISION].clone())
        .collect();
    revisions.sort();
    assert_eq!(revisions, vec!["3".to_string(), "4".to_string()]);
    Ok(())
    })
    .await
}

#[tokio::test]
async fn deployment_scales_proportionally_mid_rollout_and_reports_deadlines() -> anyhow::Result<()>
{
    with_plane(|client| async move {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    // The new image never becomes ready, so the rollout stalls halfway.
    let _kubelet = Kubelet::start(pods.clone(), |p| image_of(p) == "nginx:1");
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}});
    let mut d = deployment("big", 10, strategy, "nginx:1")?;
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(2);
    deployments.create(&PostParams::default(), &d).await?;
    let d = wait_rolled_out(&deployments, "big").await?;
    deployments
        .patch(
            "big",
            &PatchParams::default(),
            &Patch::Strategic(&json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}})),
        )
        .await?;
    // 13 = 10 + maxSurge: the old ReplicaSet drops to 8 (10 - maxUnavailable) and the new one
    // fills the surge up to 5.
    eventually("the stalled rollout", Duration::from_secs(30), || async {
        let dep = deployments.get("big").await?;
        let stalled = condition(&dep, "Progressing")
            == Some(("False".into(), "ProgressDeadlineExceeded".into()));
        let mut sizes: Vec<i32> = sets_of(&sets, &d).await?.iter().map(rs_replicas).collect();
        sizes.sort();
        Ok((stalled && sizes == vec![5, 8]).then_some(()))
    })
    .await?;
    deployments
        .patch(
            "big",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 20}})),
        )
        .await?;
    // Upstream's proportions: 23 allowed, 10 to add; the old set (8 of 13) gets
    // round(8*23/13)-8 = 6, the new one (5 of 13) round(5*23/13)-5 = 4.
    eventually("proportional scaling", Duration::from_secs(30), || async {
        let mut sizes: Vec<i32> = sets_of(&sets, &d).await?.iter().map(rs_replicas).collect();
        sizes.sort();
        Ok((sizes == vec![9, 14]).then_some(()))
    })
    .await?;
    Ok(())
    })
    .await
}

#[tokio::test]
async fn deployment_rollout_survives_a_control_plane_restart() -> anyhow::Result<()> {
    let (mut plane, client) = start().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}});
    deployments
        .create(
            &PostParams::default(),
            &deployment("steady", 6, strategy, "nginx:1")?,
        )
        .await?;
    let kubelet = Kubelet::start(pods.clone(), |_| true);
    wait_rolled_out(&deployments, "steady").await?;
    drop(kubelet);

    // A slow kubelet keeps the rollout going while the control plane restarts.
    let _kubelet = Kubelet::paced(pods.clone(), |_| true, 1, Duration::from_millis(600));
    let monitor = Monitor::start(pods.clone(), sets.clone(), "steady");
    deployments
        .patch(
            "steady",
            &PatchParams::default(),
            &Patch::Strategic(&json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}})),
        )
        .await?;
    eventually("the rollout to start", Duration::from_secs(20), || async {
        let d = deployments.get("steady").await?;
        Ok((d.status.and_then(|s| s.updated_replicas).unwrap_or(0) >= 1).then_some(()))
    })
    .await?;
    plane.restart(false)?;
    let d =
        eventually(
            "the rollout after the restart",
            Duration::from_secs(90),
            || async {
                let d = deployments.get("steady").await?;
                Ok((rolled_out(&d)
                    && d.status.as_ref().and_then(|s| s.observed_generation) == Some(2))
                .then_some(d))
            },
        )
        .await?;
    let (most_pods, fewest_ready, most_spec) = monitor.stop();
    assert!(most_pods <= 8, "{most_pods} active pods with maxSurge 2");
    assert!(
        most_spec <= 8,
        "ReplicaSets sized {most_spec} in total with maxSurge 2"
    );
    assert!(
        fewest_ready >= 6,
        "{fewest_ready} ready pods with maxUnavailable 0"
    );
    let all = sets_of(&sets, &d).await?;
    assert_eq!(all.len(), 2);
    assert_eq!(all.iter().map(rs_replicas).sum::<i32>(), 6);
    Ok(())
}
