//! Malformed bodies give a ProtoError (→ 400 with a Status), never a panic.

use keelson_proto::{ProtoError, decode_object, is_protobuf_content_type};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("tests/fixtures/{name}.bin")).unwrap()
}

#[test]
fn content_type() {
    assert!(is_protobuf_content_type(
        "application/vnd.kubernetes.protobuf"
    ));
    assert!(is_protobuf_content_type(
        "Application/VND.kubernetes.protobuf; charset=utf-8"
    ));
    assert!(!is_protobuf_content_type("application/json"));
    assert!(!is_protobuf_content_type(
        "application/vnd.kubernetes.protobuf+json"
    ));
}

#[test]
fn bad_magic_and_empty() {
    assert_eq!(
        decode_object(b"{\"kind\":\"Pod\"}"),
        Err(ProtoError::BadMagic)
    );
    assert_eq!(decode_object(b""), Err(ProtoError::BadMagic));
}

#[test]
fn unknown_kind() {
    let mut body = b"k8s\0".to_vec();
    // Unknown{typeMeta{apiVersion "v1", kind "Nope"}}
    body.extend([
        0x0a, 0x0a, 0x0a, 0x02, b'v', b'1', 0x12, 0x04, b'N', b'o', b'p', b'e',
    ]);
    assert_eq!(
        decode_object(&body),
        Err(ProtoError::UnknownKind {
            api_version: "v1".into(),
            kind: "Nope".into()
        })
    );
}

#[test]
fn every_truncation_is_an_error_or_a_prefix_object() {
    let body = fixture("kubectl132_deployment_replicas0");
    for len in 0..body.len() {
        // Must not panic; cutting inside a field must be reported.
        let _ = decode_object(&body[..len]);
    }
    let err = decode_object(&body[..body.len() - 3]).unwrap_err();
    assert!(matches!(err, ProtoError::Truncated { .. }), "{err}");
}

#[test]
fn wrong_wire_type_names_the_field() {
    // Namespace whose metadata (field 1, a message) arrives as a varint.
    let mut body = b"k8s\0".to_vec();
    let raw = [0x08, 0x01];
    body.extend([0x0a, 0x0f, 0x0a, 0x02, b'v', b'1', 0x12, 0x09]);
    body.extend(b"Namespace");
    body.extend([0x12, raw.len() as u8]);
    body.extend(raw);
    let err = decode_object(&body).unwrap_err();
    assert_eq!(
        err,
        ProtoError::InvalidWireData {
            path: "<object>.metadata".into(),
            reason: "wrong wire type"
        }
    );
}

#[test]
fn random_mutations_never_panic() {
    // A small deterministic fuzz pass over the captured bodies (xorshift PRNG).
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for name in [
        "kubectl132_deployment_replicas0",
        "kubectl132_ssar",
        "kubectl132_pdb",
    ] {
        let original = fixture(name);
        for _ in 0..3000 {
            let mut body = original.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % body.len();
                body[i] = next() as u8;
            }
            let _ = decode_object(&body);
        }
    }
}
