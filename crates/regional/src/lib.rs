//! The regional endpoint of Keelson's AWS-compatible services (`keelson server`).
//!
//! Every request is authenticated once, with SigV4 against IAM's credentials ([`sigv4`],
//! [`auth`]); the service named in the signature's credential scope (`iam`, `sts`, `eks`, …)
//! then answers it as a [`keelson_aws_core::AwsService`]. Authentication errors are rendered in
//! that service's protocol. Unauthenticated routes (e.g. OIDC discovery documents) can be
//! merged in as an axum [`Router`] with [`Regional::with_public_routes`].

pub mod auth;
mod error;
mod serve;
pub mod sigv4;
pub mod tls;

pub use error::RegionalError;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use bytes::Bytes;
use keelson_aws_core::AwsService;
use keelson_iam::{Iam, IamService, StsService};

use crate::auth::{Failure, Protocol};

/// Request bodies larger than this are refused (IAM documents are at most a few KiB, EKS
/// requests small JSON).
pub const MAX_BODY: usize = 1024 * 1024;

pub struct Regional {
    iam: Arc<Iam>,
    services: HashMap<String, Arc<dyn AwsService>>,
    public: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Regional {
    /// The front door with IAM (`iam`) and STS (`sts`) registered.
    pub fn new(iam: Arc<Iam>) -> Regional {
        let mut services: HashMap<String, Arc<dyn AwsService>> = HashMap::new();
        services.insert("iam".into(), Arc::new(IamService::new(iam.clone())));
        services.insert("sts".into(), Arc::new(StsService::new(iam.clone())));
        Regional {
            iam,
            services,
            public: Router::new(),
            tls: None,
        }
    }

    /// Serves `service` for requests whose credential scope names `name` (e.g. `eks`). Its
    /// authentication errors are rendered as rest-json.
    pub fn with_service(mut self, name: &str, service: Arc<dyn AwsService>) -> Regional {
        self.services.insert(name.to_string(), service);
        self
    }

    /// Routes answered without authentication (they take precedence over the signed API).
    pub fn with_public_routes(mut self, routes: Router) -> Regional {
        self.public = self.public.merge(routes);
        self
    }

    /// Serves HTTPS with this configuration instead of plain HTTP.
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Regional {
        self.tls = Some(config);
        self
    }

    pub fn iam(&self) -> &Arc<Iam> {
        &self.iam
    }

    /// Authenticates `request` and hands it to its service. Every answer carries
    /// `x-amzn-RequestId`; the request carries it too, for the service to echo in its body.
    pub async fn handle(&self, mut request: http::Request<Bytes>) -> http::Response<Bytes> {
        let request_id = keelson_iam::request_id(&http::Request::new(()));
        request.headers_mut().insert(
            "x-amzn-requestid",
            http::HeaderValue::from_str(&request_id).expect("request ids are ASCII"),
        );
        let mut response = self.dispatch(request, &request_id).await;
        response
            .headers_mut()
            .entry("x-amzn-requestid")
            .or_insert_with(|| {
                http::HeaderValue::from_str(&request_id).expect("request ids are ASCII")
            });
        response
    }

    async fn dispatch(
        &self,
        request: http::Request<Bytes>,
        request_id: &str,
    ) -> http::Response<Bytes> {
        let signed = match sigv4::parse(&request) {
            Ok(signed) => signed,
            Err(problem) => {
                let protocol = Protocol::guess(&request);
                tracing::debug!(method = %request.method(), path = %request.uri().path(), ?problem, "unsigned or malformed request");
                return protocol
                    .render(&Failure::Signature(problem).to_error(protocol), request_id);
            }
        };
        let protocol = Protocol::of_service(&signed.service);
        let Some(service) = self.services.get(&signed.service) else {
            return protocol.render(
                &Failure::UnknownService(signed.service.clone()).to_error(protocol),
                request_id,
            );
        };
        match auth::authenticate(&self.iam, &signed, &request).await {
            Ok(principal) => {
                let method = request.method().clone();
                let path = request.uri().path().to_string();
                let response = service.handle(&principal, request).await;
                tracing::info!(service = %signed.service, %method, %path, caller = %principal.arn, status = response.status().as_u16(), %request_id, "request");
                response
            }
            Err(failure) => {
                tracing::info!(service = %signed.service, access_key_id = %signed.access_key_id, ?failure, %request_id, "request not authenticated");
                protocol.render(&failure.to_error(protocol), request_id)
            }
        }
    }
}

#[cfg(test)]
mod tests;
