//! What Keelson's AWS-compatible services share, and nothing that does I/O.
//!
//! The regional service (`keelson server`) authenticates every request once, with SigV4 against
//! IAM's credentials, and hands the resulting [`Principal`] to the service the request's
//! credential scope names (`iam`, `sts`, `eks`), each an [`AwsService`]. Services ask an
//! [`Authorizer`] (IAM's policy evaluation) whether the principal may perform an action, and
//! answer errors as [`AwsError`], rendered in their protocol's own format.
//!
//! [`access`] holds the file format through which the EKS service tells a cluster's API server
//! which IAM principals map to which Kubernetes identities and access policies (the role of
//! aws-iam-authenticator's dynamic file).

pub mod access;
mod error;
mod principal;

pub use error::{AwsError, xml_escape};
pub use principal::{Principal, PrincipalKind};

use async_trait::async_trait;
use bytes::Bytes;

/// One AWS-compatible service behind the regional endpoint.
#[async_trait]
pub trait AwsService: Send + Sync + 'static {
    /// Answers an already authenticated request. Errors are rendered by the service itself,
    /// in its own protocol, so this cannot fail.
    async fn handle(
        &self,
        caller: &Principal,
        request: http::Request<Bytes>,
    ) -> http::Response<Bytes>;
}

/// IAM's policy evaluation, as services see it.
pub trait Authorizer: Send + Sync + 'static {
    /// Whether `principal` may perform `action` (e.g. `eks:CreateCluster`) on `resource` (an
    /// ARN, or `*`): explicit Deny wins, an Allow is needed, the account root may do everything.
    fn is_allowed(&self, principal: &Principal, action: &str, resource: &str) -> bool;
}
