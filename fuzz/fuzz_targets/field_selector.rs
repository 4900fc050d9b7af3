//! Field selector parsing never panics, and printing then reparsing keeps the terms.
#![no_main]

use keelson_apimachinery::selectors::FieldSelector;
use libfuzzer_sys::fuzz_target;

fn sorted_terms(selector: &FieldSelector) -> Vec<String> {
    let mut terms: Vec<String> = selector
        .terms()
        .iter()
        .map(|t| format!("{}\u{0}{:?}\u{0}{}", t.field, t.operator, t.value))
        .collect();
    terms.sort();
    terms
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(selector) = FieldSelector::parse(input) else {
        return;
    };
    let printed = selector.to_string();
    let reparsed = FieldSelector::parse(&printed)
        .unwrap_or_else(|e| panic!("{printed:?} (from {input:?}) does not reparse: {e}"));
    assert_eq!(sorted_terms(&selector), sorted_terms(&reparsed), "{input:?} -> {printed:?}");
    let _ = selector.fields().count();
    let _ = selector.matches(|field| (field.len() % 2 == 0).then(|| field.to_string()));
});
