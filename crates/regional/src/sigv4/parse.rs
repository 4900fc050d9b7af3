//! Reading a SigV4 signature out of a request, and checking it.

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use percent_encoding::percent_decode_str;

use super::{
    ALGORITHM, CanonicalParts, SignatureProblem, UNSIGNED_PAYLOAD, canonical_header_value,
    canonical_request, constant_time_eq, scope, sha256_hex, signature, string_to_sign,
};

/// What a request claims about its signature.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub access_key_id: String,
    /// `yyyymmdd` of the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower-case names, as listed by the signer.
    pub signed_headers: Vec<String>,
    pub signature: String,
    pub amz_date: String,
    pub timestamp: DateTime<Utc>,
    pub security_token: Option<String>,
    /// X-Amz-Expires of a presigned URL; `None` for header-signed requests.
    pub expires: Option<i64>,
}

impl std::fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedRequest")
            .field("access_key_id", &self.access_key_id)
            .field("scope", &scope(&self.date, &self.region, &self.service))
            .field("signed_headers", &self.signed_headers)
            .finish_non_exhaustive()
    }
}

fn malformed(message: impl Into<String>) -> SignatureProblem {
    SignatureProblem::Malformed(message.into())
}

fn query_params(request: &http::Request<Bytes>) -> Vec<(String, String)> {
    request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn header<'a>(request: &'a http::Request<Bytes>, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Finds the signature in the `Authorization` header or, failing that, the query string.
pub fn parse(request: &http::Request<Bytes>) -> Result<SignedRequest, SignatureProblem> {
    if let Some(authorization) = header(request, "authorization") {
        return parse_header(request, authorization);
    }
    let params = query_params(request);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if get("X-Amz-Algorithm").is_none() && get("X-Amz-Signature").is_none() {
        return Err(SignatureProblem::Missing);
    }
    if get("X-Amz-Algorithm") != Some(ALGORITHM) {
        return Err(malformed(format!("X-Amz-Algorithm must be {ALGORITHM}")));
    }
    let credential =
        get("X-Amz-Credential").ok_or_else(|| malformed("X-Amz-Credential is missing"))?;
    let amz_date = get("X-Amz-Date").ok_or_else(|| malformed("X-Amz-Date is missing"))?;
    let expires = get("X-Amz-Expires")
        .ok_or_else(|| malformed("X-Amz-Expires is missing"))?
        .parse::<i64>()
        .ok()
        .filter(|e| (1..=604_800).contains(e))
        .ok_or_else(|| malformed("X-Amz-Expires must be between 1 and 604800"))?;
    let signed_headers =
        get("X-Amz-SignedHeaders").ok_or_else(|| malformed("X-Amz-SignedHeaders is missing"))?;
    let signature =
        get("X-Amz-Signature").ok_or_else(|| malformed("X-Amz-Signature is missing"))?;
    build(
        credential,
        signed_headers,
        signature,
        amz_date,
        get("X-Amz-Security-Token"),
        Some(expires),
    )
}

fn parse_header(
    request: &http::Request<Bytes>,
    authorization: &str,
) -> Result<SignedRequest, SignatureProblem> {
    let rest = authorization.strip_prefix(ALGORITHM).ok_or_else(|| {
        malformed(format!(
            "Authorization header requires the {ALGORITHM} algorithm"
        ))
    })?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| malformed("Authorization header is malformed"))?;
        match key.trim() {
            "Credential" => credential = Some(value.trim()),
            "SignedHeaders" => signed_headers = Some(value.trim()),
            "Signature" => signature = Some(value.trim()),
            _ => {}
        }
    }
    let incomplete =
        |what: &str| malformed(format!("Authorization header requires '{what}' parameter."));
    let amz_date = header(request, "x-amz-date").ok_or_else(|| {
        malformed(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    })?;
    build(
        credential.ok_or_else(|| incomplete("Credential"))?,
        signed_headers.ok_or_else(|| incomplete("SignedHeaders"))?,
        signature.ok_or_else(|| incomplete("Signature"))?,
        amz_date,
        header(request, "x-amz-security-token"),
        None,
    )
}

fn build(
    credential: &str,
    signed_headers: &str,
    signature: &str,
    amz_date: &str,
    security_token: Option<&str>,
    expires: Option<i64>,
) -> Result<SignedRequest, SignatureProblem> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = parts.as_slice() else {
        return Err(malformed(format!(
            "Credential should be scoped to a valid region, service and date: {}",
            parts.get(1..).map(|p| p.join("/")).unwrap_or_default()
        )));
    };
    let timestamp = NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| malformed(format!("Invalid X-Amz-Date {amz_date}")))?
        .and_utc();
    if !amz_date.starts_with(date) {
        return Err(malformed(format!(
            "Credential should be scoped to a valid date: {date} is not the date of {amz_date}"
        )));
    }
    let signed_headers: Vec<String> = signed_headers
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(malformed(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    Ok(SignedRequest {
        access_key_id: access_key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature: signature.to_ascii_lowercase(),
        amz_date: amz_date.to_string(),
        timestamp,
        security_token: security_token.map(str::to_string),
        expires,
    })
}

/// The payload hashes the signer may have used, most likely first.
fn payload_hashes(
    signed: &SignedRequest,
    request: &http::Request<Bytes>,
) -> Result<Vec<String>, SignatureProblem> {
    let body_hash = sha256_hex(request.body());
    if let Some(declared) = header(request, "x-amz-content-sha256") {
        if declared != UNSIGNED_PAYLOAD && !declared.eq_ignore_ascii_case(&body_hash) {
            return Err(malformed(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
        return Ok(vec![declared.to_string()]);
    }
    Ok(if signed.expires.is_some() {
        // botocore presigns with UNSIGNED-PAYLOAD; Go's v4 signer hashes the (empty) body.
        vec![UNSIGNED_PAYLOAD.to_string(), body_hash]
    } else {
        vec![body_hash]
    })
}

/// Whether `request` was signed as `signed` says, with `secret`.
pub fn verify(
    signed: &SignedRequest,
    request: &http::Request<Bytes>,
    secret: &str,
) -> Result<(), SignatureProblem> {
    let mut headers = Vec::with_capacity(signed.signed_headers.len());
    for name in &signed.signed_headers {
        let values: Vec<&str> = request
            .headers()
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let value = if values.is_empty() && name == "host" {
            // HTTP/2 carries the host in the :authority pseudo-header.
            request
                .uri()
                .authority()
                .map(|a| a.as_str().to_string())
                .ok_or(SignatureProblem::Mismatch)?
        } else if values.is_empty() {
            return Err(SignatureProblem::Mismatch);
        } else {
            canonical_header_value(values.into_iter())
        };
        headers.push((name.clone(), value));
    }
    let scope = scope(&signed.date, &signed.region, &signed.service);
    for payload_hash in payload_hashes(signed, request)? {
        let canonical = canonical_request(&CanonicalParts {
            method: request.method().as_str(),
            raw_path: request.uri().path(),
            raw_query: request.uri().query(),
            headers: &headers,
            payload_hash: &payload_hash,
            presigned: signed.expires.is_some(),
        });
        let expected = signature(
            secret,
            &signed.date,
            &signed.region,
            &signed.service,
            &string_to_sign(&signed.amz_date, &scope, &canonical),
        );
        if constant_time_eq(expected.as_bytes(), signed.signature.as_bytes()) {
            return Ok(());
        }
    }
    Err(SignatureProblem::Mismatch)
}
