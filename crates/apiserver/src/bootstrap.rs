//! What every control plane has from its first start: the system namespaces, the RBAC
//! bootstrap policy, the `kubernetes` Service and the system PriorityClasses.

use serde_json::{Value, json};

use crate::ServerError;
use crate::object::{encode_for_store, storage_key};
use crate::server::ApiServer;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Create `object` unless it exists. Bootstrap objects that upstream marks for automatic
/// reconciliation (`rbac.authorization.kubernetes.io/autoupdate: "true"`) are not overwritten
/// here once they exist, so that administrators' edits survive restarts.
async fn ensure(
    server: &ApiServer,
    group: &str,
    resource: &str,
    mut object: Value,
) -> Result<(), ServerError> {
    let namespace = object["metadata"]["namespace"].as_str().map(str::to_string);
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let key = storage_key(group, resource, namespace.as_deref(), &name);
    let (existing, _) = server.store.get(&key, None).await?;
    if existing.is_some() {
        return Ok(());
    }
    object["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
    object["metadata"]["creationTimestamp"] = json!(crate::write::now_rfc3339());
    match server
        .store
        .create(&key, encode_for_store(&object), None)
        .await
    {
        Ok(_) | Err(keelson_store::StoreError::AlreadyExists { .. }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

pub async fn ensure_defaults(server: &ApiServer) -> Result<(), ServerError> {
    for namespace in SYSTEM_NAMESPACES {
        ensure(
            server,
            "",
            "namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": namespace, "labels": {"kubernetes.io/metadata.name": namespace}},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        )
        .await?;
    }
    for role in keelson_auth::rbac::bootstrap::cluster_roles() {
        ensure(server, "rbac.authorization.k8s.io", "clusterroles", role).await?;
    }
    for binding in keelson_auth::rbac::bootstrap::cluster_role_bindings() {
        ensure(
            server,
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            binding,
        )
        .await?;
    }
    for role in keelson_auth::rbac::bootstrap::namespaced_roles() {
        ensure(server, "rbac.authorization.k8s.io", "roles", role).await?;
    }
    for binding in keelson_auth::rbac::bootstrap::namespaced_role_bindings() {
        ensure(server, "rbac.authorization.k8s.io", "rolebindings", binding).await?;
    }
    let port = server
        .config
        .listen
        .first()
        .map(|a| a.port())
        .unwrap_or(6443);
    ensure(
        server,
        "",
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kubernetes", "namespace": "default",
                            "labels": {"component": "apiserver", "provider": "kubernetes"}},
               "spec": {"type": "ClusterIP", "clusterIP": server.config.kubernetes_service_ip,
                        "clusterIPs": [server.config.kubernetes_service_ip], "ipFamilies": ["IPv4"],
                        "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster", "sessionAffinity": "None",
                        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
               "status": {"loadBalancer": {}}}),
    )
    .await?;
    let ip = server
        .config
        .listen
        .first()
        .map(|a| {
            if a.ip().is_unspecified() {
                "127.0.0.1".to_string()
            } else {
                a.ip().to_string()
            }
        })
        .unwrap_or_else(|| "127.0.0.1".into());
    ensure(
        server,
        "",
        "endpoints",
        json!({"apiVersion": "v1", "kind": "Endpoints",
               "metadata": {"name": "kubernetes", "namespace": "default",
                            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
               "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]}),
    )
    .await?;
    // The two system PriorityClasses every cluster has (upstream's scheduling bootstrap).
    for (name, value, description) in [
        (
            "system-node-critical",
            2_000_001_000,
            "Used for system critical pods that must not be moved from their current node.",
        ),
        (
            "system-cluster-critical",
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
    ] {
        ensure(
            server,
            "scheduling.k8s.io",
            "priorityclasses",
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                   "metadata": {"name": name}, "value": value, "globalDefault": false,
                   "description": description, "preemptionPolicy": "PreemptLowerPriority"}),
        )
        .await?;
    }
    // Serve nothing until the cache reflects what was just written.
    let revision = server.store.current_revision().await?;
    server
        .cache
        .wait_for(revision, std::time::Duration::from_secs(10))
        .await;
    Ok(())
}
