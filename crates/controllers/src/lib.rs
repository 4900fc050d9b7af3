//! The controller manager: control loops that are clients of the Kubernetes API (kube-rs),
//! never readers of the store. Several instances may run; one leads at a time through a
//! coordination.k8s.io Lease, and a new leader resumes from the API alone.
//!
//! Controllers: [`namespace`] (empties and finalizes deleted namespaces) and [`gc`] (the
//! garbage collector: ownerReferences with Background, Foreground and Orphan propagation).

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod events;
pub mod gc;
pub mod history;
pub mod informers;
pub mod job;
pub mod leader;
pub mod namespace;
pub mod nodeipam;
pub mod nodelifecycle;
pub mod podcontrol;
pub mod podgc;
pub mod replicaset;
pub mod resourcequota;
mod resources;
pub mod serviceaccounts;
pub mod statefulset;
pub mod tokens;
pub mod ttl_after_finished;

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("discovery: {0}")]
    Discovery(String),
    #[error("signing a token: {0}")]
    Signing(String),
}

/// What the controller manager is told at start, as kube-controller-manager's flags.
#[derive(Clone, Debug)]
pub struct Options {
    /// This instance's name in the leader Lease (upstream: hostname plus a unique suffix).
    pub identity: String,
    /// The cluster CA in PEM, published in every namespace as kube-root-ca.crt.
    pub root_ca_pem: String,
    /// The service-account signing key, for the token controller's legacy tokens.
    pub token_issuer: std::sync::Arc<keelson_auth::serviceaccount::TokenIssuer>,
    pub node_lifecycle: nodelifecycle::Options,
    pub node_ipam: nodeipam::Options,
}

/// Run the controllers while this instance holds the leader Lease, until `shutdown`.
pub async fn run(client: kube::Client, options: Options, shutdown: CancellationToken) {
    let elector = leader::LeaderElector::new(
        client.clone(),
        "kube-system",
        "kube-controller-manager",
        options.identity.clone(),
    );
    loop {
        let Some(leadership) = elector.acquire(&shutdown).await else {
            return;
        };
        tracing::info!("controller manager became leader");
        let lost = leadership.lost.clone();
        let work = CancellationToken::new();
        let mut tasks = JoinSet::new();
        start_all(&client, &options, &mut tasks, &work);
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = lost.cancelled() => tracing::warn!("controller manager lost leadership"),
            // No controller or informer ends on its own: one that did (a panic) leaves the
            // cluster half-managed, so everything restarts from the API, as a crashed
            // kube-controller-manager would be restarted.
            ended = tasks.join_next() => {
                let reason = match ended {
                    Some(Err(err)) => err.to_string(),
                    _ => "ended".to_string(),
                };
                tracing::error!(%reason, "a controller stopped; restarting the controller manager");
            }
        }
        work.cancel();
        while tasks.join_next().await.is_some() {}
        leadership.release().await;
        if shutdown.is_cancelled() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Set up every controller (each subscribes to the shared informers it needs), then start the
/// informers and the controllers; all of them stop when `work` is cancelled.
fn start_all(
    client: &kube::Client,
    options: &Options,
    tasks: &mut JoinSet<()>,
    work: &CancellationToken,
) {
    let mut informers = informers::Informers::new(client.clone());
    let controllers: Vec<BoxFuture<'static, ()>> = vec![
        namespace::run(client.clone(), work.clone()).boxed(),
        gc::run(client.clone(), work.clone()).boxed(),
        job::run(&mut informers, client.clone(), work.clone()).boxed(),
        cronjob::run(&mut informers, client.clone(), work.clone()).boxed(),
        ttl_after_finished::run(&mut informers, client.clone(), work.clone()).boxed(),
        podgc::run(
            &mut informers,
            client.clone(),
            Default::default(),
            work.clone(),
        )
        .boxed(),
        replicaset::run(&mut informers, client.clone(), work.clone()).boxed(),
        deployment::run(&mut informers, client.clone(), work.clone()).boxed(),
        daemonset::run(&mut informers, client.clone(), work.clone()).boxed(),
        statefulset::run(&mut informers, client.clone(), work.clone()).boxed(),
        serviceaccounts::run(
            &mut informers,
            client.clone(),
            options.root_ca_pem.clone(),
            work.clone(),
        )
        .boxed(),
        tokens::run(
            &mut informers,
            client.clone(),
            options.token_issuer.clone(),
            options.root_ca_pem.clone(),
            work.clone(),
        )
        .boxed(),
        endpoints::run(&mut informers, client.clone(), work.clone()).boxed(),
        endpointslice::run(
            &mut informers,
            client.clone(),
            Default::default(),
            work.clone(),
        )
        .boxed(),
        nodelifecycle::run(
            &mut informers,
            client.clone(),
            options.node_lifecycle.clone(),
            work.clone(),
        )
        .boxed(),
        nodeipam::run(
            &mut informers,
            client.clone(),
            options.node_ipam.clone(),
            work.clone(),
        )
        .boxed(),
        disruption::run(&mut informers, client.clone(), work.clone()).boxed(),
        resourcequota::run(
            &mut informers,
            client.clone(),
            Default::default(),
            work.clone(),
        )
        .boxed(),
    ];
    let synced = informers.start(tasks, work.clone());
    for controller in controllers {
        let synced = synced.clone();
        let work = work.clone();
        tasks.spawn(async move {
            // Caches that never sync (an API that keeps refusing a list) must not keep a
            // stopping controller manager from stopping.
            tokio::select! {
                _ = work.cancelled() => return,
                _ = synced => {}
            }
            controller.await;
        });
    }
}
