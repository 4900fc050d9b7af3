//! The token controller (upstream's tokens_controller): fills Secrets of type
//! `kubernetes.io/service-account-token` with a signed legacy token, the cluster CA and the
//! namespace, and deletes such Secrets whose ServiceAccount is gone. Since 1.24 nothing creates
//! these Secrets automatically; users who want a long-lived token create one, annotated with
//! `kubernetes.io/service-account.name`, and this controller completes it.
//!
//! Like kube-controller-manager given `--service-account-private-key-file`, it holds the
//! cluster's signing key; the API server accepts the token only while the Secret holds it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use keelson_auth::serviceaccount::{LegacyClaims, TokenIssuer};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::ControllerError;
use crate::informers::Informers;

pub const TOKEN_SECRET_TYPE: &str = "kubernetes.io/service-account-token";
const NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
const UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";

struct Context {
    client: kube::Client,
    accounts: Store<ServiceAccount>,
    issuer: Arc<TokenIssuer>,
    root_ca_pem: String,
}

pub fn run(
    informers: &mut Informers,
    client: kube::Client,
    issuer: Arc<TokenIssuer>,
    root_ca_pem: String,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let secrets = informers.shared::<Secret>();
    let accounts = informers.shared::<ServiceAccount>();
    let secret_cache = secrets.cache.clone();
    let context = Arc::new(Context {
        client,
        accounts: accounts.cache.clone(),
        issuer,
        root_ca_pem,
    });
    async move {
        Controller::for_shared_stream(secrets.changes, secrets.cache)
            // A ServiceAccount's change (or deletion) revisits its token Secrets.
            .watches_shared_stream(accounts.changes, move |account| {
                let namespace = account.namespace().unwrap_or_default();
                let name = account.name_any();
                let owned: Vec<ObjectRef<Secret>> = secret_cache
                    .state()
                    .into_iter()
                    .filter(|s| {
                        s.namespace().as_deref() == Some(namespace.as_str())
                            && is_token_secret(s)
                            && annotation(s, NAME_ANNOTATION) == Some(name.as_str())
                    })
                    .map(|s| ObjectRef::from_obj(&*s))
                    .collect();
                owned
            })
            .graceful_shutdown_on(shutdown.cancelled_owned())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {})
            .await;
    }
}

fn is_token_secret(secret: &Secret) -> bool {
    secret.type_.as_deref() == Some(TOKEN_SECRET_TYPE)
}

fn annotation<'a>(secret: &'a Secret, key: &str) -> Option<&'a str> {
    secret.annotations().get(key).map(String::as_str)
}

fn error_policy(_: Arc<Secret>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(%err, "service-account token sync failed; retrying");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(secret: Arc<Secret>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    if !is_token_secret(&secret) || secret.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let (Some(namespace), Some(account_name)) =
        (secret.namespace(), annotation(&secret, NAME_ANNOTATION))
    else {
        return Ok(Action::await_change());
    };
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let wanted_uid = annotation(&secret, UID_ANNOTATION);
    let account = ctx
        .accounts
        .get(&ObjectRef::new(account_name).within(&namespace))
        .filter(|a| wanted_uid.is_none_or(|uid| a.uid().as_deref() == Some(uid)));
    let Some(account) = account else {
        // The cache may lag a just-created account: ask the API before deleting anything.
        let live: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &namespace);
        let exists = live
            .get_opt(account_name)
            .await?
            .is_some_and(|a| wanted_uid.is_none_or(|uid| a.uid().as_deref() == Some(uid)));
        if !exists {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: secret.uid(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            tracing::info!(secret = %secret.name_any(), %namespace, "deleting token secret of a missing service account");
            ignore_gone(api.delete(&secret.name_any(), &params).await.map(drop))?;
        }
        return Ok(Action::await_change());
    };
    let data = secret.data.clone().unwrap_or_default();
    let complete = ["token", "ca.crt", "namespace"]
        .iter()
        .all(|k| data.get(*k).is_some_and(|v| !v.0.is_empty()))
        && wanted_uid.is_some();
    if complete {
        return Ok(Action::await_change());
    }
    let account_uid = account.uid().unwrap_or_default();
    let token = ctx
        .issuer
        .issue_legacy(&LegacyClaims {
            namespace: namespace.clone(),
            service_account_name: account_name.to_string(),
            service_account_uid: account_uid.clone(),
            secret_name: secret.name_any(),
        })
        .map_err(|e| ControllerError::Signing(e.to_string()))?;
    let mut updated = (*secret).clone();
    let mut data: BTreeMap<String, ByteString> = data;
    data.insert("token".into(), ByteString(token.into_bytes()));
    data.insert(
        "ca.crt".into(),
        ByteString(ctx.root_ca_pem.clone().into_bytes()),
    );
    data.insert(
        "namespace".into(),
        ByteString(namespace.clone().into_bytes()),
    );
    updated.data = Some(data);
    updated
        .annotations_mut()
        .insert(UID_ANNOTATION.into(), account_uid);
    // The cached resourceVersion makes this a compare-and-swap: a concurrent edit wins and
    // the resulting event brings the Secret back here.
    ignore_gone(
        api.replace(&secret.name_any(), &PostParams::default(), &updated)
            .await
            .map(drop),
    )?;
    Ok(Action::await_change())
}

fn ignore_gone(result: Result<(), kube::Error>) -> Result<(), ControllerError> {
    match result {
        Err(kube::Error::Api(status)) if matches!(status.code, 404 | 409) => Ok(()),
        other => Ok(other?),
    }
}
