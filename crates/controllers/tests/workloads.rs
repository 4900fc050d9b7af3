//! ReplicaSet, ReplicationController and Deployment controllers against a real control plane
//! (`keelson control-plane`, built first with `cargo build -p keelson`). The test plays the
//! kubelet: it marks pods Running and Ready through the pods/status subresource.

use std::collections::BTreeMap;
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
async fn start() -> anyhow::Result<(ControlPlane, Client)> {
    let plane = ControlPlane::start("1.33")?;
    let client = connect(&plane).await?;
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), NS);
    eventually(
        "the default service account",
        Duration::from_secs(30),
        || async { Ok(accounts.get_opt("default").await?.map(|_| ())) },
    )
    .await?;
    Ok((plane, client))
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
    let mut count = 0;
    for pod in pods.list(&ListParams::default()).await?.items {
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if ready || !is_active(&pod) {
            continue;
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
    let (_plane, client) = start().await?;
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
}

#[tokio::test]
async fn replication_controller_keeps_its_replicas() -> anyhow::Result<()> {
    let (_plane, client) = start().await?;
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
    let _ = BTreeMap::<String, String>::new();
    let _ = Api::<Deployment>::namespaced(client, NS);
    Ok(())
}
