//! Name, label and annotation syntax (k8s.io/apimachinery/pkg/util/validation).

use serde_json::Value;

use super::FieldError;

const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| lower_alnum(c) || c == '-')
        && s.starts_with(lower_alnum)
        && s.ends_with(lower_alnum)
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

pub fn dns1123_label_errors(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if s.len() > 63 {
        errors.push("must be no more than 63 characters".to_string());
    }
    if !is_dns1123_label(&s[..s.len().min(63)]) || s.is_empty() {
        errors.push(DNS1123_LABEL_MSG.to_string());
    }
    errors
}

pub fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if s.len() > 253 {
        errors.push("must be no more than 253 characters".to_string());
    }
    if !s.split('.').all(|p| {
        !p.is_empty()
            && p.chars().all(|c| lower_alnum(c) || c == '-')
            && p.starts_with(lower_alnum)
            && p.ends_with(lower_alnum)
    }) {
        errors.push(DNS1123_SUBDOMAIN_MSG.to_string());
    }
    errors
}

pub fn dns1035_label_errors(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if s.len() > 63 {
        errors.push("must be no more than 63 characters".to_string());
    }
    if !is_dns1035_label(&s[..s.len().min(63)]) {
        errors.push(DNS1035_LABEL_MSG.to_string());
    }
    errors
}

/// RBAC names are path segments: anything but `.`, `..`, `/` and `%`.
pub fn path_segment_errors(s: &str) -> Vec<String> {
    match s {
        "." | ".." => vec![format!("may not be '{s}'")],
        _ if s.contains('/') => vec!["may not contain '/'".to_string()],
        _ if s.contains('%') => vec!["may not contain '%'".to_string()],
        _ => Vec::new(),
    }
}

fn qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// `prefix/name` or `name`, as label and annotation keys are.
pub fn is_qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && qualified_name_part(name),
        None => qualified_name_part(s),
    }
}

fn is_label_value(s: &str) -> bool {
    s.is_empty() || qualified_name_part(s)
}

pub fn validate_labels(labels: &Value, field: &str, errors: &mut Vec<FieldError>) {
    let Some(labels) = labels.as_object() else {
        return;
    };
    for (key, value) in labels {
        if !is_qualified_name(key) {
            errors.push(FieldError::invalid(
                field,
                &Value::String(key.clone()),
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ));
        }
        match value.as_str() {
            Some(v) if is_label_value(v) => {}
            _ => errors.push(FieldError::invalid(
                field,
                value,
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            )),
        }
    }
}

/// Total annotation size limit (upstream: 256 KiB).
const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

pub fn validate_annotations(annotations: &Value, errors: &mut Vec<FieldError>) {
    let Some(annotations) = annotations.as_object() else {
        return;
    };
    let mut total = 0;
    for (key, value) in annotations {
        total += key.len() + value.as_str().map(str::len).unwrap_or(0);
        if !is_qualified_name(&key.to_ascii_lowercase()) {
            errors.push(FieldError::invalid("metadata.annotations", &Value::String(key.clone()), "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
        }
    }
    if total > MAX_ANNOTATIONS_BYTES {
        errors.push(FieldError {
            field: "metadata.annotations".into(),
            reason: "FieldValueTooLong",
            message: format!("Too long: must have at most {MAX_ANNOTATIONS_BYTES} bytes"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_syntax() {
        assert!(is_dns1123_subdomain("my.name-1"));
        assert!(!is_dns1123_subdomain("Bad_Name"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(is_dns1123_label("abc-123"));
        assert!(!is_dns1123_label("a.b"));
        assert!(is_dns1035_label("abc-123"));
        assert!(!is_dns1035_label("1abc"));
        assert!(is_qualified_name("app.kubernetes.io/name"));
        assert!(!is_qualified_name("bad key"));
        assert!(path_segment_errors("system:controller:x").is_empty());
        assert!(!path_segment_errors("a/b").is_empty());
    }
}
