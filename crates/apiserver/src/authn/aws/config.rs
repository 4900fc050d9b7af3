//! The cluster's AWS authentication file (`--aws-auth-config`), read and checked.

use std::path::Path;

use keelson_aws_core::access::{AccessScopeType, ClusterAuthConfig};

use super::AwsAuthError;
use super::arn::is_entry_principal;
use super::endpoint::StsEndpoint;

/// A checked [`ClusterAuthConfig`] with its STS endpoints parsed.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    pub file: ClusterAuthConfig,
    pub sts_endpoints: Vec<StsEndpoint>,
}

/// Read and check the file the EKS service writes for this cluster.
pub fn load_cluster_auth_config(path: &Path) -> Result<AuthSettings, AwsAuthError> {
    let text = std::fs::read(path)
        .map_err(|err| AwsAuthError::Config(format!("reading {}: {err}", path.display())))?;
    let file: ClusterAuthConfig = serde_json::from_slice(&text)
        .map_err(|err| AwsAuthError::Config(format!("parsing {}: {err}", path.display())))?;
    check(file).map_err(|err| match err {
        AwsAuthError::Config(why) => AwsAuthError::Config(format!("{}: {why}", path.display())),
        other => other,
    })
}

pub fn check(file: ClusterAuthConfig) -> Result<AuthSettings, AwsAuthError> {
    let invalid = |why: String| Err(AwsAuthError::Config(why));
    if file.cluster_id.trim().is_empty() {
        return invalid("clusterId must not be empty".into());
    }
    if file.sts_endpoints.is_empty() {
        return invalid("stsEndpoints must name at least one STS endpoint".into());
    }
    let sts_endpoints = file
        .sts_endpoints
        .iter()
        .map(|url| StsEndpoint::parse(url))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = std::collections::HashSet::new();
    for entry in &file.access_entries {
        let arn = &entry.principal_arn;
        if !is_entry_principal(arn) {
            return invalid(format!(
                "accessEntries: {arn:?} is not an IAM user or role ARN"
            ));
        }
        if !seen.insert(arn.to_ascii_lowercase()) {
            return invalid(format!("accessEntries: {arn:?} appears twice"));
        }
        for grant in &entry.access_policies {
            let scope = &grant.access_scope;
            match scope.scope_type {
                AccessScopeType::Cluster if !scope.namespaces.is_empty() => {
                    return invalid(format!(
                        "accessEntries: {arn:?}: a cluster scope takes no namespaces"
                    ));
                }
                AccessScopeType::Namespace if scope.namespaces.is_empty() => {
                    return invalid(format!(
                        "accessEntries: {arn:?}: a namespace scope needs namespaces"
                    ));
                }
                _ => {}
            }
            if let Some(bad) = scope
                .namespaces
                .iter()
                .find(|ns| ns.is_empty() || ns.trim_end_matches('*').contains('*'))
            {
                return invalid(format!(
                    "accessEntries: {arn:?}: namespace {bad:?} may only end in a * wildcard"
                ));
            }
        }
    }
    Ok(AuthSettings {
        file,
        sts_endpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: serde_json::Value) -> Result<AuthSettings, AwsAuthError> {
        check(serde_json::from_value(json).unwrap())
    }

    fn entry(arn: &str, scope: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "principalArn": arn, "username": "u", "kubernetesGroups": [], "type": "STANDARD",
            "accessPolicies": [{
                "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                "accessScope": scope,
            }],
        })
    }

    fn with_entries(entries: Vec<serde_json::Value>) -> serde_json::Value {
        serde_json::json!({
            "clusterId": "c1", "stsEndpoints": ["http://127.0.0.1:8443"],
            "authenticationMode": "API", "accessEntries": entries,
        })
    }

    #[test]
    fn a_valid_file_loads() {
        let settings = file(with_entries(vec![
            entry(
                "arn:aws:iam::1:user/alice",
                serde_json::json!({"type": "namespace", "namespaces": ["dev-*", "prod"]}),
            ),
            entry(
                "arn:aws:iam::1:role/a/b",
                serde_json::json!({"type": "cluster"}),
            ),
        ]))
        .unwrap();
        assert_eq!(settings.sts_endpoints.len(), 1);
        assert_eq!(settings.file.access_entries.len(), 2);
    }

    #[test]
    fn bad_files_are_refused() {
        let no_id = serde_json::json!({"clusterId": "", "stsEndpoints": ["http://127.0.0.1:1"],
            "authenticationMode": "API", "accessEntries": []});
        assert!(file(no_id).is_err());
        let no_sts = serde_json::json!({"clusterId": "c", "stsEndpoints": [],
            "authenticationMode": "API", "accessEntries": []});
        assert!(file(no_sts).is_err());
        let clear_text = serde_json::json!({"clusterId": "c", "stsEndpoints": ["http://10.0.0.1:1"],
            "authenticationMode": "API", "accessEntries": []});
        assert!(file(clear_text).is_err());
        let session = entry(
            "arn:aws:sts::1:assumed-role/r/s",
            serde_json::json!({"type": "cluster"}),
        );
        assert!(file(with_entries(vec![session])).is_err());
        let twice = entry(
            "arn:aws:iam::1:user/a",
            serde_json::json!({"type": "cluster"}),
        );
        assert!(file(with_entries(vec![twice.clone(), twice])).is_err());
        let inner_star = entry(
            "arn:aws:iam::1:user/a",
            serde_json::json!({"type": "namespace", "namespaces": ["d*v"]}),
        );
        assert!(file(with_entries(vec![inner_star])).is_err());
        let empty_ns = entry(
            "arn:aws:iam::1:user/a",
            serde_json::json!({"type": "namespace", "namespaces": []}),
        );
        assert!(file(with_entries(vec![empty_ns])).is_err());
    }

    #[test]
    fn missing_or_malformed_files_are_errors() {
        let dir = std::env::temp_dir().join(format!("keelson-aws-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(load_cluster_auth_config(&dir.join("absent.json")).is_err());
        let path = dir.join("bad.json");
        std::fs::write(&path, "{").unwrap();
        assert!(load_cluster_auth_config(&path).is_err());
        std::fs::write(&path, with_entries(vec![]).to_string()).unwrap();
        assert!(load_cluster_auth_config(&path).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
