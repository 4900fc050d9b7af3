use super::*;
use crate::pki::ClusterPki;

const NOW: i64 = 1_800_000_000;

fn issuer(iss: &str) -> TokenIssuer {
    let dir = tempfile::tempdir().unwrap();
    ClusterPki::load_or_create(dir.path(), &[])
        .unwrap()
        .token_issuer(iss)
        .unwrap()
}

fn spec() -> TokenSpec {
    TokenSpec {
        namespace: "default".into(),
        service_account_name: "builder".into(),
        service_account_uid: "uid-1".into(),
        audiences: vec!["https://kubernetes.default.svc".into()],
        expiration_seconds: 3600,
        pod: Some(("web-0".into(), "pod-uid".into())),
    }
}

fn auds() -> Vec<String> {
    vec!["https://kubernetes.default.svc".into()]
}

fn payload_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn issue_then_verify() {
    let issuer = issuer("https://kubernetes.default.svc");
    let issued = issuer.issue_at(&spec(), NOW).unwrap();
    assert_eq!(issued.expiration_timestamp, "2027-01-15T09:00:00Z");
    assert_eq!(issued.expires_at_unix, NOW + 3600);
    let claims = issuer.verify_at(&issued.token, &auds(), NOW + 10).unwrap();
    assert_eq!(
        claims,
        Claims {
            namespace: "default".into(),
            service_account_name: "builder".into(),
            service_account_uid: "uid-1".into(),
            pod: Some(("web-0".into(), "pod-uid".into())),
        }
    );
}

#[test]
fn claim_layout_matches_upstream() {
    let issuer = issuer("https://kubernetes.default.svc");
    let token = issuer.issue_at(&spec(), NOW).unwrap().token;
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], issuer.key_id());
    let p = payload_of(&token);
    assert_eq!(p["iss"], "https://kubernetes.default.svc");
    assert_eq!(p["sub"], "system:serviceaccount:default:builder");
    assert_eq!(p["aud"], json!(["https://kubernetes.default.svc"]));
    assert_eq!(p["iat"], NOW);
    assert_eq!(p["nbf"], NOW);
    assert_eq!(p["exp"], NOW + 3600);
    assert_eq!(p["jti"].as_str().unwrap().len(), 36);
    assert_eq!(p["kubernetes.io"]["namespace"], "default");
    assert_eq!(
        p["kubernetes.io"]["serviceaccount"],
        json!({"name": "builder", "uid": "uid-1"})
    );
    assert_eq!(
        p["kubernetes.io"]["pod"],
        json!({"name": "web-0", "uid": "pod-uid"})
    );
}

#[test]
fn expired_rejected() {
    let issuer = issuer("iss");
    let token = issuer.issue_at(&spec(), NOW).unwrap().token;
    assert!(
        issuer.verify_at(&token, &auds(), NOW + 3600 + 30).is_ok(),
        "within leeway"
    );
    assert!(issuer.verify_at(&token, &auds(), NOW + 3600 + 61).is_err());
    assert!(
        issuer.verify_at(&token, &auds(), NOW - 3600).is_err(),
        "not yet valid"
    );
}

#[test]
fn wrong_audience_rejected() {
    let issuer = issuer("iss");
    let token = issuer.issue_at(&spec(), NOW).unwrap().token;
    assert!(
        issuer
            .verify_at(&token, &["vault".to_string()], NOW)
            .is_err()
    );
    assert!(
        issuer
            .verify_at(&token, &["vault".to_string(), auds()[0].clone()], NOW)
            .is_ok()
    );
}

#[test]
fn wrong_issuer_rejected() {
    let a = issuer("https://a");
    let token = a.issue_at(&spec(), NOW).unwrap().token;
    // Same key, different configured issuer.
    let dir = tempfile::tempdir().unwrap();
    let pki = ClusterPki::load_or_create(dir.path(), &[]).unwrap();
    let signer = pki.token_issuer("https://a").unwrap();
    let other = pki.token_issuer("https://b").unwrap();
    let token_same_key = signer.issue_at(&spec(), NOW).unwrap().token;
    assert!(other.verify_at(&token_same_key, &auds(), NOW).is_err());
    // Different key entirely.
    assert!(signer.verify_at(&token, &auds(), NOW).is_err());
}

#[test]
fn tampered_rejected() {
    let issuer = issuer("iss");
    let token = issuer.issue_at(&spec(), NOW).unwrap().token;
    let parts: Vec<&str> = token.split('.').collect();
    // Swap in a payload naming another service account, keeping the signature.
    let mut payload = payload_of(&token);
    payload["sub"] = json!("system:serviceaccount:kube-system:admin");
    payload["kubernetes.io"]["namespace"] = json!("kube-system");
    payload["kubernetes.io"]["serviceaccount"]["name"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert!(issuer.verify_at(&forged, &auds(), NOW).is_err());
    // Flip a signature bit.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert!(issuer.verify_at(&bad_sig, &auds(), NOW).is_err());
    // alg "none".
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        parts[1]
    );
    assert!(issuer.verify_at(&none, &auds(), NOW).is_err());
    assert!(issuer.verify_at("garbage", &auds(), NOW).is_err());
}

#[test]
fn discovery_documents() {
    let issuer = issuer("https://kubernetes.default.svc");
    let config = issuer.openid_configuration("https://10.0.0.1:6443/openid/v1/jwks");
    assert_eq!(config["issuer"], "https://kubernetes.default.svc");
    assert_eq!(config["jwks_uri"], "https://10.0.0.1:6443/openid/v1/jwks");
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let jwks = issuer.jwks();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], issuer.key_id());
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(key["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(key["y"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
}

#[test]
fn kid_is_sha256_of_spki() {
    let dir = tempfile::tempdir().unwrap();
    let pki = ClusterPki::load_or_create(dir.path(), &[]).unwrap();
    let issuer = pki.token_issuer("iss").unwrap();
    // The public key file rcgen wrote is the DER SPKI; its hash must be the kid.
    let pem = std::fs::read_to_string(dir.path().join(crate::pki::SA_PUB)).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let spki = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    use sha2::Digest;
    assert_eq!(
        issuer.key_id(),
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&spki))
    );
}

#[test]
fn invalid_specs_refused() {
    let issuer = issuer("iss");
    assert!(
        issuer
            .issue_at(
                &TokenSpec {
                    expiration_seconds: 0,
                    ..spec()
                },
                NOW
            )
            .is_err()
    );
    assert!(
        issuer
            .issue_at(
                &TokenSpec {
                    namespace: String::new(),
                    ..spec()
                },
                NOW
            )
            .is_err()
    );
}

fn legacy_claims() -> LegacyClaims {
    LegacyClaims {
        namespace: "default".into(),
        service_account_name: "builder".into(),
        service_account_uid: "uid-1".into(),
        secret_name: "builder-token".into(),
    }
}

#[test]
fn legacy_tokens_round_trip_with_upstreams_claims() {
    let issuer = issuer("https://kubernetes.default.svc.cluster.local");
    let token = issuer.issue_legacy(&legacy_claims()).unwrap();
    let payload = payload_of(&token);
    assert_eq!(payload["iss"], "kubernetes/serviceaccount");
    assert_eq!(
        payload["kubernetes.io/serviceaccount/secret.name"],
        "builder-token"
    );
    assert!(payload.get("exp").is_none(), "legacy tokens do not expire");
    assert_eq!(issuer.verify_legacy(&token).unwrap(), legacy_claims());
    // A legacy token is not a bound token, and the other way round.
    assert!(issuer.verify(&token, &auds()).is_err());
    let bound = issuer.issue_at(&spec(), NOW).unwrap().token;
    assert!(issuer.verify_legacy(&bound).is_err());
}

#[test]
fn legacy_tokens_from_another_key_are_refused() {
    let ours = issuer("https://a");
    let theirs = issuer("https://a");
    let token = theirs.issue_legacy(&legacy_claims()).unwrap();
    assert!(ours.verify_legacy(&token).is_err());
}
