//! Label selector parsing never panics, and the canonical string of a parsed selector
//! parses back to the same selector.
#![no_main]

use std::collections::BTreeMap;

use keelson_apimachinery::selectors::LabelSelector;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(selector) = LabelSelector::parse(input) else {
        return;
    };
    let printed = selector.to_string();
    let reparsed = LabelSelector::parse(&printed)
        .unwrap_or_else(|e| panic!("{printed:?} (from {input:?}) does not reparse: {e}"));
    assert_eq!(selector, reparsed, "{input:?} -> {printed:?}");
    assert_eq!(reparsed.to_string(), printed);

    // Same answers on label sets built from the selector's own keys and values.
    let mut labels = BTreeMap::new();
    for requirement in selector.requirements() {
        let value = requirement.values().first().cloned().unwrap_or_default();
        labels.insert(requirement.key().to_string(), value);
        assert_eq!(selector.matches(&labels), reparsed.matches(&labels));
    }
});
