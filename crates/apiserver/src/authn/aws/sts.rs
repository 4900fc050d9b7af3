//! Performing a token's presigned GetCallerIdentity request against the cluster's STS.

use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt, Empty, Limited};
use serde::Deserialize;

use super::token::{CLUSTER_ID_HEADER, PresignedRequest};

/// Who STS says signed the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    /// `AIDA…` for users, `AROA…:<session>` for role sessions.
    pub user_id: String,
}

/// Why STS did not vouch for a token.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StsError {
    #[error("STS request failed: {0}")]
    Transport(String),
    #[error("STS answered {0}")]
    Refused(http::StatusCode),
    #[error("STS answer is not a GetCallerIdentity result: {0}")]
    Malformed(String),
}

/// The seam between token verification and the network.
#[async_trait]
pub trait CallerIdentitySource: Send + Sync + 'static {
    /// Send the presigned request with `x-k8s-aws-id: cluster_id`: STS checks the signature,
    /// and a token signed for another cluster id fails it.
    async fn get_caller_identity(
        &self,
        request: &PresignedRequest,
        cluster_id: &str,
    ) -> Result<CallerIdentity, StsError>;
}

/// STS over HTTP(S), trusting the system's root certificates for https endpoints.
pub struct HttpSts {
    client: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Empty<bytes::Bytes>,
    >,
}

const STS_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_STS_ANSWER_BYTES: usize = 64 * 1024;

impl HttpSts {
    pub fn new() -> Result<HttpSts, std::io::Error> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(HttpSts { client })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    get_caller_identity_response: ResponseBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResponseBody {
    get_caller_identity_result: ResultBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultBody {
    account: String,
    arn: String,
    user_id: String,
}

/// Parse STS's JSON answer (`Accept: application/json`).
pub fn parse_answer(body: &[u8]) -> Result<CallerIdentity, StsError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|err| StsError::Malformed(err.to_string()))?;
    let result = envelope
        .get_caller_identity_response
        .get_caller_identity_result;
    Ok(CallerIdentity {
        account: result.account,
        arn: result.arn,
        user_id: result.user_id,
    })
}

#[async_trait]
impl CallerIdentitySource for HttpSts {
    async fn get_caller_identity(
        &self,
        request: &PresignedRequest,
        cluster_id: &str,
    ) -> Result<CallerIdentity, StsError> {
        let http_request = http::Request::get(request.url.clone())
            .header(CLUSTER_ID_HEADER, cluster_id)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|err| StsError::Transport(err.to_string()))?;
        // Errors name neither the URL nor its query: it holds the signature.
        let response = tokio::time::timeout(STS_TIMEOUT, self.client.request(http_request))
            .await
            .map_err(|_| StsError::Transport("timed out".into()))?
            .map_err(|err| StsError::Transport(describe(&err)))?;
        let status = response.status();
        let body = tokio::time::timeout(
            STS_TIMEOUT,
            Limited::new(response.into_body(), MAX_STS_ANSWER_BYTES).collect(),
        )
        .await
        .map_err(|_| StsError::Transport("timed out reading the answer".into()))?
        .map_err(|err| StsError::Transport(err.to_string()))?
        .to_bytes();
        if status != http::StatusCode::OK {
            return Err(StsError::Refused(status));
        }
        parse_answer(&body)
    }
}

fn describe(err: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    let mut text = if err.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    if let Some(source) = err.source() {
        text.push_str(&format!(": {source}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_answer_is_parsed() {
        let body = br#"{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account":"111122223333","Arn":"arn:aws:iam::111122223333:user/alice","UserId":"AIDAEXAMPLE"},"ResponseMetadata":{"RequestId":"r"}}}"#;
        assert_eq!(
            parse_answer(body).unwrap(),
            CallerIdentity {
                account: "111122223333".into(),
                arn: "arn:aws:iam::111122223333:user/alice".into(),
                user_id: "AIDAEXAMPLE".into(),
            }
        );
        assert!(parse_answer(b"<GetCallerIdentityResponse/>").is_err());
        assert!(parse_answer(br#"{"GetCallerIdentityResponse":{}}"#).is_err());
    }
}
