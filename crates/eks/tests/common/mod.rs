//! Drives a real [`Eks`] (real store, real `keelson control-plane` children) through its
//! `AwsService` entry point, as the regional front door does.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use keelson_aws_core::{Authorizer, AwsService, Principal, PrincipalKind};
use keelson_eks::{Eks, EksConfig};
use keelson_store::Store;
use serde_json::Value;

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "us-west-2";
pub const STS: &str = "http://127.0.0.1:8443";

pub fn keelson_bin() -> PathBuf {
    if let Ok(path) = std::env::var("KEELSON_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug").join("keelson")
}

/// IAM's answer for these tests: everything is allowed except actions listed in `deny`.
pub struct Policy {
    pub deny: Vec<String>,
}

impl Authorizer for Policy {
    fn is_allowed(&self, _principal: &Principal, action: &str, _resource: &str) -> bool {
        !self.deny.iter().any(|d| d == action)
    }
}

pub fn alice() -> Principal {
    Principal {
        account_id: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        user_id: "AIDAALICE".into(),
        access_key_id: "AKIAALICE".into(),
        kind: PrincipalKind::User {
            name: "alice".into(),
        },
    }
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub eks: Eks,
}

impl Harness {
    pub async fn start() -> anyhow::Result<Harness> {
        Self::start_denying(&[]).await
    }

    pub async fn start_denying(deny: &[&str]) -> anyhow::Result<Harness> {
        let dir = tempfile::tempdir()?;
        let store: Arc<dyn Store> = keelson_store::embedded::EmbeddedStore::open(
            dir.path().join("store"),
            Default::default(),
        )
        .await?;
        let eks = open(&store, dir.path(), deny).await?;
        Ok(Harness { dir, store, eks })
    }

    /// Stops the service (its control planes exit) and opens a new one on the same directory
    /// and store, as a restarted `keelson server` does.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.eks.shutdown().await;
        self.eks = open(&self.store, self.dir.path(), &[]).await?;
        Ok(())
    }

    pub fn cluster_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join("clusters").join(name)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call_as(&self.eks, &alice(), method, path, body).await
    }

    /// Polls DescribeCluster until `status`, returning the cluster.
    pub async fn wait_status(
        &self,
        name: &str,
        status: &str,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let (code, body) = self.call("GET", &format!("/clusters/{name}"), None).await;
            if code == 200 && body["cluster"]["status"] == status {
                return Ok(body["cluster"].clone());
            }
            if Instant::now() > deadline {
                anyhow::bail!("{name} not {status} after {timeout:?}: {code} {body}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls until ACTIVE with no health issues (the control plane answers).
    pub async fn wait_healthy(&self, name: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let cluster = self.wait_status(name, "ACTIVE", timeout).await?;
            if cluster["health"]["issues"] == serde_json::json!([]) {
                return Ok(cluster);
            }
            if Instant::now() > deadline {
                anyhow::bail!("{name} not healthy after {timeout:?}: {cluster}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn wait_gone(&self, name: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let (code, body) = self.call("GET", &format!("/clusters/{name}"), None).await;
            if code == 404 {
                return Ok(());
            }
            if Instant::now() > deadline {
                anyhow::bail!("{name} still there after {timeout:?}: {body}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn shutdown(self) {
        self.eks.shutdown().await;
    }
}

async fn open(store: &Arc<dyn Store>, dir: &Path, deny: &[&str]) -> anyhow::Result<Eks> {
    let config = EksConfig::new(REGION, ACCOUNT, dir, keelson_bin(), STS);
    let policy = Policy {
        deny: deny.iter().map(|s| s.to_string()).collect(),
    };
    Ok(Eks::open(store.clone(), config, Arc::new(policy)).await?)
}

pub async fn call_as(
    eks: &Eks,
    caller: &Principal,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .body(body.map(|b| Bytes::from(b.to_string())).unwrap_or_default())
        .expect("valid request");
    let response = eks.handle(caller, request).await;
    let status = response.status().as_u16();
    if status != 200 {
        let code = response.headers()["x-amzn-ErrorType"]
            .to_str()
            .unwrap()
            .to_string();
        let mut body: Value = serde_json::from_slice(response.body()).unwrap();
        body["__code"] = Value::String(code);
        return (status, body);
    }
    (status, serde_json::from_slice(response.body()).unwrap())
}

pub fn create_body(name: &str, version: &str) -> Value {
    serde_json::json!({
        "name": name,
        "version": version,
        "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/eks-cluster"),
        "resourcesVpcConfig": {"subnetIds": ["subnet-1"]},
    })
}

/// A kube-rs client from the cluster's admin kubeconfig.
pub async fn kube_client(cluster_dir: &Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(cluster_dir.join("admin.kubeconfig"))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

pub fn child_pid(cluster_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(cluster_dir.join("control-plane.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn is_running(pid: u32) -> bool {
    // A zombie keeps its /proc entry but has an empty cmdline.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}
