//! SigV4-signed HTTP calls over hyper (rustls, native roots), shared by the STS and EKS
//! clients.

use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::ConfigBuilderExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::CliError;
use crate::credentials::AwsCredentials;

const TIMEOUT: Duration = Duration::from_secs(30);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A signing HTTP client for one service (`sts`, `eks`) in one region.
pub(crate) struct SignedClient {
    client: HttpsClient,
    service: &'static str,
    region: String,
    credentials: AwsCredentials,
}

/// One request to sign and send.
pub(crate) struct Call<'a> {
    pub method: http::Method,
    pub url: &'a str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl SignedClient {
    /// `ca_bundle` (AWS_CA_BUNDLE) replaces the system's roots, as it does for botocore.
    pub fn new(
        service: &'static str,
        region: &str,
        credentials: AwsCredentials,
        ca_bundle: Option<&Path>,
    ) -> Result<SignedClient, CliError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(ca_bundle)?)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        Ok(SignedClient {
            client,
            service,
            region: region.to_string(),
            credentials,
        })
    }

    /// Signs and sends `call`; answers the status, headers and whole body.
    pub async fn send(&self, call: Call<'_>) -> Result<http::Response<Bytes>, CliError> {
        let identity = aws_credential_types::Credentials::new(
            &self.credentials.access_key_id,
            &self.credentials.secret_access_key,
            self.credentials.session_token.clone(),
            None,
            "keelson-cli",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| CliError::Signing(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            call.method.as_str(),
            call.url,
            call.headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::Bytes(&call.body),
        )
        .map_err(|e| CliError::Signing(e.to_string()))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| CliError::Signing(e.to_string()))?
            .into_parts();
        let mut builder = http::Request::builder().method(call.method).uri(call.url);
        for (name, value) in &call.headers {
            builder = builder.header(*name, value);
        }
        let mut request = builder
            .body(Full::new(Bytes::from(call.body)))
            .map_err(|e| CliError::Invalid(format!("building a request to {}: {e}", call.url)))?;
        instructions.apply_to_request_http1x(&mut request);

        let timeout = || CliError::Timeout {
            service: self.service,
            endpoint: call.url.to_string(),
        };
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| timeout())?
            .map_err(|e| CliError::Transport {
                endpoint: call.url.to_string(),
                message: error_chain(&e),
            })?;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(TIMEOUT, body.collect())
            .await
            .map_err(|_| timeout())?
            .map_err(|e| CliError::Transport {
                endpoint: call.url.to_string(),
                message: e.to_string(),
            })?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body))
    }
}

fn tls_config(ca_bundle: Option<&Path>) -> Result<rustls::ClientConfig, CliError> {
    let builder = rustls::ClientConfig::builder();
    let Some(path) = ca_bundle else {
        return Ok(builder
            .with_native_roots()
            .map_err(|e| CliError::Invalid(format!("loading the system's root certificates: {e}")))?
            .with_no_client_auth());
    };
    let invalid =
        |message: String| CliError::Invalid(format!("CA bundle {}: {message}", path.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| invalid(e.to_string()))? {
        let cert = cert.map_err(|e| invalid(e.to_string()))?;
        roots.add(cert).map_err(|e| invalid(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(invalid("no certificates".into()));
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// hyper's errors say little at the top ("client error (Connect)"); the cause says why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
