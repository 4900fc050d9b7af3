use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, ValueEnum};
use keelson_store::Store;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StoreKind {
    Embedded,
    Etcd,
}

#[derive(ClapArgs)]
pub struct Args {
    /// Directory for the store and credentials; reusing it keeps all data.
    #[arg(long)]
    data_dir: PathBuf,
    /// HTTPS listen address (repeatable).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: Vec<SocketAddr>,
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
    /// etcd client URLs, comma separated (with --store etcd).
    #[arg(long, value_delimiter = ',')]
    etcd_endpoints: Vec<String>,
    /// Key prefix in etcd, so several clusters can share one etcd.
    #[arg(long, default_value = "")]
    etcd_prefix: String,
    /// Kubernetes version to serve (1.32 or 1.33).
    #[arg(long, default_value = "1.33")]
    kubernetes_version: String,
    /// Extra names or addresses for the serving certificate.
    #[arg(long, value_delimiter = ',')]
    tls_san: Vec<String>,
    /// How long a node may go without renewing its Lease before it is marked NotReady
    /// (kube-controller-manager's flag, same default).
    #[arg(long, default_value = "40s", value_parser = keelson_simnodes::options::parse_duration)]
    node_monitor_grace_period: std::time::Duration,
    /// Pod addresses, split into one podCIDR per node (kube-controller-manager's
    /// --cluster-cidr; the default holds 16,384 nodes of /24).
    #[arg(long, default_value = "10.64.0.0/10")]
    cluster_cidr: keelson_controllers::nodeipam::Cidr,
    /// Size of each node's podCIDR.
    #[arg(long, default_value_t = 24)]
    node_cidr_mask_size: u8,
    /// The cluster's AWS authentication file (a ClusterAuthConfig, written by the EKS service):
    /// signs in users with `aws eks get-token` tokens and applies their access entries. An
    /// https STS endpoint is trusted through the system's roots (or SSL_CERT_FILE).
    #[arg(long)]
    aws_auth_config: Option<PathBuf>,
}

pub fn parse_minor(version: &str) -> anyhow::Result<u32> {
    let trimmed = version.trim_start_matches('v');
    let minor = match trimmed.split('.').collect::<Vec<_>>().as_slice() {
        ["1", minor] | ["1", minor, _] => minor.parse::<u32>().ok(),
        _ => None,
    };
    match minor {
        Some(m) if keelson_apiserver::config::SUPPORTED_MINORS.contains(&m) => Ok(m),
        _ => bail!(
            "unsupported Kubernetes version {version:?}: supported versions are {}",
            keelson_apiserver::config::SUPPORTED_MINORS
                .iter()
                .map(|m| format!("1.{m}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The store a data directory's process runs on: embedded under `DATA_DIR/store`, or etcd.
/// Shared by `control-plane` and `server`.
pub async fn open_store(
    kind: StoreKind,
    data_dir: &Path,
    etcd_endpoints: &[String],
    etcd_prefix: &str,
) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match kind {
        StoreKind::Embedded => {
            let dir = data_dir.join("store");
            keelson_store::embedded::EmbeddedStore::open(&dir, Default::default())
                .await
                .with_context(|| format!("opening the embedded store in {}", dir.display()))?
        }
        StoreKind::Etcd => {
            if etcd_endpoints.is_empty() {
                bail!("--store etcd needs --etcd-endpoints");
            }
            let options = keelson_store_etcd::EtcdOptions {
                endpoints: etcd_endpoints.to_vec(),
                prefix: etcd_prefix.to_string(),
                ..Default::default()
            };
            Arc::new(
                keelson_store_etcd::EtcdStore::connect(options)
                    .await
                    .context("connecting to etcd")?,
            )
        }
    })
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let minor = parse_minor(&args.kubernetes_version)?;
    if let Some(path) = &args.aws_auth_config {
        // Refuse to start on a bad file rather than serve a cluster nobody can sign in to.
        let settings = keelson_apiserver::load_cluster_auth_config(path)?;
        tracing::info!(
            cluster_id = %settings.file.cluster_id,
            access_entries = settings.file.access_entries.len(),
            "AWS authentication enabled"
        );
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let store = open_store(
        args.store,
        &args.data_dir,
        &args.etcd_endpoints,
        &args.etcd_prefix,
    )
    .await?;
    tracing::info!(ms = started.elapsed().as_millis() as u64, "store open");
    let mut config =
        keelson_apiserver::Config::new(args.data_dir.clone(), args.listen.clone(), minor);
    config.extra_sans = args.tls_san.clone();
    config.aws_auth_config = args.aws_auth_config.clone();
    let running = keelson_apiserver::start(config, store).await?;
    let url = format!("https://{}", display_addr(running.local_addrs[0]));
    let kubeconfig = keelson_apiserver::write_admin_kubeconfig(&running.server, &url)?;
    tracing::info!(
        url = %url,
        kubeconfig = %kubeconfig.display(),
        ready_ms = started.elapsed().as_millis() as u64,
        "control plane ready"
    );
    let controllers = start_controllers(&running, &url, &args).await?;
    super::shutdown_signal().await;
    tracing::info!("shutting down");
    let stopping = std::time::Instant::now();
    controllers.cancel.cancel();
    let mut tasks = controllers.tasks;
    while let Some(joined) = tasks.join_next().await {
        if let Err(err) = joined {
            tracing::error!(%err, "controller manager or scheduler task failed");
        }
    }
    // Each phase's duration is logged: a slow stop is otherwise hard to place.
    tracing::info!(
        ms = stopping.elapsed().as_millis() as u64,
        "controller manager and scheduler stopped"
    );
    running.shutdown().await;
    tracing::info!(
        ms = stopping.elapsed().as_millis() as u64,
        "API server stopped"
    );
    Ok(())
}

/// The controller manager and the scheduler, and how to stop them.
struct Controllers {
    cancel: tokio_util::sync::CancellationToken,
    tasks: tokio::task::JoinSet<()>,
}

/// The controller manager and the scheduler run in this process but, like any client, reach
/// the API server over HTTPS with their own certificates (as system:kube-controller-manager
/// and system:kube-scheduler); they never see the store. Each is leader-elected, so several
/// control-plane processes on one store run one of each.
async fn start_controllers(
    running: &keelson_apiserver::RunningServer,
    url: &str,
    args: &Args,
) -> anyhow::Result<Controllers> {
    let identity = format!("{}_{}", hostname(), std::process::id());
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    let options = keelson_controllers::Options {
        identity: identity.clone(),
        root_ca_pem: running.server.pki.ca_pem().to_string(),
        token_issuer: std::sync::Arc::new(
            running
                .server
                .pki
                .token_issuer(&running.server.config.issuer)?,
        ),
        node_lifecycle: keelson_controllers::nodelifecycle::Options {
            node_monitor_grace_period: args.node_monitor_grace_period,
            ..Default::default()
        },
        node_ipam: keelson_controllers::nodeipam::Options {
            cluster_cidr: args.cluster_cidr,
            node_cidr_mask_size: args.node_cidr_mask_size,
        },
    };
    let client = component_client(running, url, "system:kube-controller-manager").await?;
    tasks.spawn(keelson_controllers::run(client, options, cancel.clone()));
    let client = component_client(running, url, "system:kube-scheduler").await?;
    tasks.spawn(keelson_scheduler::run(client, identity, cancel.clone()));
    Ok(Controllers { cancel, tasks })
}

async fn component_client(
    running: &keelson_apiserver::RunningServer,
    url: &str,
    user: &str,
) -> anyhow::Result<kube::Client> {
    let kubeconfig = keelson_apiserver::component_kubeconfig(&running.server, url, user)?;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&kubeconfig)
        .with_context(|| format!("parsing the kubeconfig of {user}"))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .with_context(|| format!("building the client configuration of {user}"))?;
    kube::Client::try_from(config).with_context(|| format!("building the client of {user}"))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "keelson".into())
}

fn display_addr(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::parse_minor;

    #[test]
    fn versions() {
        assert_eq!(parse_minor("1.33").unwrap(), 33);
        assert_eq!(parse_minor("v1.32").unwrap(), 32);
        assert!(parse_minor("1.20").is_err());
        assert!(parse_minor("banana").is_err());
    }
}
