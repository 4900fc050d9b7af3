//! Upstream's ServiceAccount and DefaultTolerationSeconds admission plugins for pods.

use serde_json::{Value, json};

use crate::handler::Ctx;
use crate::object::storage_key;
use crate::status::ApiError;

/// Where the kubelet mounts a pod's service-account credentials.
const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Upstream's token lifetime for the projected volume: an hour plus seven seconds, which marks
/// the token as one the kubelet refreshes.
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// DefaultTolerationSeconds: how long pods stay on a not-ready or unreachable node.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

pub fn admit(ctx: &Ctx, pod: &mut Value) -> Result<(), ApiError> {
    admit_service_account(ctx, pod)?;
    add_default_tolerations(pod);
    Ok(())
}

fn admit_service_account(ctx: &Ctx, pod: &mut Value) -> Result<(), ApiError> {
    // Mirror pods (static pods posted by a kubelet) may not use service accounts.
    if pod
        .pointer("/metadata/annotations/kubernetes.io~1config.mirror")
        .is_some()
    {
        return Ok(());
    }
    let spec = &mut pod["spec"];
    let account = spec["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or_else(|| spec["serviceAccount"].as_str().filter(|s| !s.is_empty()))
        .unwrap_or("default")
        .to_string();
    spec["serviceAccountName"] = json!(account);
    spec["serviceAccount"] = json!(account);
    let namespace = ctx.namespace().unwrap_or("default");
    let key = storage_key("", "serviceaccounts", Some(namespace), &account);
    let Some(found) = ctx.server.cache.get("", "serviceaccounts", &key) else {
        let reason = format!(
            "error looking up service account {namespace}/{account}: serviceaccount \"{account}\" not found"
        );
        return Err(super::forbidden(ctx, pod, reason));
    };
    let found = found.value()?;
    let automount = pod["spec"]["automountServiceAccountToken"]
        .as_bool()
        .or_else(|| found["automountServiceAccountToken"].as_bool())
        .unwrap_or(true);
    if automount {
        mount_token(pod);
    }
    Ok(())
}

/// Add the projected `kube-api-access-*` volume (token, cluster CA, namespace) and mount it in
/// every container that does not already mount something at the token path.
fn mount_token(pod: &mut Value) {
    let spec = &mut pod["spec"];
    let volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
    let existing = volumes.iter().find_map(|v| {
        let name = v["name"].as_str()?;
        name.starts_with("kube-api-access-")
            .then(|| name.to_string())
    });
    let volume_name = existing.unwrap_or_else(|| {
        let name = format!("kube-api-access-{}", crate::write::random_suffix());
        let mut volumes = volumes;
        volumes.push(json!({
            "name": name,
            "projected": {
                "defaultMode": 0o644,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
                ],
            },
        }));
        spec["volumes"] = json!(volumes);
        name
    });
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec[list].as_array_mut() else {
            continue;
        };
        for container in containers {
            let mounts = container["volumeMounts"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if mounts.iter().any(|m| m["mountPath"] == TOKEN_MOUNT_PATH) {
                continue;
            }
            let mut mounts = mounts;
            mounts.push(
                json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH}),
            );
            container["volumeMounts"] = json!(mounts);
        }
    }
}

/// Pods tolerate a not-ready or unreachable node for five minutes unless they say otherwise.
fn add_default_tolerations(pod: &mut Value) {
    let mut tolerations = pod["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let covered = tolerations.iter().any(|t| {
            let effect_matches = t["effect"]
                .as_str()
                .is_none_or(|e| e.is_empty() || e == "NoExecute");
            let key_matches = match t["key"].as_str() {
                None | Some("") => t["operator"] == "Exists",
                Some(k) => k == key,
            };
            effect_matches && key_matches
        });
        if !covered {
            tolerations.push(
                json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}),
            );
        }
    }
    pod["spec"]["tolerations"] = json!(tolerations);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tolerations_are_added_once() {
        let mut pod = json!({"spec": {"containers": [{"name": "c"}]}});
        add_default_tolerations(&mut pod);
        add_default_tolerations(&mut pod);
        let tolerations = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(tolerations.len(), 2);
        assert_eq!(tolerations[0]["tolerationSeconds"], 300);
    }

    #[test]
    fn an_explicit_toleration_wins() {
        let mut pod = json!({"spec": {"tolerations": [
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}
        ]}});
        add_default_tolerations(&mut pod);
        let tolerations = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(tolerations.len(), 2);
        assert_eq!(tolerations[0]["tolerationSeconds"], 2);
        assert_eq!(tolerations[1]["key"], "node.kubernetes.io/not-ready");
    }

    #[test]
    fn token_volume_is_mounted_in_every_container() {
        let mut pod = json!({"spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "a"}, {"name": "b", "volumeMounts": [{"name": "own", "mountPath": TOKEN_MOUNT_PATH}]}],
        }});
        mount_token(&mut pod);
        mount_token(&mut pod);
        let volumes = pod["spec"]["volumes"].as_array().unwrap();
        assert_eq!(volumes.len(), 1);
        let name = volumes[0]["name"].as_str().unwrap();
        assert!(name.starts_with("kube-api-access-"));
        assert_eq!(
            pod["spec"]["initContainers"][0]["volumeMounts"][0]["name"],
            name
        );
        assert_eq!(
            pod["spec"]["containers"][0]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            pod["spec"]["containers"][1]["volumeMounts"][0]["name"],
            "own"
        );
    }
}
