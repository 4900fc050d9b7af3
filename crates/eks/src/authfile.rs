//! The per-cluster [`ClusterAuthConfig`] file the cluster's API server reads, rewritten
//! atomically (temporary file, then rename) so a reader never sees half a document.

use std::path::{Path, PathBuf};

use keelson_aws_core::access::{AccessEntryMapping, AccessPolicyGrant, ClusterAuthConfig};

use crate::error::EksError;
use crate::model::ClusterRecord;

pub fn path(cluster_dir: &Path) -> PathBuf {
    cluster_dir.join("aws-auth-config.json")
}

pub fn config_for(record: &ClusterRecord, sts_endpoint: &str) -> ClusterAuthConfig {
    ClusterAuthConfig {
        cluster_id: record.name.clone(),
        sts_endpoints: vec![sts_endpoint.trim_end_matches('/').to_string()],
        authentication_mode: record.authentication_mode,
        access_entries: record
            .access_entries
            .iter()
            .map(|entry| AccessEntryMapping {
                principal_arn: entry.principal_arn.clone(),
                username: entry.username.clone(),
                kubernetes_groups: entry.kubernetes_groups.clone(),
                entry_type: entry.entry_type.clone(),
                access_policies: entry
                    .policies
                    .iter()
                    .map(|p| AccessPolicyGrant {
                        policy_arn: p.policy_arn.clone(),
                        access_scope: p.access_scope.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Writes the file for `record` into `cluster_dir` (created if missing).
pub fn write(
    cluster_dir: &Path,
    record: &ClusterRecord,
    sts_endpoint: &str,
) -> Result<(), EksError> {
    std::fs::create_dir_all(cluster_dir).map_err(|e| EksError::io("creating", cluster_dir, e))?;
    let target = path(cluster_dir);
    let temporary = cluster_dir.join(format!(".aws-auth-config.json.{}", uuid::Uuid::new_v4()));
    let body = serde_json::to_vec_pretty(&config_for(record, sts_endpoint))
        .expect("auth config serialises");
    std::fs::write(&temporary, body).map_err(|e| EksError::io("writing", &temporary, e))?;
    std::fs::rename(&temporary, &target).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        EksError::io("replacing", &target, e)
    })
}
