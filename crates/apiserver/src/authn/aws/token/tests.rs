use base64::Engine;
use chrono::{TimeZone, Utc};

use super::*;

const BASE: &str = "http://127.0.0.1:8443/";

fn endpoints() -> Vec<StsEndpoint> {
    vec![StsEndpoint::parse("http://127.0.0.1:8443").unwrap()]
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 10, 0).unwrap()
}

/// The query of a token signed at 03:04:05 on 2026-01-02, as `aws eks get-token` writes it.
fn query() -> Vec<(&'static str, String)> {
    vec![
        ("Action", "GetCallerIdentity".into()),
        ("Version", "2011-06-15".into()),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".into()),
        (
            "X-Amz-Credential",
            "AKIAEXAMPLE/20260102/us-east-1/sts/aws4_request".into(),
        ),
        ("X-Amz-Date", "20260102T030405Z".into()),
        ("X-Amz-Expires", "60".into()),
        ("X-Amz-SignedHeaders", "host;x-k8s-aws-id".into()),
        ("X-Amz-Signature", "0123abcd".into()),
    ]
}

fn token_for(base: &str, query: &[(&str, String)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let url = format!("{base}?{query}");
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
    )
}

fn with(change: impl FnOnce(&mut Vec<(&'static str, String)>)) -> String {
    let mut q = query();
    change(&mut q);
    token_for(BASE, &q)
}

fn set(q: &mut [(&'static str, String)], key: &str, value: &str) {
    q.iter_mut().find(|(k, _)| *k == key).unwrap().1 = value.into();
}

#[test]
fn a_well_formed_token_passes() {
    let checked = check(&token_for(BASE, &query()), &endpoints(), now()).unwrap();
    assert_eq!(checked.access_key_id, "AKIAEXAMPLE");
    assert_eq!(
        checked.expires_at,
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 19, 5).unwrap()
    );
    assert_eq!(checked.url.host(), Some("127.0.0.1"));
    assert!(
        checked
            .url
            .query()
            .unwrap()
            .contains("X-Amz-Signature=0123abcd")
    );
}

#[test]
fn tokens_expire_fifteen_minutes_after_signing_whatever_x_amz_expires_says() {
    let token = token_for(BASE, &query());
    let just_before = Utc.with_ymd_and_hms(2026, 1, 2, 3, 19, 5).unwrap();
    assert!(check(&token, &endpoints(), just_before).is_ok());
    let after = just_before + TimeDelta::seconds(1);
    assert!(matches!(
        check(&token, &endpoints(), after),
        Err(TokenError::Expired(_))
    ));
}

#[test]
fn the_action_must_be_get_caller_identity() {
    let token = with(|q| set(q, "Action", "AssumeRole"));
    assert_eq!(
        check(&token, &endpoints(), now()).unwrap_err(),
        TokenError::WrongAction
    );
    let token = with(|q| q.retain(|(k, _)| *k != "Action"));
    assert_eq!(
        check(&token, &endpoints(), now()).unwrap_err(),
        TokenError::WrongAction
    );
}

#[test]
fn the_cluster_id_header_must_be_signed() {
    let token = with(|q| set(q, "X-Amz-SignedHeaders", "host"));
    assert_eq!(
        check(&token, &endpoints(), now()).unwrap_err(),
        TokenError::ClusterIdNotSigned
    );
    let token = with(|q| set(q, "X-Amz-SignedHeaders", "host;X-K8S-AWS-ID"));
    assert!(check(&token, &endpoints(), now()).is_ok());
}

#[test]
fn only_trusted_sts_endpoints_are_accepted() {
    for base in [
        "https://127.0.0.1:8443/",
        "http://127.0.0.1:9999/",
        "http://sts.amazonaws.com/",
        "http://127.0.0.1:8443/elsewhere",
        "http://attacker@127.0.0.1:8443/",
    ] {
        assert_eq!(
            check(&token_for(base, &query()), &endpoints(), now()).unwrap_err(),
            TokenError::UntrustedHost,
            "{base}"
        );
    }
}

#[test]
fn duplicate_and_unknown_parameters_are_refused() {
    let token = with(|q| q.push(("action", "GetCallerIdentity".into())));
    assert!(matches!(
        check(&token, &endpoints(), now()),
        Err(TokenError::DuplicateParameter(_))
    ));
    let token = with(|q| q.push(("X-Amz-Date", "20260102T030405Z".into())));
    assert!(matches!(
        check(&token, &endpoints(), now()),
        Err(TokenError::DuplicateParameter(_))
    ));
    let token = with(|q| q.push(("RoleArn", "arn:aws:iam::1:role/x".into())));
    assert!(matches!(
        check(&token, &endpoints(), now()),
        Err(TokenError::UnexpectedParameter(_))
    ));
}

#[test]
fn expires_and_date_must_be_valid() {
    for expires in ["901", "-1", "soon"] {
        let token = with(|q| set(q, "X-Amz-Expires", expires));
        assert_eq!(
            check(&token, &endpoints(), now()).unwrap_err(),
            TokenError::InvalidExpires
        );
    }
    let token = with(|q| q.retain(|(k, _)| *k != "X-Amz-Expires"));
    assert_eq!(
        check(&token, &endpoints(), now()).unwrap_err(),
        TokenError::InvalidExpires
    );
    let token = with(|q| set(q, "X-Amz-Date", "2026-01-02T03:04:05Z"));
    assert_eq!(
        check(&token, &endpoints(), now()).unwrap_err(),
        TokenError::InvalidDate
    );
    let token = with(|q| q.retain(|(k, _)| *k != "X-Amz-Credential"));
    assert_eq!(
        check(&token, &endpoints(), now()).unwrap_err(),
        TokenError::MissingCredential
    );
}

#[test]
fn size_prefix_and_encoding_are_checked() {
    let padded = with(|q| q.push(("X-Amz-Security-Token", "x".repeat(MAX_TOKEN_BYTES))));
    assert_eq!(
        check(&padded, &endpoints(), now()).unwrap_err(),
        TokenError::TooLong
    );
    assert_eq!(
        check("k8s-aws-v2.abc", &endpoints(), now()).unwrap_err(),
        TokenError::NotAwsToken
    );
    assert_eq!(
        check("k8s-aws-v1.!!!", &endpoints(), now()).unwrap_err(),
        TokenError::Encoding
    );
    let not_a_url = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("no url here")
    );
    assert!(check(&not_a_url, &endpoints(), now()).is_err());
}

#[test]
fn refusals_never_quote_the_signature() {
    let token = with(|q| set(q, "Action", "AssumeRole"));
    let message = check(&token, &endpoints(), now()).unwrap_err().to_string();
    assert!(!message.contains("0123abcd"));
}
