//! `keelson bench scale`: issue 3's scale case. A control plane and `keelson sim-nodes` (both
//! child processes of this command) hold thousands of simulated nodes and a hundred thousand
//! or more running pods; the command then reports the control plane's RSS, how long kubectl
//! takes to list every pod, and how long `kubectl scale deployment --replicas=N` takes to get
//! every new pod Running.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args as ClapArgs;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Node;
use keelson_bench::process::{ControlPlaneSpec, free_port, rss_bytes};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

#[derive(ClapArgs)]
pub struct ScaleArgs {
    /// Simulated nodes.
    #[arg(long, default_value_t = 5000)]
    nodes: u32,
    /// Running pods held steady, spread over Deployments of at most 10,000 replicas.
    #[arg(long, default_value_t = 150_000)]
    pods: u32,
    /// Replicas the measured `kubectl scale deployment` asks for (on a Deployment of 0).
    #[arg(long, default_value_t = 10_000)]
    scale_to: u32,
    /// kubectl listings of every pod to time; the table shows the median.
    #[arg(long, default_value_t = 3)]
    list_repeats: usize,
    /// Give up on a phase after this many seconds.
    #[arg(long, default_value_t = 3600)]
    phase_timeout_secs: u64,
    /// Markdown file the results are appended to.
    #[arg(long, default_value = "BENCHMARKS.md")]
    append: PathBuf,
    /// Only print; do not append.
    #[arg(long)]
    no_append: bool,
}

const NAMESPACE: &str = "default";
const PER_DEPLOYMENT: u32 = 10_000;

pub async fn run(a: ScaleArgs, command_line: String) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a data directory")?;
    let exe = std::env::current_exe().context("finding the keelson binary")?;
    let spec = ControlPlaneSpec {
        exe: exe.clone(),
        data_dir: dir.path().join("plane"),
        port: free_port()?,
        etcd_endpoint: None,
    };
    let plane = spec.start(Duration::from_secs(60)).await?;
    let kubeconfig = spec.kubeconfig_path();
    let client = {
        let file = kube::config::Kubeconfig::read_from(&kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await?;
        kube::Client::try_from(config)?
    };
    let timeout = Duration::from_secs(a.phase_timeout_secs);

    let mut sim = tokio::process::Command::new(&exe)
        .arg("sim-nodes")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--count")
        .arg(a.nodes.to_string())
        .arg("--zones")
        .arg("zone-a,zone-b,zone-c")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("sim-nodes.log"))?)
        .kill_on_drop(true)
        .spawn()
        .context("starting keelson sim-nodes")?;

    let started = Instant::now();
    wait_for(timeout, "every node Ready", || {
        ready_nodes(&client, a.nodes)
    })
    .await?;
    let nodes_ready = started.elapsed();

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let mut remaining = a.pods;
    let mut index = 0;
    while remaining > 0 {
        let replicas = remaining.min(PER_DEPLOYMENT);
        deployments
            .create(
                &PostParams::default(),
                &deployment(&format!("steady-{index}"), replicas),
            )
            .await?;
        remaining -= replicas;
        index += 1;
    }
    deployments
        .create(&PostParams::default(), &deployment("scaled", 0))
        .await?;
    let started = Instant::now();
    wait_for(timeout, "every steady pod Running", || {
        available(&deployments, "steady-", a.pods)
    })
    .await?;
    let steady_after = started.elapsed();

    // Let the controllers and the scheduler settle before measuring what holding them costs.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let rss_steady = rss_bytes(plane.pid)?;
    let sim_rss = sim.id().map(rss_bytes).transpose()?.unwrap_or(0);
    let mut listings = Vec::new();
    for _ in 0..a.list_repeats.max(1) {
        listings.push(kubectl_list_all_pods(&kubeconfig, a.pods).await?);
    }
    listings.sort();
    let list_median = listings[listings.len() / 2];

    let started = Instant::now();
    kubectl(
        &kubeconfig,
        &[
            "scale",
            "deployment",
            "scaled",
            "--replicas",
            &a.scale_to.to_string(),
        ],
    )
    .await?;
    wait_for(timeout, "the scaled Deployment's pods Running", || {
        available(&deployments, "scaled", a.scale_to)
    })
    .await?;
    let scale_after = started.elapsed();
    let rss_after = rss_bytes(plane.pid)?;

    sim.kill().await.ok();
    plane.stop(Duration::from_secs(30)).await?;

    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let table = format!(
        "| nodes | running pods | nodes Ready after | pods Running after | control-plane RSS (≤ 4 GiB) | kubectl get pods -A, median of {} (≤ 3 s) | kubectl scale to {} → all Running | RSS after scaling | sim-nodes RSS |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n\
         | {} | {} | {:.1} s | {:.1} s | {:.0} MiB | {:.2} s | {:.1} s ({:.0} pods/s) | {:.0} MiB | {:.0} MiB |\n",
        listings.len(),
        a.scale_to,
        a.nodes,
        a.pods,
        nodes_ready.as_secs_f64(),
        steady_after.as_secs_f64(),
        mib(rss_steady),
        list_median.as_secs_f64(),
        scale_after.as_secs_f64(),
        f64::from(a.scale_to) / scale_after.as_secs_f64(),
        mib(rss_after),
        mib(sim_rss),
    );
    println!("{table}");
    if !a.no_append {
        let section = keelson_bench::machine::section(
            "scale",
            &keelson_bench::machine::now_utc(),
            &command_line,
            &keelson_bench::machine::describe(),
            &table,
        );
        keelson_bench::machine::append(&a.append, &section)?;
        eprintln!("appended to {}", a.append.display());
    }
    Ok(())
}

fn deployment(name: &str, replicas: u32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": "registry.local/app:1",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}
                }]}
            }
        }
    }))
    .expect("a static Deployment")
}

async fn ready_nodes(client: &kube::Client, want: u32) -> anyhow::Result<bool> {
    let nodes: Api<Node> = Api::all(client.clone());
    let ready = nodes
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count();
    Ok(ready as u32 >= want)
}

/// Whether the Deployments whose names start with `prefix` report `want` available replicas.
async fn available(api: &Api<Deployment>, prefix: &str, want: u32) -> anyhow::Result<bool> {
    let total: i32 = api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|d| {
            d.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with(prefix))
        })
        .filter_map(|d| d.status.as_ref()?.available_replicas)
        .sum();
    Ok(total as u32 >= want)
}

async fn wait_for<F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        // A transient error (the API server busy) is retried until the deadline.
        if matches!(check().await, Ok(true)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `kubectl get pods -A` as a user types it (server-side tables, chunks of 500), its output
/// discarded; checks that every running pod was listed.
async fn kubectl_list_all_pods(kubeconfig: &Path, at_least: u32) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["get", "pods", "-A", "--no-headers"])
        .stdin(Stdio::null())
        .output()
        .await
        .context("running kubectl")?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        bail!(
            "kubectl get pods failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let lines = output.stdout.iter().filter(|b| **b == b'\n').count();
    if lines < at_least as usize {
        bail!("kubectl get pods listed {lines} pods, not the {at_least} running");
    }
    Ok(elapsed)
}

async fn kubectl(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", NAMESPACE])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .await
        .context("running kubectl")?;
    if !status.success() {
        bail!("kubectl {} failed", args.join(" "));
    }
    Ok(())
}
