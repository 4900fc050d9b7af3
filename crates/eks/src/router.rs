//! Which operation a request names. Matching happens on the raw, still-encoded path, so an ARN
//! label (`arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fdev%2Fr`) stays one segment; each label is decoded
//! only after the route is chosen.

use http::Method;
use keelson_aws_core::AwsError;

use crate::error::serialization;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    CreateCluster,
    ListClusters,
    DescribeClusterVersions,
    DescribeCluster {
        name: String,
    },
    DeleteCluster {
        name: String,
    },
    UpdateClusterConfig {
        name: String,
    },
    UpdateClusterVersion {
        name: String,
    },
    ListUpdates {
        name: String,
    },
    DescribeUpdate {
        name: String,
        update_id: String,
    },
    CreateAccessEntry {
        name: String,
    },
    ListAccessEntries {
        name: String,
    },
    DescribeAccessEntry {
        name: String,
        principal: String,
    },
    UpdateAccessEntry {
        name: String,
        principal: String,
    },
    DeleteAccessEntry {
        name: String,
        principal: String,
    },
    AssociateAccessPolicy {
        name: String,
        principal: String,
    },
    ListAssociatedAccessPolicies {
        name: String,
        principal: String,
    },
    DisassociateAccessPolicy {
        name: String,
        principal: String,
        policy: String,
    },
    ListAccessPolicies,
    CreateNodegroup {
        name: String,
    },
    ListNodegroups {
        name: String,
    },
    DescribeNodegroup {
        name: String,
        group: String,
    },
    DeleteNodegroup {
        name: String,
        group: String,
    },
    UpdateNodegroupConfig {
        name: String,
        group: String,
    },
    TagResource {
        arn: String,
    },
    UntagResource {
        arn: String,
    },
    ListTagsForResource {
        arn: String,
    },
}

impl Operation {
    /// The IAM action name, without the `eks:` prefix.
    pub fn action(&self) -> &'static str {
        match self {
            Operation::CreateCluster => "CreateCluster",
            Operation::ListClusters => "ListClusters",
            Operation::DescribeClusterVersions => "DescribeClusterVersions",
            Operation::DescribeCluster { .. } => "DescribeCluster",
            Operation::DeleteCluster { .. } => "DeleteCluster",
            Operation::UpdateClusterConfig { .. } => "UpdateClusterConfig",
            Operation::UpdateClusterVersion { .. } => "UpdateClusterVersion",
            Operation::ListUpdates { .. } => "ListUpdates",
            Operation::DescribeUpdate { .. } => "DescribeUpdate",
            Operation::CreateAccessEntry { .. } => "CreateAccessEntry",
            Operation::ListAccessEntries { .. } => "ListAccessEntries",
            Operation::DescribeAccessEntry { .. } => "DescribeAccessEntry",
            Operation::UpdateAccessEntry { .. } => "UpdateAccessEntry",
            Operation::DeleteAccessEntry { .. } => "DeleteAccessEntry",
            Operation::AssociateAccessPolicy { .. } => "AssociateAccessPolicy",
            Operation::ListAssociatedAccessPolicies { .. } => "ListAssociatedAccessPolicies",
            Operation::DisassociateAccessPolicy { .. } => "DisassociateAccessPolicy",
            Operation::ListAccessPolicies => "ListAccessPolicies",
            Operation::CreateNodegroup { .. } => "CreateNodegroup",
            Operation::ListNodegroups { .. } => "ListNodegroups",
            Operation::DescribeNodegroup { .. } => "DescribeNodegroup",
            Operation::DeleteNodegroup { .. } => "DeleteNodegroup",
            Operation::UpdateNodegroupConfig { .. } => "UpdateNodegroupConfig",
            Operation::TagResource { .. } => "TagResource",
            Operation::UntagResource { .. } => "UntagResource",
            Operation::ListTagsForResource { .. } => "ListTagsForResource",
        }
    }

    /// The cluster the operation acts on, if any.
    pub fn cluster(&self) -> Option<&str> {
        match self {
            Operation::DescribeCluster { name }
            | Operation::DeleteCluster { name }
            | Operation::UpdateClusterConfig { name }
            | Operation::UpdateClusterVersion { name }
            | Operation::ListUpdates { name }
            | Operation::DescribeUpdate { name, .. }
            | Operation::CreateAccessEntry { name }
            | Operation::ListAccessEntries { name }
            | Operation::DescribeAccessEntry { name, .. }
            | Operation::UpdateAccessEntry { name, .. }
            | Operation::DeleteAccessEntry { name, .. }
            | Operation::AssociateAccessPolicy { name, .. }
            | Operation::ListAssociatedAccessPolicies { name, .. }
            | Operation::DisassociateAccessPolicy { name, .. }
            | Operation::CreateNodegroup { name }
            | Operation::ListNodegroups { name }
            | Operation::DescribeNodegroup { name, .. }
            | Operation::DeleteNodegroup { name, .. }
            | Operation::UpdateNodegroupConfig { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// Chooses the operation for `method` and the raw `path` (no query).
pub fn route(method: &Method, raw_path: &str) -> Result<Operation, AwsError> {
    let raw: Vec<&str> = raw_path.trim_start_matches('/').split('/').collect();
    let label = |i: usize| decode(raw[i]);
    let m = method.clone();
    let op = match (m, raw.as_slice()) {
        (Method::POST, ["clusters"]) => Operation::CreateCluster,
        (Method::GET, ["clusters"]) => Operation::ListClusters,
        (Method::GET, ["cluster-versions"]) => Operation::DescribeClusterVersions,
        (Method::GET, ["access-policies"]) => Operation::ListAccessPolicies,
        (Method::GET, ["clusters", _]) => Operation::DescribeCluster { name: label(1)? },
        (Method::DELETE, ["clusters", _]) => Operation::DeleteCluster { name: label(1)? },
        (Method::POST, ["clusters", _, "update-config"]) => {
            Operation::UpdateClusterConfig { name: label(1)? }
        }
        (Method::POST, ["clusters", _, "updates"]) => {
            Operation::UpdateClusterVersion { name: label(1)? }
        }
        (Method::GET, ["clusters", _, "updates"]) => Operation::ListUpdates { name: label(1)? },
        (Method::GET, ["clusters", _, "updates", _]) => Operation::DescribeUpdate {
            name: label(1)?,
            update_id: label(3)?,
        },
        (Method::POST, ["clusters", _, "access-entries"]) => {
            Operation::CreateAccessEntry { name: label(1)? }
        }
        (Method::GET, ["clusters", _, "access-entries"]) => {
            Operation::ListAccessEntries { name: label(1)? }
        }
        (method, ["clusters", _, "access-entries", _]) => {
            let (name, principal) = (label(1)?, label(3)?);
            match method {
                Method::GET => Operation::DescribeAccessEntry { name, principal },
                Method::POST => Operation::UpdateAccessEntry { name, principal },
                Method::DELETE => Operation::DeleteAccessEntry { name, principal },
                _ => return Err(unknown(raw_path)),
            }
        }
        (method, ["clusters", _, "access-entries", _, "access-policies"]) => {
            let (name, principal) = (label(1)?, label(3)?);
            match method {
                Method::POST => Operation::AssociateAccessPolicy { name, principal },
                Method::GET => Operation::ListAssociatedAccessPolicies { name, principal },
                _ => return Err(unknown(raw_path)),
            }
        }
        (Method::DELETE, ["clusters", _, "access-entries", _, "access-policies", _]) => {
            Operation::DisassociateAccessPolicy {
                name: label(1)?,
                principal: label(3)?,
                policy: label(5)?,
            }
        }
        (Method::POST, ["clusters", _, "node-groups"]) => {
            Operation::CreateNodegroup { name: label(1)? }
        }
        (Method::GET, ["clusters", _, "node-groups"]) => {
            Operation::ListNodegroups { name: label(1)? }
        }
        (method, ["clusters", _, "node-groups", _]) => {
            let (name, group) = (label(1)?, label(3)?);
            match method {
                Method::GET => Operation::DescribeNodegroup { name, group },
                Method::DELETE => Operation::DeleteNodegroup { name, group },
                _ => return Err(unknown(raw_path)),
            }
        }
        (Method::POST, ["clusters", _, "node-groups", _, "update-config"]) => {
            Operation::UpdateNodegroupConfig {
                name: label(1)?,
                group: label(3)?,
            }
        }
        (method, ["tags", _]) => {
            let arn = label(1)?;
            match method {
                Method::POST => Operation::TagResource { arn },
                Method::DELETE => Operation::UntagResource { arn },
                Method::GET => Operation::ListTagsForResource { arn },
                _ => return Err(unknown(raw_path)),
            }
        }
        _ => return Err(unknown(raw_path)),
    };
    Ok(op)
}

fn decode(segment: &str) -> Result<String, AwsError> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| serialization("path label is not valid UTF-8"))
}

fn unknown(path: &str) -> AwsError {
    AwsError::new(
        404,
        "UnknownOperationException",
        format!("No operation matches the request path {path}"),
    )
}

/// The query string's pairs, decoded, in order (a list member repeats its key).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_labels_stay_one_segment_until_decoded() {
        let op = route(
            &Method::DELETE,
            "/clusters/c1/access-entries/arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fdev%2Fmy-role/access-policies/arn%3Aaws%3Aeks%3A%3Aaws%3Acluster-access-policy%2FAmazonEKSViewPolicy",
        )
        .unwrap();
        assert_eq!(
            op,
            Operation::DisassociateAccessPolicy {
                name: "c1".into(),
                principal: "arn:aws:iam::111122223333:role/dev/my-role".into(),
                policy: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy".into(),
            }
        );
    }

    #[test]
    fn the_same_path_dispatches_on_method() {
        assert_eq!(
            route(&Method::POST, "/clusters/c/updates").unwrap(),
            Operation::UpdateClusterVersion { name: "c".into() }
        );
        assert_eq!(
            route(&Method::GET, "/clusters/c/updates").unwrap(),
            Operation::ListUpdates { name: "c".into() }
        );
        assert_eq!(
            route(
                &Method::DELETE,
                "/tags/arn%3Aaws%3Aeks%3Aus-west-2%3A1%3Acluster%2Fc1"
            )
            .unwrap(),
            Operation::UntagResource {
                arn: "arn:aws:eks:us-west-2:1:cluster/c1".into()
            }
        );
    }

    #[test]
    fn node_group_routes() {
        let group = |name: &str| (name.to_string(), "ng".to_string());
        let (name, g) = group("c");
        assert_eq!(
            route(&Method::POST, "/clusters/c/node-groups/ng/update-config").unwrap(),
            Operation::UpdateNodegroupConfig { name, group: g }
        );
        let (name, g) = group("c");
        assert_eq!(
            route(&Method::DELETE, "/clusters/c/node-groups/ng").unwrap(),
            Operation::DeleteNodegroup { name, group: g }
        );
        assert_eq!(
            route(&Method::GET, "/clusters/c/node-groups").unwrap(),
            Operation::ListNodegroups { name: "c".into() }
        );
        assert!(route(&Method::PUT, "/clusters/c/node-groups/ng").is_err());
    }

    #[test]
    fn a_decoded_slash_would_not_match_so_unknown_paths_are_404() {
        let error = route(
            &Method::GET,
            "/clusters/c/access-entries/arn:aws:iam::1:role/x",
        )
        .unwrap_err();
        assert_eq!(error.status, 404);
        assert!(route(&Method::PUT, "/clusters").is_err());
    }

    #[test]
    fn list_query_members_repeat_their_key() {
        let pairs = query_pairs(Some("tagKeys=a&tagKeys=b%2Fc&maxResults=5"));
        let keys: Vec<_> = pairs
            .iter()
            .filter(|(k, _)| k == "tagKeys")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(keys, ["a", "b/c"]);
        assert_eq!(query_value(&pairs, "maxResults"), Some("5"));
    }
}
