//! AWS's published SigV4 test-suite vectors (credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z,
//! us-east-1, service "service"), and requests signed by botocore 1.44 with the same time, which
//! cover what the suite does not: ARN path labels, presigned STS tokens with the signed
//! `x-k8s-aws-id` header and a session token, and IAM form posts.

use bytes::Bytes;
use chrono::TimeZone;

use super::*;

const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_SCOPE: &str = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";

fn authorization(credential: &str, signed_headers: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed_headers}, Signature={signature}"
    )
}

fn header_signed(
    method: &str,
    uri: &str,
    host: &str,
    extra: &[(&str, &str)],
    body: &str,
    authorization: String,
) -> http::Request<Bytes> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", host)
        .header("x-amz-date", "20150830T123600Z")
        .header("authorization", authorization);
    for (k, v) in extra {
        builder = builder.header(*k, *v);
    }
    builder.body(Bytes::from(body.to_string())).unwrap()
}

fn suite(method: &str, uri: &str, signature: &str) -> http::Request<Bytes> {
    header_signed(
        method,
        uri,
        "example.amazonaws.com",
        &[],
        "",
        authorization(SUITE_SCOPE, "host;x-amz-date", signature),
    )
}

fn check(request: &http::Request<Bytes>, secret: &str) -> Result<(), SignatureProblem> {
    let signed = parse(request)?;
    verify(&signed, request, secret)
}

#[test]
fn aws_test_suite_vectors() {
    let cases = [
        (
            "GET",
            "/",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "POST",
            "/",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        (
            "GET",
            "/?Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        // normalize-path/get-special-character: `$` is encoded once by the signer's canonical URI.
        (
            "GET",
            "/example/$delete",
            "a853c9b21b528b19643d00910d35b83a10c366a10833ceefb45edd6c80e40f27",
        ),
    ];
    for (method, uri, signature) in cases {
        assert_eq!(
            check(&suite(method, uri, signature), SUITE_SECRET),
            Ok(()),
            "{method} {uri}"
        );
        assert_eq!(
            check(&suite(method, uri, signature), "wrong"),
            Err(SignatureProblem::Mismatch),
            "{method} {uri}"
        );
    }
    // The same signature does not cover another query string.
    let swapped = suite("GET", "/?Param2=value1&Param1=value2", cases[2].2);
    assert_eq!(
        check(&swapped, SUITE_SECRET),
        Err(SignatureProblem::Mismatch)
    );
}

#[test]
fn canonical_request_of_the_suite_matches_its_published_text() {
    let headers = vec![
        ("host".to_string(), "example.amazonaws.com".to_string()),
        ("x-amz-date".to_string(), "20150830T123600Z".to_string()),
    ];
    let canonical = canonical_request(&CanonicalParts {
        method: "GET",
        raw_path: "/",
        raw_query: Some("Param2=value2&Param1=value1"),
        headers: &headers,
        payload_hash: &sha256_hex(b""),
        presigned: false,
    });
    assert_eq!(
        canonical,
        "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &canonical
        ),
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"
    );
}

#[test]
fn encoded_path_labels_are_encoded_again() {
    assert_eq!(
        canonical_uri("/clusters/c1/access-entries/arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr"),
        "/clusters/c1/access-entries/arn%253Aaws%253Aiam%253A%253A1%253Arole%252Fr"
    );
    assert_eq!(canonical_uri(""), "/");
    let request = header_signed(
        "DELETE",
        "/clusters/c1/access-entries/arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fdev%2Fmy-role?tagKeys=b&tagKeys=a",
        "127.0.0.1:8443",
        &[],
        "",
        authorization(
            "AKIDEXAMPLE/20150830/us-east-1/eks/aws4_request",
            "host;x-amz-date",
            "464fe5a150f532c5bc00c2cf4ee49359a557596f5cc1282659e8b692efaf502d",
        ),
    );
    assert_eq!(check(&request, SUITE_SECRET), Ok(()));
    let signed = parse(&request).unwrap();
    assert_eq!(
        (signed.service.as_str(), signed.region.as_str()),
        ("eks", "us-east-1")
    );
}

#[test]
fn iam_form_posts_sign_the_content_type_and_body() {
    let signature = "f7fc0e333efec0792de85a958e414e79551e8c64a82660e766acf4b405a1239d";
    let make = |body: &str| {
        header_signed(
            "POST",
            "/",
            "127.0.0.1:8443",
            &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            body,
            authorization(
                "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request",
                "content-type;host;x-amz-date",
                signature,
            ),
        )
    };
    assert_eq!(
        check(&make("Action=ListUsers&Version=2010-05-08"), SUITE_SECRET),
        Ok(())
    );
    assert_eq!(
        check(&make("Action=DeleteUser&Version=2010-05-08"), SUITE_SECRET),
        Err(SignatureProblem::Mismatch)
    );
}

const PRESIGNED: &str = "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20150830%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-Signature=99781ca7b987aa232c0e3a250c71976bddf2ed0b6e7808e8c585501d501e746e";

fn presigned(cluster: Option<&str>) -> http::Request<Bytes> {
    let mut builder = http::Request::builder()
        .method("GET")
        .uri(PRESIGNED)
        .header("host", "127.0.0.1:8443")
        .header("accept", "application/json");
    if let Some(cluster) = cluster {
        builder = builder.header("x-k8s-aws-id", cluster);
    }
    builder.body(Bytes::new()).unwrap()
}

#[test]
fn presigned_get_caller_identity_tokens_verify_with_their_signed_cluster_header() {
    let request = presigned(Some("c1"));
    let signed = parse(&request).unwrap();
    assert_eq!(signed.access_key_id, "ASIAEXAMPLE");
    assert_eq!(signed.security_token.as_deref(), Some("tok/en+="));
    assert_eq!(signed.expires, Some(60));
    assert_eq!(signed.signed_headers, vec!["host", "x-k8s-aws-id"]);
    assert_eq!(verify(&signed, &request, "secretsecret"), Ok(()));
    // A token minted for another cluster, or replayed without the header, does not verify.
    assert_eq!(
        check(&presigned(Some("c2")), "secretsecret"),
        Err(SignatureProblem::Mismatch)
    );
    assert_eq!(
        check(&presigned(None), "secretsecret"),
        Err(SignatureProblem::Mismatch)
    );
}

#[test]
fn missing_and_malformed_signatures() {
    let bare = http::Request::builder()
        .uri("/?Action=ListUsers")
        .body(Bytes::new())
        .unwrap();
    assert_eq!(parse(&bare), Err(SignatureProblem::Missing));
    let mut request = suite("GET", "/", "00");
    request.headers_mut().insert("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service, SignedHeaders=host;x-amz-date, Signature=00".parse().unwrap());
    assert!(matches!(
        parse(&request),
        Err(SignatureProblem::Malformed(_))
    ));
    request.headers_mut().insert("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=00".parse().unwrap());
    assert!(
        matches!(parse(&request), Err(SignatureProblem::Malformed(_))),
        "scope date differs from X-Amz-Date"
    );
}

#[test]
fn signing_time_windows() {
    let header = parse(&suite("GET", "/", "00")).unwrap();
    let at = Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap();
    assert_eq!(check_time(&header, at + Duration::minutes(14)), Ok(()));
    assert!(matches!(
        check_time(&header, at + Duration::minutes(16)),
        Err(SignatureProblem::Expired(_))
    ));
    assert!(matches!(
        check_time(&header, at - Duration::minutes(16)),
        Err(SignatureProblem::Expired(_))
    ));
    let token = parse(&presigned(Some("c1"))).unwrap();
    assert_eq!(
        check_time(&token, at + Duration::minutes(14)),
        Ok(()),
        "STS tokens last 15 minutes"
    );
    assert!(check_time(&token, at + Duration::minutes(16)).is_err());
    let mut other = token.clone();
    other.service = "eks".into();
    assert!(
        check_time(&other, at + Duration::minutes(2)).is_err(),
        "other presigned URLs honour X-Amz-Expires"
    );
}
