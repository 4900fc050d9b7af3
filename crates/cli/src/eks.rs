//! A client of the EKS API (rest-json, SigV4 service `eks`): the cluster calls the command
//! line makes, ListClusters followed page by page, errors shown with their AWS code.

use std::time::Duration;

use serde_json::{Value, json};

use crate::CliError;
use crate::credentials::AwsCredentials;
use crate::http_client::{Call, SignedClient};

pub mod cluster;
mod nodegroups;
#[cfg(test)]
mod paging_tests;
pub mod wait;

pub use cluster::Cluster;

/// A client of one EKS endpoint in one region.
pub struct EksClient {
    endpoint: String,
    region: String,
    http: SignedClient,
}

impl EksClient {
    pub fn new(
        endpoint: &str,
        region: &str,
        credentials: AwsCredentials,
        ca_bundle: Option<&std::path::Path>,
    ) -> Result<EksClient, CliError> {
        Ok(EksClient {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            http: SignedClient::new("eks", region, credentials, ca_bundle)?,
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// CreateCluster with a request body built by the caller (see `cluster_config`).
    pub async fn create_cluster(&self, request: &Value) -> Result<Cluster, CliError> {
        let answer = self
            .call(
                "CreateCluster",
                http::Method::POST,
                "/clusters",
                Some(request),
            )
            .await?;
        Cluster::from_answer(answer)
    }

    pub async fn describe_cluster(&self, name: &str) -> Result<Cluster, CliError> {
        let path = format!("/clusters/{}", encode_label(name));
        let answer = self
            .call("DescribeCluster", http::Method::GET, &path, None)
            .await?;
        Cluster::from_answer(answer)
    }

    pub async fn delete_cluster(&self, name: &str) -> Result<Cluster, CliError> {
        let path = format!("/clusters/{}", encode_label(name));
        let answer = self
            .call("DeleteCluster", http::Method::DELETE, &path, None)
            .await?;
        Cluster::from_answer(answer)
    }

    /// CreateAccessEntry with a request body built by the caller.
    pub async fn create_access_entry(
        &self,
        cluster: &str,
        request: &Value,
    ) -> Result<(), CliError> {
        let path = format!("/clusters/{}/access-entries", encode_label(cluster));
        self.call(
            "CreateAccessEntry",
            http::Method::POST,
            &path,
            Some(request),
        )
        .await
        .map(drop)
    }

    /// AssociateAccessPolicy for the entry of `principal_arn`.
    pub async fn associate_access_policy(
        &self,
        cluster: &str,
        principal_arn: &str,
        request: &Value,
    ) -> Result<(), CliError> {
        let path = format!(
            "/clusters/{}/access-entries/{}/access-policies",
            encode_label(cluster),
            encode_label(principal_arn)
        );
        self.call(
            "AssociateAccessPolicy",
            http::Method::POST,
            &path,
            Some(request),
        )
        .await
        .map(drop)
    }

    /// Every cluster's name, following `nextToken` until the last page.
    pub async fn list_clusters(&self) -> Result<Vec<String>, CliError> {
        let mut names = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("maxResults", "100");
            if let Some(token) = &next_token {
                query.append_pair("nextToken", token);
            }
            let path = format!("/clusters?{}", query.finish());
            let answer = self
                .call("ListClusters", http::Method::GET, &path, None)
                .await?;
            let page = answer["clusters"]
                .as_array()
                .ok_or_else(|| CliError::Answer {
                    service: "EKS",
                    message: "ListClusters answer has no clusters list".into(),
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

    /// `path_and_query` is already percent-encoded.
    async fn call(
        &self,
        operation: &'static str,
        method: http::Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let url = format!("{}{path_and_query}", self.endpoint);
        let (headers, body) = match body {
            Some(body) => (
                vec![("content-type", "application/json".to_string())],
                serde_json::to_vec(body).map_err(|e| CliError::Invalid(e.to_string()))?,
            ),
            None => (Vec::new(), Vec::new()),
        };
        let response = self
            .http
            .send(Call {
                method,
                url: &url,
                headers,
                body,
            })
            .await?;
        if !response.status().is_success() {
            return Err(service_error(operation, &response));
        }
        if response.body().is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(response.body()).map_err(|e| CliError::Answer {
            service: "EKS",
            message: format!("{operation} answer is not JSON: {e}"),
        })
    }
}

/// How often the waiters ask; Keelson's clusters start in seconds, not AWS's minutes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The error an EKS answer carries, read as botocore does: the code from `x-amzn-ErrorType`
/// (anything after `:` dropped), else the body's `code`, `Code` or `__type` (anything up to
/// `#` dropped); the message from the body's `message` or `Message`.
pub fn service_error(operation: &'static str, response: &http::Response<bytes::Bytes>) -> CliError {
    let status = response.status();
    let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    let header_code = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or(v).to_string());
    let body_code = ["code", "Code", "__type"]
        .iter()
        .find_map(|key| body[key].as_str())
        .map(|c| c.rsplit('#').next().unwrap_or(c).to_string());
    let code = header_code
        .or(body_code)
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("UnknownError")
                .replace(' ', "")
        });
    let message = body["message"]
        .as_str()
        .or_else(|| body["Message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(response.body()).trim().to_string());
    CliError::Service {
        service: "EKS",
        operation,
        status: status.as_u16(),
        code,
        message,
    }
}

/// A path label percent-encoded the way botocore encodes non-greedy labels: everything but
/// `A-Za-z0-9-_.~`.
pub fn encode_label(label: &str) -> String {
    let mut encoded = String::with_capacity(label.len());
    for byte in label.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> http::Response<bytes::Bytes> {
        let mut builder = http::Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(bytes::Bytes::from(body.to_string())).unwrap()
    }

    #[test]
    fn errors_take_the_code_from_the_header_first() {
        let error = service_error(
            "DescribeCluster",
            &answer(
                404,
                &[(
                    "x-amzn-ErrorType",
                    "ResourceNotFoundException:http://internal/",
                )],
                r#"{"message":"No cluster found for name: c1.","clusterName":"c1"}"#,
            ),
        );
        assert_eq!(error.code(), Some("ResourceNotFoundException"));
        assert_eq!(
            error.to_string(),
            "EKS DescribeCluster: ResourceNotFoundException (404): No cluster found for name: c1."
        );
    }

    #[test]
    fn errors_fall_back_to_the_body_then_the_status() {
        let typed = service_error(
            "CreateCluster",
            &answer(
                400,
                &[],
                r#"{"__type":"com.amazonaws.eks#InvalidParameterException","Message":"bad"}"#,
            ),
        );
        assert_eq!(typed.code(), Some("InvalidParameterException"));
        assert!(typed.to_string().ends_with(": bad"), "{typed}");
        let bare = service_error("ListClusters", &answer(503, &[], "down for a moment"));
        assert_eq!(bare.code(), Some("ServiceUnavailable"));
        assert!(bare.to_string().ends_with("down for a moment"), "{bare}");
    }

    #[test]
    fn labels_are_encoded_like_botocore() {
        assert_eq!(encode_label("my-cluster_1.x~"), "my-cluster_1.x~");
        assert_eq!(
            encode_label("arn:aws:iam::1:role/r"),
            "arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr"
        );
    }
}
