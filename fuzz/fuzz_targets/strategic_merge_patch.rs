//! Strategic merge patch never panics, for a handful of built-in kinds.
//! Input: one byte choosing the kind, then `<document JSON> NUL <patch JSON>`.
#![no_main]

use keelson_apimachinery::patch::{BuiltinPatchMeta, strategic_merge_patch};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const KINDS: &[(&str, &str)] = &[
    ("apps", "Deployment"),
    ("", "Pod"),
    ("", "Service"),
    ("", "Node"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("", "ConfigMap"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("example.com", "Widget"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (group, kind) = KINDS[usize::from(selector) % KINDS.len()];
    let (doc, patch) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&b"{}"[..], rest),
    };
    let (Ok(doc), Ok(patch)) = (
        serde_json::from_slice::<Value>(doc),
        serde_json::from_slice::<Value>(patch),
    ) else {
        return;
    };
    let meta = BuiltinPatchMeta::new(group, kind);
    if let Ok(patched) = strategic_merge_patch(&doc, &patch, &meta) {
        assert!(patched.is_object());
    }
});
