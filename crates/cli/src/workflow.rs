//! The command line's operations, each a few API calls: create a cluster and wait for it,
//! list clusters with their descriptions, delete and wait, write a kubeconfig entry.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::CliError;
use crate::cluster_config::ClusterConfig;
use crate::eks::wait::{self, Progress};
use crate::eks::{Cluster, EksClient};
use crate::kubeconfig::{self, Entry};
use crate::session::Session;

/// How long `create cluster` and `delete cluster --wait` wait, as botocore's waiters do
/// (40 attempts, 30 s apart).
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The CreateCluster request for `config` in the caller's account (STS GetCallerIdentity
/// names it, for the default cluster role).
pub async fn create_request(
    session: &Session,
    config: &ClusterConfig,
) -> Result<serde_json::Value, CliError> {
    let identity = session.sts()?.get_caller_identity().await?;
    let token = uuid::Uuid::new_v4().to_string();
    Ok(config.create_cluster_request(&identity.account, &token))
}

/// CreateCluster, then wait for ACTIVE, reporting each status on the way.
pub async fn create_cluster(
    eks: &EksClient,
    request: &serde_json::Value,
    mut report: impl FnMut(Progress<'_>),
) -> Result<Cluster, CliError> {
    let created = eks.create_cluster(request).await?;
    wait::until_active(eks, created.name(), WAIT_TIMEOUT, &mut report).await
}

/// `accessConfig.accessEntries`: each entry, then its policies, answering the principals.
pub async fn create_access_entries(
    eks: &EksClient,
    config: &ClusterConfig,
) -> Result<Vec<String>, CliError> {
    let mut made = Vec::new();
    for entry in config.access_entry_requests() {
        eks.create_access_entry(config.name(), &entry.create)
            .await?;
        for policy in &entry.associate {
            eks.associate_access_policy(config.name(), &entry.principal_arn, policy)
                .await?;
        }
        made.push(entry.principal_arn);
    }
    Ok(made)
}

/// Every cluster of the region, described, in name order.
pub async fn clusters(eks: &EksClient) -> Result<Vec<Cluster>, CliError> {
    let mut names = eks.list_clusters().await?;
    names.sort();
    let mut clusters = Vec::with_capacity(names.len());
    for name in names {
        match eks.describe_cluster(&name).await {
            Ok(cluster) => clusters.push(cluster),
            // Deleted between the list and the describe: no longer a cluster to show.
            Err(error) if error.code() == Some("ResourceNotFoundException") => {}
            Err(error) => return Err(error),
        }
    }
    Ok(clusters)
}

/// What `delete_cluster` reports: which resource a waiter's progress is about.
pub enum Deleting<'a> {
    Nodegroup(&'a str, Progress<'a>),
    Cluster(Progress<'a>),
}

/// Deletes the cluster's node groups and waits until they are gone (EKS refuses to delete a
/// cluster that has any), then DeleteCluster, then (when `wait`) polls until it is gone.
pub async fn delete_cluster(
    eks: &EksClient,
    name: &str,
    wait: bool,
    mut report: impl FnMut(Deleting<'_>),
) -> Result<Cluster, CliError> {
    let groups = eks.list_nodegroups(name).await?;
    for group in &groups {
        eks.delete_nodegroup(name, group).await?;
    }
    for group in &groups {
        eks.until_nodegroup_deleted(name, group, WAIT_TIMEOUT, |progress| {
            report(Deleting::Nodegroup(group, progress))
        })
        .await?;
    }
    let cluster = eks.delete_cluster(name).await?;
    if wait {
        wait::until_deleted(eks, name, WAIT_TIMEOUT, |progress| {
            report(Deleting::Cluster(progress))
        })
        .await?;
    }
    Ok(cluster)
}

/// Merges `cluster`'s entry into the kubeconfig (`--kubeconfig`, KUBECONFIG, ~/.kube/config),
/// with `command` as the exec plugin; answers the file written and the context's name.
pub fn write_kubeconfig(
    session: &Session,
    cluster: &Cluster,
    file: Option<&Path>,
    command: &str,
    set_current: bool,
    env: crate::Env<'_>,
) -> Result<(PathBuf, String), CliError> {
    let entry = Entry::for_cluster(cluster, command, session.exec_env())?;
    let path = kubeconfig::path(file, env)?;
    kubeconfig::write(&path, &entry, set_current)?;
    Ok((path, entry.name))
}
