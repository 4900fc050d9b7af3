//! In-process informers over the watch cache: they keep the RBAC authorizer and the set of
//! served custom resources in step with the objects that define them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::object::{encode_for_store, storage_prefix};
use crate::server::ApiServer;

const RBAC_RESOURCES: &[&str] = &[
    "roles",
    "clusterroles",
    "rolebindings",
    "clusterrolebindings",
];

pub async fn start(server: &Arc<ApiServer>) {
    rebuild_authorizer(server);
    sync_crds(server).await;
    for resource in RBAC_RESOURCES {
        spawn_informer(server, "rbac.authorization.k8s.io", resource, |server| {
            rebuild_authorizer(&server);
            Box::pin(async {})
        });
    }
    spawn_informer(
        server,
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        |server| Box::pin(async move { sync_crds(&server).await }),
    );
}

type Reaction =
    fn(Arc<ApiServer>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Run `react` after every batch of changes to one resource, until shutdown.
fn spawn_informer(
    server: &Arc<ApiServer>,
    group: &'static str,
    resource: &'static str,
    react: Reaction,
) {
    let server_for_task = server.clone();
    server.tasks.spawn(async move {
        let server = server_for_task;
        loop {
            let Ok(mut subscription) =
                server
                    .cache
                    .subscribe(group, resource, server.cache.revision())
            else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            loop {
                tokio::select! {
                    _ = server.shutdown.cancelled() => return,
                    change = subscription.live.recv() => match change {
                        Ok(_) => {
                            // Coalesce a burst of changes into one rebuild.
                            while subscription.live.try_recv().is_ok() {}
                            react(server.clone()).await;
                        }
                        Err(RecvError::Lagged(_)) => {
                            react(server.clone()).await;
                            break;
                        }
                        Err(RecvError::Closed) => break,
                    }
                }
            }
        }
    });
}

fn list_values(server: &ApiServer, group: &str, resource: &str) -> Vec<Value> {
    let (objects, _) = server
        .cache
        .list(group, resource, &storage_prefix(group, resource, None));
    objects.iter().filter_map(|o| o.value().ok()).collect()
}

fn rebuild_authorizer(server: &ApiServer) {
    let group = "rbac.authorization.k8s.io";
    let cluster_roles = list_values(server, group, "clusterroles");
    if let Some(aws) = &server.aws_auth {
        aws.set_cluster_roles(&cluster_roles);
    }
    let authorizer = keelson_auth::rbac::Authorizer::new(
        &list_values(server, group, "roles"),
        &cluster_roles,
        &list_values(server, group, "rolebindings"),
        &list_values(server, group, "clusterrolebindings"),
    );
    server.set_authorizer(authorizer);
}

/// Serve every CRD's resources, and mark newly created CRDs Established as upstream's
/// apiextensions controllers do.
async fn sync_crds(server: &ApiServer) {
    let group = "apiextensions.k8s.io";
    let (objects, _) = server.cache.list(
        group,
        "customresourcedefinitions",
        &storage_prefix(group, "customresourcedefinitions", None),
    );
    let mut crds = BTreeMap::new();
    for object in objects {
        let Ok(mut crd) = object.value() else {
            continue;
        };
        let established = crd["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        });
        if !established && crd["metadata"].get("deletionTimestamp").is_none() {
            let now = crate::write::now_rfc3339();
            crd["status"]["conditions"] = json!([
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
            ]);
            crd["status"]["acceptedNames"] = crd["spec"]["names"].clone();
            crd["status"]["storedVersions"] = json!(
                crd["spec"]["versions"]
                    .as_array()
                    .map(|v| v
                        .iter()
                        .filter(|v| v["storage"] == true)
                        .map(|v| v["name"].clone())
                        .collect::<Vec<_>>())
                    .unwrap_or_default()
            );
            if let Err(err) = server
                .store
                .update(
                    &object.key,
                    encode_for_store(&crd),
                    object.resource_version,
                    None,
                )
                .await
            {
                tracing::debug!(%err, crd = %object.name, "CRD status update raced; the next change retries");
            }
        }
        crds.insert(object.name.clone(), crd);
    }
    server.registry.set_crds(crds);
}
