//! A cluster's whole life through the API, against real control planes: create → ACTIVE with
//! a working Kubernetes API, crash of the control plane → restarted, service restart (with a
//! stale child left behind) → same endpoint, CA and data, delete → data gone.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{Harness, create_body, kube_client};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_lives_crashes_restarts_and_is_deleted() -> anyhow::Result<()> {
    let mut harness = Harness::start().await?;
    let started = Instant::now();
    let (status, created) = harness
        .call("POST", "/clusters", Some(create_body("prod", "1.33")))
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["cluster"]["status"], "CREATING");
    let cluster = harness
        .wait_status("prod", "ACTIVE", Duration::from_secs(60))
        .await?;
    let to_active = started.elapsed();
    let dir = harness.cluster_dir("prod");
    let pods: Api<ConfigMap> = Api::namespaced(kube_client(&dir).await?, "default");
    pods.create(&PostParams::default(), &config_map("before-crash"))
        .await?;
    println!(
        "CREATING -> ACTIVE with the Kubernetes API answering in {:?}",
        started.elapsed()
    );
    assert!(to_active < Duration::from_secs(20), "took {to_active:?}");

    let endpoint = cluster["endpoint"].as_str().unwrap().to_string();
    assert!(endpoint.starts_with("https://127.0.0.1:"));
    let ca = std::fs::read(dir.join("pki/ca.crt"))?;
    let ca_data = base64::engine::general_purpose::STANDARD.encode(&ca);
    assert_eq!(cluster["certificateAuthority"]["data"], ca_data.as_str());
    assert_eq!(
        cluster["arn"],
        "arn:aws:eks:us-west-2:111122223333:cluster/prod"
    );
    assert_eq!(cluster["version"], "1.33");
    assert_eq!(cluster["health"]["issues"], json!([]));
    assert!(
        cluster["identity"]["oidc"]["issuer"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:8443/oidc/id/")
    );
    assert!(cluster["createdAt"].is_number());

    // kill -9 of the control plane: the supervisor starts a new one on the same port and data.
    let first = common::child_pid(&dir).expect("pid recorded");
    Command::new("kill")
        .args(["-KILL", &first.to_string()])
        .status()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pid = common::child_pid(&dir);
        let (_, body) = harness.call("GET", "/clusters/prod", None).await;
        let healthy = body["cluster"]["health"]["issues"] == json!([]);
        if pid.is_some_and(|p| p != first && common::is_running(p))
            && healthy
            && body["cluster"]["status"] == "ACTIVE"
        {
            break;
        }
        assert!(Instant::now() < deadline, "not restarted: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pods: Api<ConfigMap> = Api::namespaced(kube_client(&dir).await?, "default");
    assert_eq!(pods.get("before-crash").await?.data.unwrap()["k"], "v");

    // The service stops; a control plane from an earlier, killed instance is still running
    // for this directory. The restarted service stops it and brings the cluster back.
    harness.eks.shutdown().await;
    let port = endpoint.rsplit(':').next().unwrap();
    let stale = Command::new(common::keelson_bin())
        .arg("control-plane")
        .arg("--data-dir")
        .arg(&dir)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--kubernetes-version")
        .arg("1.33")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    std::fs::write(dir.join("control-plane.pid"), stale.id().to_string())?;
    let mut stale = stale;
    harness.restart().await?;
    let back = harness
        .wait_healthy("prod", Duration::from_secs(60))
        .await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while stale.try_wait()?.is_none() {
        assert!(
            Instant::now() < deadline,
            "the stale control plane still runs"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(common::child_pid(&dir), Some(stale.id()));
    assert_eq!(back["endpoint"], endpoint.as_str());
    assert_eq!(back["certificateAuthority"]["data"], ca_data.as_str());
    let deadline = Instant::now() + Duration::from_secs(30);
    let survived = loop {
        let client = match kube_client(&dir).await {
            Ok(client) => client,
            Err(error) => {
                assert!(Instant::now() < deadline, "{error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let pods: Api<ConfigMap> = Api::namespaced(client, "default");
        match pods.get("before-crash").await {
            Ok(cm) => break cm,
            Err(error) => {
                assert!(Instant::now() < deadline, "{error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(survived.data.unwrap()["k"], "v");

    // Delete: DELETING, then gone with its data.
    let pid = common::child_pid(&dir).unwrap();
    let (status, deleted) = harness.call("DELETE", "/clusters/prod", None).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["cluster"]["status"], "DELETING");
    harness.wait_gone("prod", Duration::from_secs(30)).await?;
    assert!(!dir.exists(), "data dir still there");
    assert!(!common::is_running(pid), "control plane still running");
    let (status, body) = harness.call("GET", "/clusters/prod", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "No cluster found for name: prod.");
    harness.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_crash_leaves_the_others_alone() -> anyhow::Result<()> {
    let harness = Harness::start().await?;
    for name in ["tenant-a", "tenant-b"] {
        let (status, body) = harness
            .call("POST", "/clusters", Some(create_body(name, "1.33")))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for name in ["tenant-a", "tenant-b"] {
        harness
            .wait_status(name, "ACTIVE", Duration::from_secs(60))
            .await?;
    }
    let a_dir = harness.cluster_dir("tenant-a");
    let b_dir = harness.cluster_dir("tenant-b");
    let a_pid = common::child_pid(&a_dir).unwrap();
    let b_pid = common::child_pid(&b_dir).unwrap();
    assert_ne!(a_pid, b_pid, "each cluster is its own process");
    let b_maps: Api<ConfigMap> = Api::namespaced(kube_client(&b_dir).await?, "default");

    Command::new("kill")
        .args(["-KILL", &a_pid.to_string()])
        .status()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut b_answered = 0;
    loop {
        // The neighbour keeps serving, unrestarted, while tenant-a comes back.
        b_maps
            .create(
                &PostParams::default(),
                &config_map(&format!("during-{b_answered}")),
            )
            .await?;
        b_answered += 1;
        let (_, a) = harness.call("GET", "/clusters/tenant-a", None).await;
        let a_back = common::child_pid(&a_dir).is_some_and(|p| p != a_pid && common::is_running(p))
            && a["cluster"]["health"]["issues"] == json!([]);
        if a_back {
            break;
        }
        assert!(Instant::now() < deadline, "tenant-a not restarted: {a}");
    }
    assert_eq!(common::child_pid(&b_dir), Some(b_pid));
    let (_, b) = harness.call("GET", "/clusters/tenant-b", None).await;
    assert_eq!(b["cluster"]["health"]["issues"], json!([]));
    assert_eq!(b["cluster"]["status"], "ACTIVE");
    harness.shutdown().await;
    assert!(
        !common::is_running(b_pid),
        "shutdown stops every control plane"
    );
    Ok(())
}
