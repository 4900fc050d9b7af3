//! JSON merge patch never panics and is idempotent (RFC 7386).
//! Input: `<document JSON> NUL <patch JSON>`.
#![no_main]

use keelson_apimachinery::patch::merge_patch;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (doc, patch) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"{}"[..], data),
    };
    let (Ok(doc), Ok(patch)) = (
        serde_json::from_slice::<Value>(doc),
        serde_json::from_slice::<Value>(patch),
    ) else {
        return;
    };
    let once = merge_patch(&doc, &patch);
    let twice = merge_patch(&once, &patch);
    assert_eq!(once, twice);
});
