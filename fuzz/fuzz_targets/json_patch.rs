//! JSON patch never panics. Input: `<document JSON> NUL <patch JSON>`.
#![no_main]

use keelson_apimachinery::patch::json_patch;
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
    if let Ok(patched) = json_patch(&doc, &patch) {
        // A patch that tests for the result it produced always passes.
        let check = serde_json::json!([{"op": "test", "path": "", "value": patched}]);
        assert!(json_patch(&patched, &check).is_ok());
    }
});
