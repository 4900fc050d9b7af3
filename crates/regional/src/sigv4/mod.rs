//! AWS Signature Version 4, verifier side: the signed request is reconstructed from what
//! arrived (header or presigned query-string form), canonicalised as the signers do, and
//! re-signed with the secret IAM holds for the access key.
//!
//! The canonical URI is the received (still percent-encoded) path encoded once more, as botocore
//! and the other SDKs sign every service but S3: an ARN in a path label arrives as `%3A`/`%2F`
//! and is signed as `%253A`/`%252F`. Decoding the path first would reject those requests.

mod parse;

pub use parse::{SignedRequest, parse, verify};

use chrono::{DateTime, Duration, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use ring::hmac;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// How far a signing time may be from the server's clock, as AWS allows.
pub const CLOCK_SKEW: Duration = Duration::minutes(15);

/// RFC 3986 unreserved characters stay as they are; everything else is percent-encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// The same, keeping `/` (for paths).
const PATH: &AsciiSet = &STRICT.remove(b'/');

/// Why a request's signature is not accepted (before or without looking at the secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureProblem {
    Missing,
    Malformed(String),
    /// Outside the clock-skew window or past a presigned URL's expiry.
    Expired(String),
    Mismatch,
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// The canonical URI of a received path.
pub fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".into();
    }
    utf8_percent_encode(raw_path, PATH).to_string()
}

/// The canonical query string: every parameter decoded and re-encoded strictly (so a `+` that
/// Go's url.Values wrote for a space signs as `%20`, as its signer does), sorted by key then
/// value; `X-Amz-Signature` is left out for presigned URLs.
pub fn canonical_query(raw_query: Option<&str>, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (reencode(k), reencode(v))
        })
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn reencode(component: &str) -> String {
    let spaced = component.replace('+', " ");
    let decoded = percent_decode_str(&spaced).decode_utf8_lossy();
    utf8_percent_encode(&decoded, STRICT).to_string()
}

/// A header's values as signed: trimmed, inner runs of spaces collapsed, joined with `,`.
pub fn canonical_header_value<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(",")
}

pub struct CanonicalParts<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    /// (lower-case name, canonical value) in SignedHeaders order.
    pub headers: &'a [(String, String)],
    pub payload_hash: &'a str,
    pub presigned: bool,
}

pub fn canonical_request(parts: &CanonicalParts) -> String {
    let mut headers = String::new();
    for (name, value) in parts.headers {
        headers.push_str(name);
        headers.push(':');
        headers.push_str(value);
        headers.push('\n');
    }
    let signed = parts
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        parts.method,
        canonical_uri(parts.raw_path),
        canonical_query(parts.raw_query, parts.presigned),
        headers,
        signed,
        parts.payload_hash
    )
}

/// `date/region/service/aws4_request`
pub fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The hex signature of `string_to_sign` with the key derived from `secret` for the scope.
pub fn signature(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let step = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = step(format!("AWS4{secret}").as_bytes(), date);
    let k_region = step(k_date.as_ref(), region);
    let k_service = step(k_region.as_ref(), service);
    let k_signing = step(k_service.as_ref(), "aws4_request");
    hex(step(k_signing.as_ref(), string_to_sign).as_ref())
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the signing time against `now`: header-signed requests within the clock skew,
/// presigned ones until their expiry. STS GetCallerIdentity tokens (EKS's bearer tokens) are
/// good for 15 minutes whatever X-Amz-Expires says, as AWS STS treats them.
pub fn check_time(signed: &SignedRequest, now: DateTime<Utc>) -> Result<(), SignatureProblem> {
    let at = signed.timestamp;
    let stamp = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    if at - CLOCK_SKEW > now {
        return Err(SignatureProblem::Expired(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            signed.amz_date,
            stamp(now + CLOCK_SKEW),
            stamp(now)
        )));
    }
    let valid_for = match signed.expires {
        None => CLOCK_SKEW,
        Some(expires) if signed.service == "sts" => Duration::seconds(expires).max(CLOCK_SKEW),
        Some(expires) => Duration::seconds(expires),
    };
    if at + valid_for < now {
        return Err(SignatureProblem::Expired(match signed.expires {
            None => format!(
                "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                signed.amz_date,
                stamp(now - CLOCK_SKEW),
                stamp(now)
            ),
            Some(_) => "Request has expired".into(),
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
