//! The namespace controller: when a namespace is deleted, delete everything in it, then remove
//! the `kubernetes` finalizer so the API server can remove the namespace.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::resources;

const FINALIZER: &str = "kubernetes";

struct Context {
    client: kube::Client,
}

pub async fn run(client: kube::Client, shutdown: CancellationToken) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let context = Arc::new(Context { client });
    Controller::new(namespaces, watcher::Config::default())
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile, error_policy, context)
        .for_each(|_| async {})
        .await;
}

fn error_policy(_: Arc<Namespace>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, "namespace cleanup failed; retrying");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(
    namespace: Arc<Namespace>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    let Some(name) = namespace.metadata.name.clone() else {
        return Ok(Action::await_change());
    };
    let pending = namespace
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|f| f == FINALIZER));
    if namespace.metadata.deletion_timestamp.is_none() || !pending {
        return Ok(Action::await_change());
    }
    let mut remaining = 0usize;
    for resource in resources::deletable(&context.client).await? {
        if !resource.namespaced {
            continue;
        }
        let api: Api<DynamicObject> =
            Api::namespaced_with(context.client.clone(), &name, &resource.api);
        let items = api.list_metadata(&ListParams::default()).await?.items;
        for item in items {
            remaining += 1;
            if item.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let Some(item_name) = item.metadata.name else {
                continue;
            };
            match api.delete(&item_name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
    if remaining > 0 {
        // Deleted content disappears asynchronously (finalizers, graceful pod termination).
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let namespaces: Api<Namespace> = Api::all(context.client.clone());
    let mut finalized = (*namespace).clone();
    if let Some(spec) = finalized.spec.as_mut() {
        spec.finalizers = Some(
            spec.finalizers
                .take()
                .unwrap_or_default()
                .into_iter()
                .filter(|f| f != FINALIZER)
                .collect(),
        );
    }
    match namespaces
        .replace_subresource("finalize", &name, &PostParams::default(), &finalized)
        .await
    {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {
            Ok(Action::requeue(Duration::from_millis(200)))
        }
        Err(err) => Err(err.into()),
    }
}
