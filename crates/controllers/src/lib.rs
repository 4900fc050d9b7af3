//! The controller manager: control loops that are clients of the Kubernetes API (kube-rs),
//! never readers of the store. Several instances may run; one leads at a time through a
//! coordination.k8s.io Lease, and a new leader resumes from the API alone.
//!
//! Controllers: [`namespace`] (empties and finalizes deleted namespaces) and [`gc`] (the
//! garbage collector: ownerReferences with Background, Foreground and Orphan propagation).

pub mod gc;
pub mod leader;
pub mod namespace;
pub mod informers;
mod resources;

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
}

/// Run the controllers while this instance holds the leader Lease, until `shutdown`.
pub async fn run(client: kube::Client, identity: String, shutdown: CancellationToken) {
    let elector = leader::LeaderElector::new(
        client.clone(),
        "kube-system",
        "kube-controller-manager",
        identity,
    );
    loop {
        let Some(leadership) = elector.acquire(&shutdown).await else {
            return;
        };
        tracing::info!("controller manager became leader");
        let lost = leadership.lost.clone();
        let work = CancellationToken::new();
        let mut tasks = JoinSet::new();
        start_all(&client, &mut tasks, &work);
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = lost.cancelled() => tracing::warn!("controller manager lost leadership"),
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
fn start_all(client: &kube::Client, tasks: &mut JoinSet<()>, work: &CancellationToken) {
    let informers = informers::Informers::new(client.clone());
    let controllers: Vec<BoxFuture<'static, ()>> = vec![
        namespace::run(client.clone(), work.clone()).boxed(),
        gc::run(client.clone(), work.clone()).boxed(),
    ];
    informers.start(tasks, work.clone());
    for controller in controllers {
        tasks.spawn(controller);
    }
}
