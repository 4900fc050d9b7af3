//! Field paths in upstream's format: `spec.template.containers[0].name`, no leading dot.

pub(crate) fn key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

pub(crate) fn index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}
