//! The cluster's AWS authentication file (`--aws-auth-config`), read and checked.

use std::path::Path;

use keelson_aws_core::access::{AccessScope, AccessScopeType, ClusterAuthConfig};

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

/// Check a file. Its cluster id and STS endpoints must be right or nothing can be verified;
/// a bad access entry (or policy association) is dropped with a warning instead, so one
/// mistake locks out one principal, not every user of the cluster.
pub fn check(mut file: ClusterAuthConfig) -> Result<AuthSettings, AwsAuthError> {
    if file.cluster_id.trim().is_empty() {
        return Err(AwsAuthError::Config("clusterId must not be empty".into()));
    }
    if file.sts_endpoints.is_empty() {
        return Err(AwsAuthError::Config(
            "stsEndpoints must name at least one STS endpoint".into(),
        ));
    }
    let sts_endpoints = file
        .sts_endpoints
        .iter()
        .map(|url| StsEndpoint::parse(url))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = std::collections::HashSet::new();
    file.access_entries.retain_mut(|entry| {
        let arn = &entry.principal_arn;
        if !is_entry_principal(arn) {
            tracing::warn!(principal = %arn, "access entry ignored: not an IAM user or role ARN");
            return false;
        }
        if !seen.insert(arn.to_ascii_lowercase()) {
            tracing::warn!(principal = %arn, "access entry ignored: the principal appears twice");
            return false;
        }
        entry.access_policies.retain(|grant| match scope_problem(&grant.access_scope) {
            Some(problem) => {
                tracing::warn!(principal = %arn, policy = %grant.policy_arn, %problem, "access policy ignored");
                false
            }
            None => true,
        });
        true
    });
    Ok(AuthSettings {
        file,
        sts_endpoints,
    })
}

fn scope_problem(scope: &AccessScope) -> Option<&'static str> {
    match scope.scope_type {
        AccessScopeType::Cluster if !scope.namespaces.is_empty() => {
            Some("a cluster scope takes no namespaces")
        }
        AccessScopeType::Namespace if scope.namespaces.is_empty() => {
            Some("a namespace scope needs namespaces")
        }
        _ if scope
            .namespaces
            .iter()
            .any(|ns| ns.is_empty() || ns.trim_end_matches('*').contains('*')) =>
        {
            Some("namespaces may only end in a * wildcard")
        }
        _ => None,
    }
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
    fn files_without_a_cluster_id_or_trusted_sts_are_refused() {
        let no_id = serde_json::json!({"clusterId": "", "stsEndpoints": ["http://127.0.0.1:1"],
            "authenticationMode": "API", "accessEntries": []});
        assert!(file(no_id).is_err());
        let no_sts = serde_json::json!({"clusterId": "c", "stsEndpoints": [],
            "authenticationMode": "API", "accessEntries": []});
        assert!(file(no_sts).is_err());
        let clear_text = serde_json::json!({"clusterId": "c", "stsEndpoints": ["http://10.0.0.1:1"],
            "authenticationMode": "API", "accessEntries": []});
        assert!(file(clear_text).is_err());
    }

    #[test]
    fn bad_entries_and_scopes_are_dropped_alone() {
        let good = entry(
            "arn:aws:iam::1:user/good",
            serde_json::json!({"type": "cluster"}),
        );
        let session = entry(
            "arn:aws:sts::1:assumed-role/r/s",
            serde_json::json!({"type": "cluster"}),
        );
        let twice = entry(
            "arn:aws:iam::1:user/Twice",
            serde_json::json!({"type": "cluster"}),
        );
        let twice_again = entry(
            "arn:aws:iam::1:user/twice",
            serde_json::json!({"type": "cluster"}),
        );
        let inner_star = entry(
            "arn:aws:iam::1:user/star",
            serde_json::json!({"type": "namespace", "namespaces": ["d*v"]}),
        );
        let empty_ns = entry(
            "arn:aws:iam::1:user/empty",
            serde_json::json!({"type": "namespace", "namespaces": []}),
        );
        let settings = file(with_entries(vec![
            good,
            session,
            twice,
            twice_again,
            inner_star,
            empty_ns,
        ]))
        .unwrap();
        let entries = &settings.file.access_entries;
        let principals: Vec<&str> = entries.iter().map(|e| e.principal_arn.as_str()).collect();
        assert_eq!(
            principals,
            [
                "arn:aws:iam::1:user/good",
                "arn:aws:iam::1:user/Twice",
                "arn:aws:iam::1:user/star",
                "arn:aws:iam::1:user/empty",
            ]
        );
        assert_eq!(entries[0].access_policies.len(), 1);
        assert!(entries[2].access_policies.is_empty());
        assert!(entries[3].access_policies.is_empty());
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
