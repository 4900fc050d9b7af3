//! Waiting for a cluster to settle, as botocore's ClusterActive and ClusterDeleted waiters do,
//! reporting each status seen (with the time since the wait began) so the command line can
//! show progress.

use std::time::{Duration, Instant};

use super::{Cluster, EksClient, POLL_INTERVAL};
use crate::CliError;

/// What a waiter reports while it polls.
pub enum Progress<'a> {
    /// The cluster shows `status` (reported when it changes, and every `REMIND` otherwise).
    Status { status: &'a str, elapsed: Duration },
    /// DescribeCluster answered ResourceNotFoundException.
    Gone { elapsed: Duration },
}

/// How often an unchanged status is reported again, so a long wait still shows life.
const REMIND: Duration = Duration::from_secs(15);

/// Polls until the cluster is ACTIVE; fails when it turns FAILED or DELETING (as the
/// ClusterActive waiter does) or when `timeout` passes.
pub async fn until_active(
    client: &EksClient,
    name: &str,
    timeout: Duration,
    mut report: impl FnMut(Progress<'_>),
) -> Result<Cluster, CliError> {
    let started = Instant::now();
    let mut last: Option<(String, Instant)> = None;
    loop {
        let cluster = client.describe_cluster(name).await?;
        let status = cluster.status().to_string();
        announce(&mut last, &status, started, &mut report);
        match status.as_str() {
            "ACTIVE" => return Ok(cluster),
            "FAILED" | "DELETING" => {
                return Err(CliError::Invalid(format!(
                    "cluster {name:?} is {status}, it will not become ACTIVE{}",
                    health(&cluster)
                )));
            }
            _ => {}
        }
        if started.elapsed() > timeout {
            return Err(CliError::Invalid(format!(
                "cluster {name:?} is still {status} after {}s",
                started.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Polls until DescribeCluster answers ResourceNotFoundException (the ClusterDeleted waiter).
pub async fn until_deleted(
    client: &EksClient,
    name: &str,
    timeout: Duration,
    mut report: impl FnMut(Progress<'_>),
) -> Result<(), CliError> {
    let started = Instant::now();
    let mut last: Option<(String, Instant)> = None;
    loop {
        match client.describe_cluster(name).await {
            Ok(cluster) => {
                let status = cluster.status().to_string();
                announce(&mut last, &status, started, &mut report);
                if matches!(status.as_str(), "ACTIVE" | "CREATING" | "PENDING") {
                    return Err(CliError::Invalid(format!(
                        "cluster {name:?} is {status}, it is not being deleted"
                    )));
                }
                if started.elapsed() > timeout {
                    return Err(CliError::Invalid(format!(
                        "cluster {name:?} is still {status} after {}s",
                        started.elapsed().as_secs()
                    )));
                }
            }
            Err(error) if error.code() == Some("ResourceNotFoundException") => {
                report(Progress::Gone {
                    elapsed: started.elapsed(),
                });
                return Ok(());
            }
            Err(error) => return Err(error),
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

pub(super) fn announce(
    last: &mut Option<(String, Instant)>,
    status: &str,
    started: Instant,
    report: &mut impl FnMut(Progress<'_>),
) {
    let due = match last {
        Some((previous, at)) => previous != status || at.elapsed() >= REMIND,
        None => true,
    };
    if due {
        report(Progress::Status {
            status,
            elapsed: started.elapsed(),
        });
        *last = Some((status.to_string(), Instant::now()));
    }
}

/// The cluster's health issues, for a failure message.
fn health(cluster: &Cluster) -> String {
    let issues: Vec<String> = cluster.raw()["health"]["issues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|issue| {
            format!(
                "{}: {}",
                issue["code"].as_str().unwrap_or("Other"),
                issue["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    if issues.is_empty() {
        String::new()
    } else {
        format!(" ({})", issues.join("; "))
    }
}
