//! Two per-namespace guarantees upstream's controller manager keeps:
//! - the service-account controller: every active namespace has a `default` ServiceAccount;
//! - the root-CA publisher: every namespace has the `kube-root-ca.crt` ConfigMap holding the
//!   cluster CA, which projected service-account volumes mount next to the token.
//!
//! Both reconcile a namespace when it, or the object they keep in it, changes: deleting the
//! ServiceAccount or editing the ConfigMap is undone at once.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::informers::Informers;

pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";
const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

struct Context {
    client: kube::Client,
    accounts: Store<ServiceAccount>,
    config_maps: Store<ConfigMap>,
    root_ca_pem: String,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    root_ca_pem: String,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let namespaces = informers.shared::<Namespace>();
    let accounts = informers.shared::<ServiceAccount>();
    let config_maps = informers.shared::<ConfigMap>();
    let context = Arc::new(Context {
        client,
        accounts: accounts.cache.clone(),
        config_maps: config_maps.cache.clone(),
        root_ca_pem,
    });
    async move {
        Controller::for_shared_stream(namespaces.changes, namespaces.cache)
            .watches_shared_stream(accounts.changes, |sa| namespace_of(&sa.metadata, "default"))
            .watches_shared_stream(config_maps.changes, |cm| {
                namespace_of(&cm.metadata, ROOT_CA_CONFIGMAP)
            })
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {})
            .await;
    }
}

/// The namespace to reconcile when the object we keep in it, `kept`, changes.
fn namespace_of(meta: &ObjectMeta, kept: &str) -> Option<ObjectRef<Namespace>> {
    if meta.name.as_deref() != Some(kept) {
        return None;
    }
    Some(ObjectRef::new(meta.namespace.as_deref()?))
}

fn error_policy(_: Arc<Namespace>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, "service account / root CA sync failed; retrying");
    Action::requeue(Duration::from_secs(1))
}

async fn reconcile(
    namespace: Arc<Namespace>,
    ctx: Arc<Context>,
) -> Result<Action, ControllerError> {
    let Some(name) = namespace.metadata.name.as_deref() else {
        return Ok(Action::await_change());
    };
    tracing::debug!(
        namespace = name,
        "ensuring the default service account and root CA"
    );
    // A terminating namespace refuses new objects; the namespace controller is emptying it.
    if namespace.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    ensure_default_account(&ctx, name).await?;
    ensure_root_ca(&ctx, name).await?;
    Ok(Action::await_change())
}

async fn ensure_default_account(ctx: &Context, namespace: &str) -> Result<(), ControllerError> {
    if ctx
        .accounts
        .get(&ObjectRef::new("default").within(namespace))
        .is_some()
    {
        return Ok(());
    }
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("default".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), namespace);
    ignore_benign(api.create(&PostParams::default(), &account).await.map(drop))
}

async fn ensure_root_ca(ctx: &Context, namespace: &str) -> Result<(), ControllerError> {
    let existing = ctx
        .config_maps
        .get(&ObjectRef::new(ROOT_CA_CONFIGMAP).within(namespace));
    let wanted = BTreeMap::from([("ca.crt".to_string(), ctx.root_ca_pem.clone())]);
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
    match existing {
        Some(current) if current.data.as_ref() == Some(&wanted) => Ok(()),
        Some(current) => {
            let mut updated = (*current).clone();
            updated.data = Some(wanted);
            updated.binary_data = None;
            // resourceVersion from the cache makes this a compare-and-swap; a conflict
            // means the cache is behind and the next event reconciles again.
            ignore_benign(
                api.replace(ROOT_CA_CONFIGMAP, &PostParams::default(), &updated)
                    .await
                    .map(drop),
            )
        }
        None => {
            let config_map = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(ROOT_CA_CONFIGMAP.into()),
                    annotations: Some(BTreeMap::from([(
                        "kubernetes.io/description".to_string(),
                        ROOT_CA_DESCRIPTION.to_string(),
                    )])),
                    ..Default::default()
                },
                data: Some(wanted),
                ..Default::default()
            };
            ignore_benign(
                api.create(&PostParams::default(), &config_map)
                    .await
                    .map(drop),
            )
        }
    }
}

/// AlreadyExists and Conflict mean another writer (or our own earlier write) got there first;
/// Forbidden on create means the namespace began terminating meanwhile.
fn ignore_benign(result: Result<(), kube::Error>) -> Result<(), ControllerError> {
    match result {
        Err(kube::Error::Api(status)) if matches!(status.code, 403 | 409) => Ok(()),
        other => Ok(other?),
    }
}
