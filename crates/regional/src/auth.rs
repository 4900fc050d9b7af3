//! Who signed a request, or the error that says why nobody did, in the protocol of the service
//! the request was meant for.

use bytes::Bytes;
use keelson_aws_core::{AwsError, Principal};
use keelson_iam::{IAM_NAMESPACE, Iam, Resolution, STS_NAMESPACE};

use crate::sigv4::{self, SignatureProblem};

/// The wire format errors are rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// AWS's query protocol with the service's XML namespace (IAM, STS).
    Query(&'static str),
    RestJson,
}

impl Protocol {
    pub fn of_service(service: &str) -> Protocol {
        match service {
            "iam" => Protocol::Query(IAM_NAMESPACE),
            "sts" => Protocol::Query(STS_NAMESPACE),
            _ => Protocol::RestJson,
        }
    }

    /// For requests whose signature names no service: query-protocol requests carry `Action`.
    pub fn guess(request: &http::Request<Bytes>) -> Protocol {
        let query = request.uri().query().unwrap_or("");
        let body = std::str::from_utf8(request.body()).unwrap_or("");
        let has = |needle: &str| query.contains(needle) || body.contains(needle);
        if has("Version=2011-06-15") {
            Protocol::Query(STS_NAMESPACE)
        } else if has("Action=") {
            Protocol::Query(IAM_NAMESPACE)
        } else {
            Protocol::RestJson
        }
    }

    pub fn render(self, error: &AwsError, request_id: &str) -> http::Response<Bytes> {
        match self {
            Protocol::Query(namespace) => error.to_query_xml(namespace, request_id),
            Protocol::RestJson => error.to_rest_json(request_id),
        }
    }

    fn is_query(self) -> bool {
        matches!(self, Protocol::Query(_))
    }
}

/// An authentication failure, before it is given a protocol's words.
#[derive(Debug)]
pub enum Failure {
    Signature(SignatureProblem),
    UnknownKey,
    InvalidToken,
    ExpiredToken,
    UnknownService(String),
    Internal,
}

impl Failure {
    pub fn to_error(&self, protocol: Protocol) -> AwsError {
        let query = protocol.is_query();
        match self {
            Failure::Signature(SignatureProblem::Missing) => {
                if query {
                    AwsError::new(
                        403,
                        "MissingAuthenticationToken",
                        "Request is missing Authentication Token",
                    )
                } else {
                    AwsError::new(
                        403,
                        "MissingAuthenticationTokenException",
                        "Missing Authentication Token",
                    )
                }
            }
            // A request that is not a well-formed SigV4 request is the client's fault (400, as
            // AWS's common errors list it); a well-formed one that does not verify is 403.
            Failure::Signature(SignatureProblem::Malformed(message)) => AwsError::new(
                400,
                if query {
                    "IncompleteSignature"
                } else {
                    "IncompleteSignatureException"
                },
                message.clone(),
            ),
            Failure::Signature(SignatureProblem::Expired(message)) => AwsError::new(
                403,
                if query {
                    "SignatureDoesNotMatch"
                } else {
                    "InvalidSignatureException"
                },
                message.clone(),
            ),
            Failure::Signature(SignatureProblem::Mismatch) => AwsError::new(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ),
            Failure::UnknownKey if query => AwsError::new(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
            Failure::UnknownKey | Failure::InvalidToken if !query => AwsError::new(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            Failure::UnknownKey | Failure::InvalidToken => AwsError::new(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
            Failure::ExpiredToken => AwsError::new(
                403,
                if query {
                    "ExpiredToken"
                } else {
                    "ExpiredTokenException"
                },
                "The security token included in the request is expired",
            ),
            Failure::UnknownService(service) => AwsError::new(
                400,
                "UnknownServiceException",
                format!("The service {service} is not served at this endpoint."),
            ),
            Failure::Internal => AwsError::new(
                500,
                if query {
                    "ServiceFailure"
                } else {
                    "ServiceException"
                },
                "internal failure",
            ),
        }
    }
}

/// Verifies the request's signature against IAM's secret for its access key.
pub async fn authenticate(
    iam: &Iam,
    signed: &sigv4::SignedRequest,
    request: &http::Request<Bytes>,
) -> Result<Principal, Failure> {
    sigv4::check_time(signed, chrono::Utc::now()).map_err(Failure::Signature)?;
    let resolution = iam
        .resolve(&signed.access_key_id, signed.security_token.as_deref())
        .await
        .map_err(|err| {
            tracing::error!(%err, "looking up an access key failed");
            Failure::Internal
        })?;
    let key = match resolution {
        Resolution::Found(key) => key,
        Resolution::UnknownKey => return Err(Failure::UnknownKey),
        Resolution::InvalidToken => return Err(Failure::InvalidToken),
        Resolution::ExpiredToken => return Err(Failure::ExpiredToken),
    };
    sigv4::verify(signed, request, &key.secret_access_key).map_err(Failure::Signature)?;
    Ok(key.principal)
}
