//! Upstream's ResourceQuota admission plugin: a create that would take a namespace's usage over
//! a quota's hard limit is refused (403, upstream's "exceeded quota" wording), and an admitted
//! one is charged to the quota's `status.used` before the object is stored, with a
//! compare-and-swap so concurrent creates cannot both take the last unit. The resource-quota
//! controller recomputes `status.used` from the objects, which corrects any charge whose object
//! was not stored after all.

use std::collections::BTreeMap;

use keelson_api_types::quantity::{format_milli, format_value, is_milli_resource, parse_scaled};
use keelson_store::StoreError;
use serde_json::{Value, json};

use crate::handler::Ctx;
use crate::object::{encode_for_store, storage_prefix};
use crate::status::ApiError;

const MAX_ATTEMPTS: usize = 8;

/// What creating `obj` adds to each quota resource name.
fn usage(group: &str, plural: &str, obj: &Value) -> BTreeMap<String, i64> {
    let mut usage = BTreeMap::new();
    let count_key = if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    };
    usage.insert(count_key, 1);
    match (group, plural) {
        ("", "pods") => {
            usage.insert("pods".into(), 1);
            for (field, prefix) in [("requests", "requests."), ("limits", "limits.")] {
                for (resource, amount) in pod_resources(obj, field) {
                    if field == "requests"
                        && matches!(resource.as_str(), "cpu" | "memory" | "ephemeral-storage")
                    {
                        *usage.entry(resource.clone()).or_default() += amount;
                    }
                    *usage.entry(format!("{prefix}{resource}")).or_default() += amount;
                }
            }
        }
        ("", "services") => {
            usage.insert("services".into(), 1);
            match obj["spec"]["type"].as_str() {
                Some("NodePort") => {
                    let ports = obj["spec"]["ports"].as_array().map_or(0, Vec::len) as i64;
                    usage.insert("services.nodeports".into(), ports);
                }
                Some("LoadBalancer") => {
                    usage.insert("services.loadbalancers".into(), 1);
                    let ports = obj["spec"]["ports"].as_array().map_or(0, Vec::len) as i64;
                    usage.insert("services.nodeports".into(), ports);
                }
                _ => {}
            }
        }
        ("", "persistentvolumeclaims") => {
            usage.insert("persistentvolumeclaims".into(), 1);
            if let Some(storage) = obj
                .pointer("/spec/resources/requests/storage")
                .and_then(Value::as_str)
                .and_then(|s| parse_scaled(s, 0))
            {
                usage.insert("requests.storage".into(), storage);
            }
        }
        ("", "configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas") => {
            usage.insert(plural.to_string(), 1);
        }
        _ => {}
    }
    usage
}

/// A pod's effective requests or limits: the larger of the containers' sum and any one init
/// container's (they run one at a time), plus the pod overhead, as upstream computes them.
fn pod_resources(pod: &Value, field: &str) -> BTreeMap<String, i64> {
    let read = |container: &Value| -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for (resource, value) in container["resources"][field]
            .as_object()
            .into_iter()
            .flatten()
        {
            if let Some(amount) = quantity(resource, value) {
                out.insert(resource.clone(), amount);
            }
        }
        out
    };
    let mut total: BTreeMap<String, i64> = BTreeMap::new();
    for container in pod["spec"]["containers"].as_array().into_iter().flatten() {
        for (resource, amount) in read(container) {
            *total.entry(resource).or_default() += amount;
        }
    }
    for init in pod["spec"]["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for (resource, amount) in read(init) {
            let entry = total.entry(resource).or_default();
            *entry = (*entry).max(amount);
        }
    }
    for (resource, value) in pod["spec"]["overhead"].as_object().into_iter().flatten() {
        if let Some(amount) = quantity(resource, value) {
            *total.entry(resource.clone()).or_default() += amount;
        }
    }
    total
}

fn quantity(resource: &str, value: &Value) -> Option<i64> {
    let text = value
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| value.to_string());
    parse_scaled(&text, if is_milli(resource) { 3 } else { 0 })
}

fn is_milli(resource: &str) -> bool {
    is_milli_resource(resource.rsplit('.').next().unwrap_or(resource))
}

fn render(resource: &str, amount: i64) -> String {
    if is_milli(resource) {
        format_milli(amount)
    } else {
        format_value(amount)
    }
}

/// Whether the quota's scopes select this object (only pods are scoped).
fn in_scope(quota: &Value, plural: &str, obj: &Value) -> bool {
    let scopes: Vec<&str> = quota["spec"]["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if scopes.is_empty() {
        return true;
    }
    if plural != "pods" {
        return false;
    }
    let terminating = obj["spec"]["activeDeadlineSeconds"].is_number();
    let best_effort = ["requests", "limits"]
        .iter()
        .all(|field| pod_resources(obj, field).is_empty());
    scopes.iter().all(|scope| match *scope {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort,
        "NotBestEffort" => !best_effort,
        _ => true,
    })
}

pub async fn admit_create(ctx: &Ctx, obj: &Value, dry_run: bool) -> Result<(), ApiError> {
    let Some(namespace) = ctx.namespace() else {
        return Ok(());
    };
    let prefix = storage_prefix("", "resourcequotas", Some(namespace));
    let (quotas, _) = ctx.server.cache.list("", "resourcequotas", &prefix);
    if quotas.is_empty() {
        return Ok(());
    }
    let info = &ctx.resource.info;
    let usage = usage(&info.group, &info.plural, obj);
    for cached in quotas {
        let key = cached.key.clone();
        for attempt in 0.. {
            let (kv, _) = ctx.server.store.get(&key, None).await?;
            let Some(kv) = kv else { break };
            let mut quota: Value = serde_json::from_slice(&kv.value)
                .map_err(|e| ApiError::Internal(format!("stored ResourceQuota is corrupt: {e}")))?;
            if !in_scope(&quota, &info.plural, obj) {
                break;
            }
            let Some(charged) = charge(ctx, obj, &mut quota, &usage)? else {
                break;
            };
            if dry_run || !charged {
                break;
            }
            match ctx
                .server
                .store
                .update(&key, encode_for_store(&quota), kv.mod_revision, None)
                .await
            {
                Ok(_) => break,
                Err(StoreError::Conflict { .. }) if attempt + 1 < MAX_ATTEMPTS => continue,
                Err(StoreError::Conflict { .. }) => {
                    return Err(ApiError::Conflict {
                        group: String::new(),
                        resource: "resourcequotas".into(),
                        name: quota["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .into(),
                        reason: "please apply your changes to the latest version and try again"
                            .into(),
                    });
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
    Ok(())
}

/// Check `usage` against one quota and add it to `status.used`. `Ok(None)` when the quota
/// constrains nothing this object uses; `Ok(Some(true))` when `quota` was charged.
fn charge(
    ctx: &Ctx,
    obj: &Value,
    quota: &mut Value,
    usage: &BTreeMap<String, i64>,
) -> Result<Option<bool>, ApiError> {
    let quota_name = quota["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let hard = quota["status"]["hard"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let constrained: Vec<&String> = hard
        .keys()
        .filter(|r| usage.contains_key(*r) || must_specify(ctx, r))
        .collect();
    if constrained.is_empty() {
        return Ok(None);
    }
    let missing: Vec<&str> = constrained
        .iter()
        .filter(|r| !usage.contains_key(**r))
        .map(|r| r.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(super::forbidden(
            ctx,
            obj,
            format!(
                "failed quota: {quota_name}: must specify {}",
                missing.join(",")
            ),
        ));
    }
    let used = quota["status"]["used"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if let Some(unknown) = constrained.iter().find(|r| !used.contains_key(**r)) {
        return Err(super::forbidden(
            ctx,
            obj,
            format!("status unknown for quota: {quota_name}, resource: {unknown}"),
        ));
    }
    let (mut requested, mut in_use, mut limited) = (Vec::new(), Vec::new(), Vec::new());
    let mut new_used = used.clone();
    for resource in &constrained {
        let add = usage[*resource];
        let now = quantity(resource, &used[*resource]).unwrap_or(0);
        let limit = quantity(resource, &hard[*resource]).unwrap_or(0);
        if now + add > limit {
            requested.push(format!("{resource}={}", render(resource, add)));
            in_use.push(format!("{resource}={}", render(resource, now)));
            limited.push(format!("{resource}={}", render(resource, limit)));
        }
        new_used.insert((*resource).clone(), json!(render(resource, now + add)));
    }
    if !requested.is_empty() {
        return Err(super::forbidden(
            ctx,
            obj,
            format!(
                "exceeded quota: {quota_name}, requested: {}, used: {}, limited: {}",
                requested.join(","),
                in_use.join(","),
                limited.join(",")
            ),
        ));
    }
    quota["status"]["used"] = Value::Object(new_used);
    Ok(Some(true))
}

/// Compute resources a pod must declare when a quota limits them (a pod without a cpu request
/// cannot be charged against `requests.cpu`).
fn must_specify(ctx: &Ctx, resource: &str) -> bool {
    ctx.resource.info.group.is_empty()
        && ctx.resource.info.plural == "pods"
        && (resource.starts_with("requests.") || resource.starts_with("limits."))
        && resource != "requests.storage"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_usage_counts_requests_limits_and_init_containers() {
        let pod = json!({"spec": {
            "initContainers": [{"resources": {"requests": {"cpu": "2"}}}],
            "containers": [
                {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}},
                {"resources": {"requests": {"cpu": "500m"}}},
            ],
        }});
        let usage = usage("", "pods", &pod);
        assert_eq!(usage["pods"], 1);
        assert_eq!(usage["count/pods"], 1);
        assert_eq!(usage["requests.cpu"], 2000);
        assert_eq!(usage["cpu"], 2000);
        assert_eq!(usage["requests.memory"], 1 << 30);
        assert_eq!(usage["limits.memory"], 2 << 30);
        assert_eq!(render("requests.cpu", 2000), "2");
        assert_eq!(render("limits.memory", 2 << 30), "2Gi");
    }

    #[test]
    fn service_usage_counts_node_ports() {
        let svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}});
        let usage = usage("", "services", &svc);
        assert_eq!(usage["services"], 1);
        assert_eq!(usage["services.nodeports"], 2);
        let deployment = usage_of_apps();
        assert_eq!(deployment["count/deployments.apps"], 1);
    }

    fn usage_of_apps() -> BTreeMap<String, i64> {
        usage("apps", "deployments", &json!({}))
    }

    #[test]
    fn scopes_select_pods() {
        let quota = json!({"spec": {"scopes": ["BestEffort"]}});
        let best_effort = json!({"spec": {"containers": [{}]}});
        let burstable =
            json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert!(in_scope(&quota, "pods", &best_effort));
        assert!(!in_scope(&quota, "pods", &burstable));
        assert!(!in_scope(&quota, "services", &best_effort));
    }
}
