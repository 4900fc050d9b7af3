//! Request body decoding never panics: Kubernetes protobuf (`k8s\0` envelope) into
//! JSON, and JSON / YAML into `serde_json::Value`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // Half the inputs get the protobuf magic so the fuzzer reaches the envelope.
    let body = match data.split_first() {
        Some((&first, rest)) if first % 2 == 1 => [&b"k8s\0"[..], rest].concat(),
        _ => data.to_vec(),
    };
    if let Ok(object) = keelson_proto::decode_object(&body) {
        // What the server does next with a decoded body.
        let _ = serde_json::to_vec(&object);
    }
    let _ = serde_json::from_slice::<Value>(data);
    let _ = serde_yaml::from_slice::<Value>(data);
});
