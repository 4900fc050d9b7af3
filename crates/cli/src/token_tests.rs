use std::collections::BTreeMap;

use chrono::TimeZone;

use super::*;

/// Signed at 2026-01-02T03:04:05Z, for `my-cluster`, in us-west-2, against
/// http://127.0.0.1:8443.
fn presign(session_token: Option<&str>) -> BTreeMap<String, String> {
    let credentials = AwsCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: session_token.map(str::to_string),
    };
    let now: SystemTime = chrono::Utc
        .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
        .unwrap()
        .into();
    let token = presign_token(
        "http://127.0.0.1:8443",
        "us-west-2",
        &credentials,
        "my-cluster",
        now,
    )
    .unwrap();
    let encoded = token.strip_prefix("k8s-aws-v1.").unwrap();
    assert!(!encoded.contains('='), "padding is stripped");
    let url = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "http://127.0.0.1:8443/");
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// What botocore 1.44 (`aws eks get-token`'s signer) presigns for the same inputs.
const BOTOCORE_SIGNATURE: &str = "0a9dba1ab2182638dee4c871fdae6e39930a9775879eb269ed6c29c9e1f6ca35";
const BOTOCORE_SIGNATURE_WITH_SESSION: &str =
    "9e3d882d0e2ba1b54408e4cf07a6f933e52f760815e88c6e1ced69774e4cc6cd";

#[test]
fn tokens_are_what_aws_eks_get_token_presigns() {
    let query = presign(None);
    assert_eq!(query["Action"], "GetCallerIdentity");
    assert_eq!(query["Version"], "2011-06-15");
    assert_eq!(query["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
    assert_eq!(
        query["X-Amz-Credential"],
        "AKIDEXAMPLE/20260102/us-west-2/sts/aws4_request"
    );
    assert_eq!(query["X-Amz-Date"], "20260102T030405Z");
    assert_eq!(query["X-Amz-Expires"], "60");
    assert_eq!(query["X-Amz-SignedHeaders"], "host;x-k8s-aws-id");
    assert!(!query.contains_key("X-Amz-Security-Token"));
    assert_eq!(query["X-Amz-Signature"], BOTOCORE_SIGNATURE);
}

#[test]
fn session_tokens_are_signed_into_the_url() {
    let query = presign(Some("the-session-token"));
    assert_eq!(query["X-Amz-Security-Token"], "the-session-token");
    assert_eq!(query["X-Amz-Signature"], BOTOCORE_SIGNATURE_WITH_SESSION);
}

#[test]
fn exec_credentials_follow_the_requested_api_version() {
    let now = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    let v1 = exec_credential(
        Some(
            r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#,
        ),
        "k8s-aws-v1.abc",
        now,
    );
    assert_eq!(v1["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(v1["kind"], "ExecCredential");
    assert_eq!(v1["spec"], json!({}));
    assert_eq!(v1["status"]["token"], "k8s-aws-v1.abc");
    assert_eq!(v1["status"]["expirationTimestamp"], "2026-01-02T03:18:05Z");
    for info in [
        None,
        Some("not json"),
        Some(r#"{"apiVersion":"something/else"}"#),
    ] {
        assert_eq!(
            exec_credential(info, "t", now)["apiVersion"],
            "client.authentication.k8s.io/v1beta1"
        );
    }
}

#[test]
fn endpoints_get_exactly_one_slash() {
    assert_eq!(base_url("http://127.0.0.1:1"), "http://127.0.0.1:1/");
    assert_eq!(base_url("http://127.0.0.1:1/"), "http://127.0.0.1:1/");
}
