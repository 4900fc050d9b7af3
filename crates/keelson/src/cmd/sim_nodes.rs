//! `keelson sim-nodes`: a thin shell over `keelson_simnodes`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args as ClapArgs;
use keelson_simnodes::SimOptions;
use keelson_simnodes::options::{parse_duration, parse_labels, parse_taint};
use keelson_simnodes::quantity::Quantity;

#[derive(ClapArgs)]
pub struct Args {
    /// Kubeconfig of the cluster to join (its current context).
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
    /// Number of nodes to simulate.
    #[arg(long)]
    count: u32,
    /// Index of the first node (`<prefix><index>`), so several simulators can share a cluster.
    #[arg(long, default_value_t = 0)]
    start_index: u32,
    /// Node name prefix.
    #[arg(long, default_value = "sim-")]
    name_prefix: String,
    /// Zones (topology.kubernetes.io/zone), assigned round-robin.
    #[arg(long, value_delimiter = ',', default_value = "zone-a")]
    zones: Vec<String>,
    /// CPU capacity of each node.
    #[arg(long, default_value = "4")]
    cpu: Quantity,
    /// Memory capacity of each node.
    #[arg(long, default_value = "16Gi")]
    memory: Quantity,
    /// Pod capacity of each node.
    #[arg(long, default_value_t = 110)]
    pods: u32,
    /// Ephemeral-storage capacity of each node.
    #[arg(long, default_value = "100Gi")]
    ephemeral_storage: Quantity,
    /// kubernetes.io/arch of the nodes.
    #[arg(long, default_value = "amd64")]
    arch: String,
    /// node.kubernetes.io/instance-type (default: derived from --cpu and --memory).
    #[arg(long)]
    instance_type: Option<String>,
    /// Extra node labels, `key=value,...` (as the kubelet's --node-labels).
    #[arg(long, value_parser = parse_labels)]
    labels: Option<std::collections::BTreeMap<String, String>>,
    /// Taints the nodes register with, `key=value:Effect,...` (as the kubelet's flag).
    #[arg(long, value_delimiter = ',', value_parser = parse_taint)]
    register_with_taints: Vec<k8s_openapi::api::core::v1::Taint>,
    /// How long containers of Job-owned pods run before exiting 0 (annotation
    /// sim.keelson.dev/run-seconds overrides it per pod).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    job_duration: Duration,
    /// How often each node posts its status even when nothing changed (the kubelet's
    /// nodeStatusReportFrequency).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    node_status_report_frequency: Duration,
    /// How often each node renews its Lease (the kubelet renews every 10 s; tests that shorten
    /// the control plane's --node-monitor-grace-period shorten this too, as upstream requires
    /// the grace period to exceed it).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    lease_renew_interval: Duration,
    /// Pod API writes in flight at once.
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let options = SimOptions {
        count: args.count,
        start_index: args.start_index,
        name_prefix: args.name_prefix,
        zones: args.zones,
        cpu: args.cpu,
        memory: args.memory,
        pods: args.pods,
        ephemeral_storage: args.ephemeral_storage,
        arch: args.arch,
        instance_type: args.instance_type,
        labels: args.labels.unwrap_or_default(),
        register_with_taints: args.register_with_taints,
        job_duration: args.job_duration,
        node_status_report_frequency: args.node_status_report_frequency,
        lease_renew_interval: args.lease_renew_interval,
        max_in_flight: args.max_in_flight,
        ..SimOptions::new(args.count)
    };
    options.validate()?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("reading {}", args.kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .context("building the client configuration")?;
    let client = kube::Client::try_from(config).context("building the client")?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let simulator = tokio::spawn(keelson_simnodes::run(client, options, shutdown.clone()));
    tokio::pin!(simulator);
    tokio::select! {
        done = &mut simulator => return Ok(done.context("simulator task")??),
        _ = super::shutdown_signal() => {}
    }
    // Leaving without a word is the point: the nodes' Leases expire as if they had failed.
    tracing::info!("stopping; the simulated nodes are left to expire");
    shutdown.cancel();
    simulator.await.context("simulator task")??;
    Ok(())
}
