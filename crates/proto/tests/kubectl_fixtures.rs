//! Bodies captured from real kubectl 1.32 and 1.33 (tests/fixtures/*.bin, recorded by a fake
//! API server). Where kubectl can print the same object (`--dry-run=client -o json`), that
//! output is the expected JSON (*.json beside the .bin): the JSON kubectl would have sent.

use serde_json::{Value, json};

fn decode(name: &str) -> Value {
    let body = std::fs::read(format!("tests/fixtures/{name}.bin")).unwrap();
    keelson_proto::decode_object(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn captured_bodies_match_kubectl_json_output() {
    let mut checked = 0;
    for entry in std::fs::read_dir("tests/fixtures").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_stem().unwrap().to_str().unwrap();
            let expected: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(decode(name), expected, "{name}");
            checked += 1;
        }
    }
    assert!(checked >= 9, "only {checked} fixtures with expected JSON");
}

#[test]
fn deployment_keeps_explicit_zero_replicas() {
    // `--replicas=0`: a Go pointer set to zero must not become "absent" (which defaults to 1).
    assert_eq!(
        decode("kubectl132_deployment_replicas0")["spec"]["replicas"],
        0
    );
}

#[test]
fn auth_can_i() {
    assert_eq!(
        decode("kubectl132_ssar"),
        json!({
            "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {"resourceAttributes": {"namespace": "kube-system", "verb": "get", "resource": "pods"}},
            "status": {"allowed": false}
        })
    );
    assert_eq!(
        decode("kubectl133_ssar_subresource")["spec"],
        json!({"resourceAttributes": {
            "namespace": "default", "verb": "create", "resource": "deployments.apps", "subresource": "scale"
        }})
    );
}

#[test]
fn auth_can_i_list() {
    assert_eq!(
        decode("kubectl132_ssrr"),
        json!({
            "kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {"namespace": "default"},
            "status": {"resourceRules": null, "nonResourceRules": null, "incomplete": false}
        })
    );
}

#[test]
fn auth_whoami() {
    assert_eq!(
        decode("kubectl132_selfsubjectreview"),
        json!({
            "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "status": {"userInfo": {}}
        })
    );
}

#[test]
fn create_token() {
    assert_eq!(
        decode("kubectl132_tokenrequest"),
        json!({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {"audiences": ["api"], "expirationSeconds": 3600, "boundObjectRef": null},
            "status": {"token": "", "expirationTimestamp": null}
        })
    );
}
