//! Cell formatting shared by the printers, matching what upstream's printers emit.

use serde_json::Value;

/// Seconds since the Unix epoch of an RFC 3339 timestamp.
pub fn unix_seconds(timestamp: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(timestamp)
        .ok()
        .map(|t| t.timestamp())
}

/// Upstream's `duration.HumanDuration`: short, coarser as the age grows ("45s", "3m20s", "5h",
/// "12d", "2y30d").
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let rest = seconds % 60;
        return if rest == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{rest}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let rest = minutes % 60;
        return if rest == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{rest}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let rest = hours % 24;
        return if rest == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{rest}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let rest = days % 365;
        return if rest == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{rest}d")
        };
    }
    format!("{years}y")
}

/// The age column: time since `timestamp`, or `<unknown>` when it is missing, as upstream.
pub fn age_since(timestamp: Option<&str>, now_unix: i64) -> String {
    match timestamp.and_then(unix_seconds) {
        Some(t) => human_duration(now_unix - t),
        None => "<unknown>".into(),
    }
}

/// The object's age from `metadata.creationTimestamp`.
pub fn age(object: &Value, now_unix: i64) -> Value {
    Value::String(age_since(
        object
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str),
        now_unix,
    ))
}

pub fn name(object: &Value) -> Value {
    object
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or_else(|| Value::String(String::new()))
}

pub fn text(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A string cell that prints `<none>` when empty, as upstream does for optional columns.
pub fn or_none(value: String) -> Value {
    Value::String(if value.is_empty() {
        "<none>".into()
    } else {
        value
    })
}

pub fn int(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

pub fn array<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// `k1=v1,k2=v2` of a string map, sorted by key (JSON objects here keep key order, so sort).
pub fn labels(map: Option<&Value>) -> String {
    let Some(map) = map.and_then(Value::as_object) else {
        return String::new();
    };
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// A metav1.LabelSelector printed as upstream's `metav1.FormatLabelSelector`.
pub fn label_selector(selector: Option<&Value>) -> String {
    let Some(selector) = selector.filter(|s| s.is_object()) else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(map) = selector.get("matchLabels").and_then(Value::as_object) {
        let mut pairs: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        pairs.sort();
        parts.extend(pairs);
    }
    for expression in array(selector, "/matchExpressions") {
        let key = expression["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = array(expression, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        parts.push(match expression["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other} ({})", values.join(",")),
        });
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

/// Container names and images of a pod template, comma-joined (the `-o wide` columns).
pub fn containers_and_images(pod_spec: Option<&Value>) -> (Value, Value) {
    let containers = pod_spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    let field = |f: &str| {
        containers
            .map(|cs| {
                cs.iter()
                    .map(|c| c[f].as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    (Value::String(field("name")), Value::String(field("image")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_upstream_prints_them() {
        assert_eq!(human_duration(-5), "<invalid>");
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(200), "3m20s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
        assert_eq!(human_duration(100 * 86400), "100d");
        assert_eq!(human_duration(800 * 86400), "2y70d");
        assert_eq!(human_duration(3000 * 86400), "8y");
    }

    #[test]
    fn selectors_print_sorted_with_expressions() {
        let selector = serde_json::json!({"matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]},
                                 {"key": "legacy", "operator": "DoesNotExist"}]});
        assert_eq!(
            label_selector(Some(&selector)),
            "a=1,b=2,tier in (web,api),!legacy"
        );
        assert_eq!(label_selector(None), "<none>");
    }
}
