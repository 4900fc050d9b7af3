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

/// CreateCluster for `config` in the caller's account, then wait for ACTIVE, reporting the
/// request's role and each status on the way.
pub async fn create_cluster(
    session: &Session,
    config: &ClusterConfig,
    mut report: impl FnMut(Progress<'_>),
) -> Result<(Cluster, serde_json::Value), CliError> {
    let identity = session.sts()?.get_caller_identity().await?;
    let token = uuid::Uuid::new_v4().to_string();
    let request = config.create_cluster_request(&identity.account, &token);
    let eks = session.eks()?;
    eks.create_cluster(&request).await?;
    let cluster = wait::until_active(&eks, config.name(), WAIT_TIMEOUT, &mut report).await?;
    Ok((cluster, request))
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

/// DeleteCluster, then (when `wait`) poll until it is gone.
pub async fn delete_cluster(
    eks: &EksClient,
    name: &str,
    wait: bool,
    report: impl FnMut(Progress<'_>),
) -> Result<Cluster, CliError> {
    let cluster = eks.delete_cluster(name).await?;
    if wait {
        wait::until_deleted(eks, name, WAIT_TIMEOUT, report).await?;
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
