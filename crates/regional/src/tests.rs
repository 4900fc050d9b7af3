//! The front door in process: IAM on an in-memory store, requests signed here with the current
//! time, a stand-in `eks` service that echoes who called it.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use keelson_aws_core::{Authorizer, AwsService, Principal};
use keelson_iam::{Iam, IamConfig, RootCredentials};

use crate::Regional;
use crate::sigv4::{self, CanonicalParts};

struct Echo;

#[async_trait]
impl AwsService for Echo {
    async fn handle(
        &self,
        caller: &Principal,
        _request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        http::Response::new(Bytes::from(caller.arn.clone()))
    }
}

async fn front_door() -> (Regional, Arc<Iam>, RootCredentials) {
    let store = Arc::new(keelson_store::memory::MemStore::new());
    let config = IamConfig {
        region: "us-east-1".into(),
        secure_transport: false,
    };
    let (iam, root) = Iam::open(store, config).await.unwrap();
    let regional = Regional::new(iam.clone()).with_service("eks", Arc::new(Echo));
    (
        regional,
        iam,
        root.expect("a new account has root credentials"),
    )
}

/// Signs like botocore: host and x-amz-date (and content-type when there is a body).
fn signed(
    method: &str,
    uri: &str,
    body: &str,
    service: &str,
    key: &str,
    secret: &str,
) -> http::Request<Bytes> {
    let now = chrono::Utc::now();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = &amz_date[..8];
    let mut headers = Vec::new();
    if !body.is_empty() {
        headers.push((
            "content-type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        ));
    }
    headers.push(("host".to_string(), "127.0.0.1:8443".to_string()));
    headers.push(("x-amz-date".to_string(), amz_date.clone()));
    let (path, query) = uri
        .split_once('?')
        .map(|(p, q)| (p, Some(q)))
        .unwrap_or((uri, None));
    let canonical = sigv4::canonical_request(&CanonicalParts {
        method,
        raw_path: path,
        raw_query: query,
        headers: &headers,
        payload_hash: &sigv4::sha256_hex(body.as_bytes()),
        presigned: false,
    });
    let scope = sigv4::scope(date, "us-east-1", service);
    let signature = sigv4::signature(
        secret,
        date,
        "us-east-1",
        service,
        &sigv4::string_to_sign(&amz_date, &scope, &canonical),
    );
    let names = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut builder = http::Request::builder().method(method).uri(uri).header(
        "authorization",
        format!("AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={names}, Signature={signature}"),
    );
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    builder.body(Bytes::from(body.to_string())).unwrap()
}

fn text(response: &http::Response<Bytes>) -> &str {
    std::str::from_utf8(response.body()).unwrap()
}

#[tokio::test]
async fn requests_reach_the_service_their_scope_names_with_the_signer_as_caller() {
    let (regional, iam, root) = front_door().await;
    let (key, secret) = (&root.access_key_id, &root.secret_access_key);
    let response = regional
        .handle(signed(
            "POST",
            "/",
            "Action=ListUsers&Version=2010-05-08",
            "iam",
            key,
            secret,
        ))
        .await;
    assert_eq!(response.status(), 200, "{}", text(&response));
    let request_id = response.headers()["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(text(&response).contains(&format!("<RequestId>{request_id}</RequestId>")));
    assert!(
        text(&response)
            .starts_with("<ListUsersResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">")
    );

    let path = "/clusters/c1/access-entries/arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr";
    let response = regional
        .handle(signed("GET", path, "", "eks", key, secret))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        text(&response),
        format!("arn:aws:iam::{}:root", iam.account_id())
    );
    assert!(
        response.headers().contains_key("x-amzn-requestid"),
        "added when the service did not"
    );
}

#[tokio::test]
async fn authentication_errors_speak_the_protocol_of_the_scope_service() {
    let (regional, _iam, root) = front_door().await;
    let key = &root.access_key_id;

    let response = regional
        .handle(signed("GET", "/clusters", "", "eks", key, "wrong"))
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "SignatureDoesNotMatch"
    );
    let response = regional
        .handle(signed(
            "POST",
            "/",
            "Action=GetCallerIdentity&Version=2011-06-15",
            "sts",
            key,
            "wrong",
        ))
        .await;
    assert_eq!(response.status(), 403);
    assert!(text(&response).contains("<Code>SignatureDoesNotMatch</Code>"));
    assert!(text(&response).contains("https://sts.amazonaws.com/doc/2011-06-15/"));

    let unknown = "AKIAAAAAAAAAAAAAAAAA";
    let response = regional
        .handle(signed("GET", "/clusters", "", "eks", unknown, "s"))
        .await;
    assert_eq!(
        (
            response.status().as_u16(),
            response.headers()["x-amzn-errortype"].to_str().unwrap()
        ),
        (403, "UnrecognizedClientException")
    );
    let response = regional
        .handle(signed(
            "POST",
            "/",
            "Action=ListUsers&Version=2010-05-08",
            "iam",
            unknown,
            "s",
        ))
        .await;
    assert!(text(&response).contains("<Code>InvalidClientTokenId</Code>"));

    let mut with_token = signed(
        "POST",
        "/",
        "Action=ListUsers&Version=2010-05-08",
        "iam",
        key,
        &root.secret_access_key,
    );
    with_token
        .headers_mut()
        .insert("x-amz-security-token", "made-up".parse().unwrap());
    assert!(text(&regional.handle(with_token).await).contains("<Code>InvalidClientTokenId</Code>"));

    let bare = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from("Action=ListUsers&Version=2010-05-08"))
        .unwrap();
    let response = regional.handle(bare).await;
    assert_eq!(response.status(), 403);
    assert!(text(&response).contains("<Code>MissingAuthenticationToken</Code>"));
    let bare = http::Request::builder()
        .uri("/clusters")
        .body(Bytes::new())
        .unwrap();
    assert_eq!(
        regional.handle(bare).await.headers()["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );

    let response = regional
        .handle(signed("GET", "/", "", "s3", key, &root.secret_access_key))
        .await;
    assert_eq!(response.status(), 400, "no s3 here");
}

#[tokio::test]
async fn the_authorizer_evaluates_identity_policies_for_other_services() {
    let (regional, iam, root) = front_door().await;
    let (key, secret) = (&root.access_key_id, &root.secret_access_key);
    let call = |body: String| regional.handle(signed("POST", "/", &body, "iam", key, secret));
    assert_eq!(
        call("Action=CreateUser&UserName=ops&Version=2010-05-08".into())
            .await
            .status(),
        200
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eks:Describe*","Resource":"arn:aws:eks:us-east-1:*:cluster/dev-*"}]}"#;
    let body = format!(
        "Action=PutUserPolicy&UserName=ops&PolicyName=eks&PolicyDocument={}&Version=2010-05-08",
        percent_encoding::utf8_percent_encode(policy, percent_encoding::NON_ALPHANUMERIC)
    );
    assert_eq!(call(body).await.status(), 200);
    let account = iam.account_id().to_string();
    let ops = Principal {
        account_id: account.clone(),
        arn: format!("arn:aws:iam::{account}:user/ops"),
        user_id: "AIDAEXAMPLE".into(),
        access_key_id: "AKIAEXAMPLE".into(),
        kind: keelson_aws_core::PrincipalKind::User { name: "ops".into() },
    };
    let cluster = |name: &str| format!("arn:aws:eks:us-east-1:{account}:cluster/{name}");
    assert!(iam.is_allowed(&ops, "eks:DescribeCluster", &cluster("dev-1")));
    assert!(
        iam.is_allowed(&ops, "EKS:describecluster", &cluster("dev-1")),
        "actions match case-insensitively"
    );
    assert!(!iam.is_allowed(&ops, "eks:DescribeCluster", &cluster("prod")));
    assert!(!iam.is_allowed(&ops, "eks:DeleteCluster", &cluster("dev-1")));
    assert!(iam.is_allowed(
        &iam.root_principal(key),
        "eks:DeleteCluster",
        &cluster("prod")
    ));
    let stranger = Principal {
        account_id: "999999999999".into(),
        ..iam.root_principal(key)
    };
    assert!(!iam.is_allowed(&stranger, "eks:DescribeCluster", &cluster("dev-1")));
}

#[tokio::test]
async fn a_second_instance_on_the_same_store_shares_the_account_and_sees_policy_changes() {
    let store: Arc<dyn keelson_store::Store> = Arc::new(keelson_store::memory::MemStore::new());
    let config = IamConfig {
        region: "us-east-1".into(),
        secure_transport: false,
    };
    let (first, root) = Iam::open(store.clone(), config.clone()).await.unwrap();
    let root = root.unwrap();
    let (second, again) = Iam::open(store, config).await.unwrap();
    assert!(again.is_none(), "the account is created once");
    assert_eq!(first.account_id(), second.account_id());

    let regional = Regional::new(first.clone());
    let (key, secret) = (&root.access_key_id, &root.secret_access_key);
    let call = |body: String| regional.handle(signed("POST", "/", &body, "iam", key, secret));
    assert_eq!(
        call("Action=CreateUser&UserName=ops&Version=2010-05-08".into())
            .await
            .status(),
        200
    );
    let account = first.account_id().to_string();
    let ops = Principal {
        account_id: account.clone(),
        arn: format!("arn:aws:iam::{account}:user/ops"),
        user_id: "AIDAEXAMPLE".into(),
        access_key_id: "AKIAEXAMPLE".into(),
        kind: keelson_aws_core::PrincipalKind::User { name: "ops".into() },
    };
    assert!(!second.is_allowed(&ops, "eks:ListClusters", "*"));
    let body = "Action=AttachUserPolicy&UserName=ops&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAdministratorAccess&Version=2010-05-08";
    assert_eq!(call(body.into()).await.status(), 200);
    assert!(
        first.is_allowed(&ops, "eks:ListClusters", "*"),
        "the writing instance answers after its mirror has the write"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !second.is_allowed(&ops, "eks:ListClusters", "*") {
        assert!(
            std::time::Instant::now() < deadline,
            "the other instance never saw the attachment"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    first.shutdown().await;
    second.shutdown().await;
}
