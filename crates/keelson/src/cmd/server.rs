//! `keelson server`: the regional management plane (IAM, STS and the AWS-compatible services
//! registered below) over one store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args as ClapArgs;
use keelson_iam::{Iam, IamConfig, RootCredentials};
use keelson_regional::Regional;
use keelson_store::Store;
use tokio_util::sync::CancellationToken;

use super::control_plane::StoreKind;

#[derive(ClapArgs)]
pub struct Args {
    /// Directory for the store, the root credentials and generated TLS material; reusing it
    /// keeps everything.
    #[arg(long)]
    data_dir: PathBuf,
    /// Listen address. Plain HTTP is served on loopback addresses only; any other address
    /// gets TLS.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// The region this endpoint answers for.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
    /// etcd client URLs, comma separated (with --store etcd).
    #[arg(long, value_delimiter = ',')]
    etcd_endpoints: Vec<String>,
    /// Key prefix in etcd.
    #[arg(long, default_value = "")]
    etcd_prefix: String,
    /// Serve TLS even on a loopback address (with a generated certificate unless --tls-cert).
    #[arg(long)]
    tls: bool,
    /// PEM certificate chain to serve (with --tls-key); otherwise one is generated under
    /// DATA_DIR/pki, signed by a CA in DATA_DIR/pki/ca.crt.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Extra names or addresses for a generated certificate.
    #[arg(long, value_delimiter = ',')]
    tls_san: Vec<String>,
}

fn tls_config(args: &Args) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let cert =
            std::fs::read_to_string(cert).with_context(|| format!("reading {}", cert.display()))?;
        let key =
            std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?;
        return Ok(Some(keelson_regional::tls::server_config_from_pem(
            &cert, &key,
        )?));
    }
    if !args.tls && args.listen.ip().is_loopback() {
        return Ok(None);
    }
    let mut sans = args.tls_san.clone();
    if !args.listen.ip().is_unspecified() {
        sans.push(args.listen.ip().to_string());
    }
    let pki = keelson_auth::pki::ClusterPki::load_or_create(&args.data_dir.join("pki"), &sans)
        .context("generating the serving certificate")?;
    Ok(Some(Arc::new(pki.server_tls_config()?)))
}

/// DATA_DIR/credentials in the AWS shared-credentials format, readable by its owner only.
fn write_credentials(dir: &Path, root: &RootCredentials) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("credentials");
    let partial = dir.join(".credentials.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("writing {}", partial.display()))?;
    file.write_all(root.shared_credentials_file().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&args.data_dir)
            .with_context(|| format!("creating {}", args.data_dir.display()))?;
    }
    let tls = tls_config(&args)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let store = super::control_plane::open_store(
        args.store,
        &args.data_dir,
        &args.etcd_endpoints,
        &args.etcd_prefix,
    )
    .await?;
    let config = IamConfig {
        region: args.region.clone(),
        secure_transport: tls.is_some(),
    };
    let (iam, root) = Iam::open(store.clone(), config).await?;
    if let Some(root) = root {
        let path = write_credentials(&args.data_dir, &root)?;
        // Printed once, on stdout (the log goes to stderr and never carries secrets).
        println!(
            "Created account {}. Root credentials (also in {}):\n{}",
            root.account_id,
            path.display(),
            root.shared_credentials_file()
        );
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let eks = open_eks(&args, &store, &iam, scheme, listener.local_addr()?).await?;
    let mut regional = Regional::new(iam.clone()).with_service("eks", Arc::new(eks.clone()));
    if let Some(tls) = tls.clone() {
        regional = regional.with_tls(tls);
    }
    tracing::info!(
        url = %format!("{scheme}://{}", listener.local_addr()?),
        account_id = %iam.account_id(),
        region = %args.region,
        "regional endpoint ready"
    );
    let shutdown = CancellationToken::new();
    let mut serving = tokio::spawn(regional.serve(listener, shutdown.clone()));
    tokio::select! {
        _ = super::shutdown_signal() => {}
        finished = &mut serving => {
            finished.context("the server task panicked")??;
            bail!("the server stopped on its own");
        }
    }
    tracing::info!("shutting down");
    shutdown.cancel();
    serving.await.context("the server task panicked")??;
    eks.shutdown().await;
    iam.shutdown().await;
    Ok(())
}

/// The EKS service: its clusters' control planes are this binary's `control-plane`, and their
/// tokens are verified against this endpoint's STS.
async fn open_eks(
    args: &Args,
    store: &Arc<dyn Store>,
    iam: &Arc<Iam>,
    scheme: &str,
    local: SocketAddr,
) -> anyhow::Result<keelson_eks::Eks> {
    // Control planes run on this machine, so a wildcard listen address is reached on loopback.
    let host = if local.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), local.port())
    } else {
        local
    };
    let config = keelson_eks::EksConfig::new(
        args.region.clone(),
        iam.account_id(),
        &args.data_dir,
        std::env::current_exe().context("finding the keelson binary")?,
        format!("{scheme}://{host}"),
    );
    let authorizer: Arc<dyn keelson_aws_core::Authorizer> = iam.clone();
    keelson_eks::Eks::open(store.clone(), config, authorizer)
        .await
        .context("opening the EKS service")
}
