//! The API server: shared state, the TLS listener, and the background tasks it owns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use keelson_store::Store;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::authn::Peer;
use crate::cache::WatchCache;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::openapi::OpenApiCache;
use crate::registry::Registry;
use crate::{ServerError, bootstrap, watchers};

pub struct ApiServer {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub cache: Arc<WatchCache>,
    pub registry: Registry,
    pub pki: keelson_auth::pki::ClusterPki,
    pub service_accounts: keelson_auth::serviceaccount::TokenIssuer,
    authorizer: RwLock<Arc<keelson_auth::rbac::Authorizer>>,
    /// AWS token authentication and EKS access policies (`--aws-auth-config`).
    pub aws_auth: Option<Arc<crate::authn::aws::AwsAuthenticator>>,
    pub openapi: OpenApiCache,
    pub metrics: Metrics,
    ready: AtomicBool,
    /// Cancelled when the server stops; every task it spawns watches it.
    pub shutdown: CancellationToken,
    /// Owner of every task the server spawns (connections, watches, informers).
    pub tasks: TaskTracker,
}

impl ApiServer {
    pub fn authorizer(&self) -> Arc<keelson_auth::rbac::Authorizer> {
        self.authorizer.read().expect("authorizer lock").clone()
    }

    pub fn set_authorizer(&self, authorizer: keelson_auth::rbac::Authorizer) {
        *self.authorizer.write().expect("authorizer lock") = Arc::new(authorizer);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// A running API server.
pub struct RunningServer {
    pub server: Arc<ApiServer>,
    pub local_addrs: Vec<std::net::SocketAddr>,
}

impl RunningServer {
    /// Stop accepting, end every stream and wait for all tasks.
    pub async fn shutdown(self) {
        self.server.shutdown.cancel();
        self.server.tasks.close();
        self.server.tasks.wait().await;
    }
}

/// Start serving `config.listen` over TLS with `store`. Returns once the listeners are bound
/// and the cache is loaded; the server is then ready.
pub async fn start(config: Config, store: Arc<dyn Store>) -> Result<RunningServer, ServerError> {
    let mut sans: Vec<String> = config.listen.iter().map(|a| a.ip().to_string()).collect();
    sans.extend(config.extra_sans.iter().cloned());
    sans.push(config.kubernetes_service_ip.clone());
    let pki_dir = config.data_dir.join("pki");
    let pki = keelson_auth::pki::ClusterPki::load_or_create(&pki_dir, &sans)?;
    let service_accounts = pki.token_issuer(&config.issuer)?;
    let tls = Arc::new(pki.server_tls_config()?);
    let aws_auth = crate::authn::aws::authenticator_for(&config)?;

    let loading = std::time::Instant::now();
    let cache = WatchCache::load(store.as_ref()).await?;
    tracing::info!(
        objects = cache
            .object_counts()
            .iter()
            .map(|(_, _, count)| count)
            .sum::<usize>(),
        revision = cache.revision(),
        ms = loading.elapsed().as_millis() as u64,
        "watch cache loaded"
    );
    let server = Arc::new(ApiServer {
        config,
        store: store.clone(),
        cache: cache.clone(),
        registry: Registry::new(),
        pki,
        service_accounts,
        authorizer: RwLock::new(Arc::new(keelson_auth::rbac::Authorizer::default())),
        aws_auth,
        openapi: OpenApiCache::default(),
        metrics: Metrics::default(),
        ready: AtomicBool::new(false),
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
    });
    server
        .tasks
        .spawn(cache.follow(store, server.shutdown.clone()));
    crate::authn::aws::follow_config_file(&server);
    let bootstrapping = std::time::Instant::now();
    bootstrap::ensure_defaults(&server).await?;
    watchers::start(&server).await;
    server
        .tasks
        .spawn(crate::admission::service_ips::repair_loop(server.clone()));
    tracing::info!(
        ms = bootstrapping.elapsed().as_millis() as u64,
        "default objects and informers ready"
    );

    let mut local_addrs = Vec::new();
    for addr in &server.config.listen {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| ServerError::Bind(*addr, e))?;
        local_addrs.push(
            listener
                .local_addr()
                .map_err(|e| ServerError::Bind(*addr, e))?,
        );
        server.tasks.spawn(accept_loop(
            server.clone(),
            listener,
            TlsAcceptor::from(tls.clone()),
        ));
    }
    server.ready.store(true, Ordering::Release);
    Ok(RunningServer {
        server,
        local_addrs,
    })
}

async fn accept_loop(server: Arc<ApiServer>, listener: TcpListener, acceptor: TlsAcceptor) {
    loop {
        let (socket, remote) = tokio::select! {
            _ = server.shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = socket.set_nodelay(true);
        let server = server.clone();
        let acceptor = acceptor.clone();
        server.clone().tasks.spawn(async move {
            let tls = match tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(socket)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    tracing::debug!(%err, %remote, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let peer = Peer::from_certificate(
                tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.as_ref()),
            );
            let service = {
                let server = server.clone();
                service_fn(move |request| {
                    let server = server.clone();
                    let peer = peer.clone();
                    async move { Ok::<_, std::convert::Infallible>(crate::handler::handle(server, peer, request).await) }
                })
            };
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(%err, %remote, "connection ended with an error");
                    }
                }
                _ = server.shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), connection).await;
                }
            }
        });
    }
}
