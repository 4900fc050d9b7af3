use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use base64::Engine;
use keelson_aws_core::access::{AccessEntryMapping, AuthenticationMode, ClusterAuthConfig};

use super::*;
use crate::authn::aws::config::check;
use crate::authn::aws::sts::CallerIdentity;
use crate::authn::aws::token::PresignedRequest;

/// Stands in for STS: knows the callers by access key id and, like STS's signature check,
/// refuses a request whose `x-k8s-aws-id` differs from the one the token was signed for
/// (here: the cluster id written in the fake signature).
#[derive(Default)]
struct FakeSts {
    calls: AtomicUsize,
}

#[async_trait]
impl CallerIdentitySource for FakeSts {
    async fn get_caller_identity(
        &self,
        request: &PresignedRequest,
        cluster_id: &str,
    ) -> Result<CallerIdentity, StsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // Long enough for concurrent callers to pile up behind the first.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let signature = form_urlencoded::parse(request.url.query().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "X-Amz-Signature")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if signature != format!("signed-for-{cluster_id}") {
            return Err(StsError::Refused(http::StatusCode::FORBIDDEN));
        }
        let (arn, user_id) = match request.access_key_id.as_str() {
            "AKIAALICE" => ("arn:aws:iam::111122223333:user/alice", "AIDAALICE"),
            "AKIABOB" => ("arn:aws:iam::111122223333:user/bob", "AIDABOB"),
            "ASIADEV" => (
                "arn:aws:sts::111122223333:assumed-role/Dev/carol@corp",
                "AROADEV:carol@corp",
            ),
            "AKIAMALLORY" => ("arn:aws:iam::111122223333:user/mallory", "AIDAMALLORY"),
            _ => return Err(StsError::Refused(http::StatusCode::FORBIDDEN)),
        };
        Ok(CallerIdentity {
            account: "111122223333".into(),
            arn: arn.into(),
            user_id: user_id.into(),
        })
    }
}

fn token(access_key: &str, cluster_id: &str) -> String {
    let date = Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "GetCallerIdentity")
        .append_pair("Version", "2011-06-15")
        .append_pair(
            "X-Amz-Credential",
            &format!("{access_key}/20260101/us-east-1/sts/aws4_request"),
        )
        .append_pair("X-Amz-Date", &date)
        .append_pair("X-Amz-Expires", "60")
        .append_pair("X-Amz-SignedHeaders", "host;x-k8s-aws-id")
        .append_pair("X-Amz-Signature", &format!("signed-for-{cluster_id}"))
        .finish();
    format!(
        "k8s-aws-v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("http://127.0.0.1:8443/?{query}"))
    )
}

fn authenticator(mode: AuthenticationMode) -> (AwsAuthenticator, Arc<FakeSts>) {
    let file = ClusterAuthConfig {
        cluster_id: "c1".into(),
        sts_endpoints: vec!["http://127.0.0.1:8443".into()],
        authentication_mode: mode,
        access_entries: vec![
            AccessEntryMapping {
                principal_arn: "arn:aws:iam::111122223333:user/alice".into(),
                username: "alice".into(),
                kubernetes_groups: vec!["devs".into()],
                entry_type: "STANDARD".into(),
                access_policies: vec![],
            },
            AccessEntryMapping {
                principal_arn: "arn:aws:iam::111122223333:role/Dev".into(),
                username: "dev:{{SessionName}}".into(),
                kubernetes_groups: vec![],
                entry_type: "STANDARD".into(),
                access_policies: vec![],
            },
        ],
    };
    let sts = Arc::new(FakeSts::default());
    let authenticator =
        AwsAuthenticator::new("/nonexistent".into(), check(file).unwrap(), sts.clone());
    (authenticator, sts)
}

fn aws_auth() -> ConfigMapSnapshot {
    Some((
        7,
        serde_json::json!({"data": {"mapUsers": "- userarn: arn:aws:iam::111122223333:user/bob\n  username: bob\n  groups: [system:masters]\n"}}),
    ))
}

#[tokio::test]
async fn a_mapped_user_signs_in_with_the_authenticators_uid_and_extras() {
    let (authenticator, _) = authenticator(AuthenticationMode::Api);
    let user = authenticator
        .authenticate(&token("AKIAALICE", "c1"), || None)
        .await
        .unwrap();
    assert_eq!(user.name, "alice");
    assert_eq!(user.groups, vec!["devs".to_string()]);
    assert_eq!(user.uid, "aws-iam-authenticator:111122223333:AIDAALICE");
    assert_eq!(
        user.extra["arn"],
        vec!["arn:aws:iam::111122223333:user/alice".to_string()]
    );
    assert_eq!(user.extra["accessKeyId"], vec!["AKIAALICE".to_string()]);
    let session = authenticator
        .authenticate(&token("ASIADEV", "c1"), || None)
        .await
        .unwrap();
    assert_eq!(session.name, "dev:carol-corp");
    assert_eq!(session.extra["sessionName"], vec!["carol@corp".to_string()]);
    assert_eq!(
        session.extra["canonicalArn"],
        vec!["arn:aws:iam::111122223333:role/Dev".to_string()]
    );
}

#[tokio::test]
async fn a_token_for_another_cluster_is_refused_by_sts() {
    let (authenticator, _) = authenticator(AuthenticationMode::Api);
    let err = authenticator
        .authenticate(&token("AKIAALICE", "other-cluster"), || None)
        .await
        .unwrap_err();
    assert!(matches!(err, Rejection::Sts(StsError::Refused(_))), "{err}");
}

#[tokio::test]
async fn unmapped_callers_are_refused() {
    let (authenticator, _) = authenticator(AuthenticationMode::ApiAndConfigMap);
    let err = authenticator
        .authenticate(&token("AKIAMALLORY", "c1"), aws_auth)
        .await
        .unwrap_err();
    assert!(matches!(err, Rejection::Unmapped(_)));
}

#[tokio::test]
async fn aws_auth_is_read_only_when_the_mode_says_so() {
    let (authenticator, _) = authenticator(AuthenticationMode::ApiAndConfigMap);
    let bob = authenticator
        .authenticate(&token("AKIABOB", "c1"), aws_auth)
        .await
        .unwrap();
    assert_eq!(bob.groups, vec!["system:masters".to_string()]);
    let (api_only, _) = self::authenticator(AuthenticationMode::Api);
    assert!(
        api_only
            .authenticate(&token("AKIABOB", "c1"), aws_auth)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn verifications_are_cached_but_local_checks_still_run() {
    let (authenticator, sts) = authenticator(AuthenticationMode::Api);
    let alice = token("AKIAALICE", "c1");
    for _ in 0..3 {
        authenticator.authenticate(&alice, || None).await.unwrap();
    }
    assert_eq!(sts.calls.load(Ordering::SeqCst), 1);
    // Mapping is redone per request: a mapping removed from the file stops the user at once.
    let mut settings = (*authenticator.settings()).clone();
    settings.file.access_entries.clear();
    *authenticator.settings.write().unwrap() = Arc::new(settings);
    assert!(matches!(
        authenticator.authenticate(&alice, || None).await,
        Err(Rejection::Unmapped(_))
    ));
    let not_a_token = "k8s-aws-v1.%%%";
    assert!(matches!(
        authenticator.authenticate(not_a_token, || None).await,
        Err(Rejection::Token(_))
    ));
    assert_eq!(sts.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn access_policies_follow_the_entry_of_aws_users_only() {
    let (authenticator, _) = authenticator(AuthenticationMode::Api);
    let mut settings = (*authenticator.settings()).clone();
    settings.file.access_entries[0].access_policies = vec![AccessPolicyGrant {
        policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy".into(),
        access_scope: keelson_aws_core::access::AccessScope {
            scope_type: keelson_aws_core::access::AccessScopeType::Cluster,
            namespaces: vec![],
        },
    }];
    *authenticator.settings.write().unwrap() = Arc::new(settings);
    let alice = authenticator
        .authenticate(&token("AKIAALICE", "c1"), || None)
        .await
        .unwrap();
    assert_eq!(authenticator.access_policies_for(&alice).len(), 1);
    let mut certificate_user = alice.clone();
    certificate_user.uid = String::new();
    assert!(
        authenticator
            .access_policies_for(&certificate_user)
            .is_empty()
    );
}

#[tokio::test]
async fn a_burst_of_requests_with_one_new_token_makes_one_sts_call() {
    let (authenticator, sts) = authenticator(AuthenticationMode::Api);
    let alice = token("AKIAALICE", "c1");
    let users =
        futures::future::join_all((0..20).map(|_| authenticator.authenticate(&alice, || None)))
            .await;
    assert!(
        users
            .iter()
            .all(|u| u.as_ref().is_ok_and(|u| u.name == "alice"))
    );
    assert_eq!(sts.calls.load(Ordering::SeqCst), 1);
    let stranger = token("AKIAUNKNOWN", "c1");
    let refusals =
        futures::future::join_all((0..5).map(|_| authenticator.authenticate(&stranger, || None)))
            .await;
    assert!(refusals.iter().all(|r| r.is_err()));
    assert_eq!(sts.calls.load(Ordering::SeqCst), 2);
}
