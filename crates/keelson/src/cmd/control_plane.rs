use std::net::SocketAddr;
use std::path::PathBuf;
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

pub async fn open_store(args: &Args) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match args.store {
        StoreKind::Embedded => {
            let dir = args.data_dir.join("store");
            keelson_store::embedded::EmbeddedStore::open(&dir, Default::default())
                .await
                .with_context(|| format!("opening the embedded store in {}", dir.display()))?
        }
        StoreKind::Etcd => {
            if args.etcd_endpoints.is_empty() {
                bail!("--store etcd needs --etcd-endpoints");
            }
            let options = keelson_store_etcd::EtcdOptions {
                endpoints: args.etcd_endpoints.clone(),
                prefix: args.etcd_prefix.clone(),
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
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let store = open_store(&args).await?;
    tracing::info!(ms = started.elapsed().as_millis() as u64, "store open");
    let mut config =
        keelson_apiserver::Config::new(args.data_dir.clone(), args.listen.clone(), minor);
    config.extra_sans = args.tls_san.clone();
    let running = keelson_apiserver::start(config, store).await?;
    let url = format!("https://{}", display_addr(running.local_addrs[0]));
    let kubeconfig = keelson_apiserver::write_admin_kubeconfig(&running.server, &url)?;
    tracing::info!(
        url = %url,
        kubeconfig = %kubeconfig.display(),
        ready_ms = started.elapsed().as_millis() as u64,
        "control plane ready"
    );
    let controllers = start_controllers(&running, &url).await?;
    super::shutdown_signal().await;
    tracing::info!("shutting down");
    controllers.cancel.cancel();
    if let Err(err) = controllers.task.await {
        tracing::error!(%err, "controller manager task failed");
    }
    running.shutdown().await;
    Ok(())
}

struct Controllers {
    cancel: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// The controller manager runs in this process but, like any client, reaches the API server
/// over HTTPS with its own certificate (as system:kube-controller-manager); it never sees the
/// store.
async fn start_controllers(
    running: &keelson_apiserver::RunningServer,
    url: &str,
) -> anyhow::Result<Controllers> {
    let kubeconfig = keelson_apiserver::component_kubeconfig(
        &running.server,
        url,
        "system:kube-controller-manager",
    )?;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&kubeconfig)
        .context("parsing the controller kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .context("building the controller client configuration")?;
    let client = kube::Client::try_from(config).context("building the controller client")?;
    let identity = format!("{}_{}", hostname(), std::process::id());
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(keelson_controllers::run(client, identity, cancel.clone()));
    Ok(Controllers { cancel, task })
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
