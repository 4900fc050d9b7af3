//! The managed node group calls `delete cluster` needs: EKS refuses to delete a cluster that
//! still has node groups, so, as eksctl does, they go first.

use std::time::{Duration, Instant};

use super::wait::{Progress, announce};
use super::{EksClient, POLL_INTERVAL, encode_label};
use crate::CliError;

impl EksClient {
    /// Every node group of `cluster`, following `nextToken` until the last page.
    pub async fn list_nodegroups(&self, cluster: &str) -> Result<Vec<String>, CliError> {
        let mut names = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("maxResults", "100");
            if let Some(token) = &next_token {
                query.append_pair("nextToken", token);
            }
            let path = format!(
                "/clusters/{}/node-groups?{}",
                encode_label(cluster),
                query.finish()
            );
            let answer = self
                .call("ListNodegroups", http::Method::GET, &path, None)
                .await?;
            let page = answer["nodegroups"]
                .as_array()
                .ok_or_else(|| CliError::Answer {
                    service: "EKS",
                    message: "ListNodegroups answer has no nodegroups list".into(),
                })?;
            names.extend(page.iter().filter_map(|n| n.as_str().map(str::to_string)));
            next_token = answer["nextToken"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if next_token.is_none() {
                return Ok(names);
            }
        }
    }

    /// DeleteNodegroup; answers the group's status.
    pub async fn delete_nodegroup(&self, cluster: &str, group: &str) -> Result<String, CliError> {
        let answer = self
            .call(
                "DeleteNodegroup",
                http::Method::DELETE,
                &nodegroup_path(cluster, group),
                None,
            )
            .await?;
        Ok(status_of(&answer))
    }

    /// DescribeNodegroup's status.
    pub async fn nodegroup_status(&self, cluster: &str, group: &str) -> Result<String, CliError> {
        let answer = self
            .call(
                "DescribeNodegroup",
                http::Method::GET,
                &nodegroup_path(cluster, group),
                None,
            )
            .await?;
        Ok(status_of(&answer))
    }

    /// Polls until DescribeNodegroup answers ResourceNotFoundException (botocore's
    /// NodegroupDeleted waiter); fails if the group turns DELETE_FAILED.
    pub async fn until_nodegroup_deleted(
        &self,
        cluster: &str,
        group: &str,
        timeout: Duration,
        mut report: impl FnMut(Progress<'_>),
    ) -> Result<(), CliError> {
        let started = Instant::now();
        let mut last = None;
        loop {
            match self.nodegroup_status(cluster, group).await {
                Ok(status) => {
                    announce(&mut last, &status, started, &mut report);
                    if status == "DELETE_FAILED" || started.elapsed() > timeout {
                        return Err(CliError::Invalid(format!(
                            "node group {group:?} of cluster {cluster:?} is {status} after {}s",
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
}

fn nodegroup_path(cluster: &str, group: &str) -> String {
    format!(
        "/clusters/{}/node-groups/{}",
        encode_label(cluster),
        encode_label(group)
    )
}

fn status_of(answer: &serde_json::Value) -> String {
    answer["nodegroup"]["status"]
        .as_str()
        .unwrap_or("UNKNOWN")
        .to_string()
}
