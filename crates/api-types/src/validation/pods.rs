//! Pod spec validation (also used inside every workload's template).

use std::collections::HashSet;

use serde_json::Value;

use super::FieldError;
use super::names::is_dns1123_label;

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];

pub fn validate_pod_spec(spec: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let containers = spec["containers"].as_array();
    if containers.is_none_or(|c| c.is_empty()) {
        errors.push(FieldError::required(format!("{path}.containers")));
    }
    let mut names = HashSet::new();
    for (key, list) in [
        ("initContainers", spec["initContainers"].as_array()),
        ("containers", containers),
    ] {
        for (i, container) in list.into_iter().flatten().enumerate() {
            validate_container(container, &format!("{path}.{key}[{i}]"), &mut names, errors);
        }
    }
    if let Some(policy) = spec["restartPolicy"].as_str()
        && !RESTART_POLICIES.contains(&policy)
    {
        errors.push(FieldError::not_supported(
            format!("{path}.restartPolicy"),
            &spec["restartPolicy"],
            RESTART_POLICIES,
        ));
    }
    if let Some(policy) = spec["dnsPolicy"].as_str()
        && !DNS_POLICIES.contains(&policy)
    {
        errors.push(FieldError::not_supported(
            format!("{path}.dnsPolicy"),
            &spec["dnsPolicy"],
            DNS_POLICIES,
        ));
    }
    if let Some(grace) = spec["terminationGracePeriodSeconds"].as_i64()
        && grace < 0
    {
        errors.push(FieldError::invalid(
            format!("{path}.terminationGracePeriodSeconds"),
            &spec["terminationGracePeriodSeconds"],
            "must be greater than or equal to 0",
        ));
    }
    let mut volume_names = HashSet::new();
    for (i, volume) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        let field = format!("{path}.volumes[{i}].name");
        match volume["name"].as_str() {
            None | Some("") => errors.push(FieldError::required(field)),
            Some(name) if !is_dns1123_label(name) => {
                errors.push(FieldError::invalid(field, &volume["name"], "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"))
            }
            Some(name) if !volume_names.insert(name.to_string()) => errors.push(FieldError::duplicate(field, &volume["name"])),
            _ => {}
        }
    }
    for (i, container) in containers.into_iter().flatten().enumerate() {
        for (j, mount) in container["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(name) = mount["name"].as_str()
                && !volume_names.contains(name)
            {
                errors.push(FieldError {
                    field: format!("{path}.containers[{i}].volumeMounts[{j}].name"),
                    reason: "FieldValueNotFound",
                    message: format!("Not found: \"{name}\""),
                });
            }
        }
    }
}

fn validate_container(
    container: &Value,
    path: &str,
    names: &mut HashSet<String>,
    errors: &mut Vec<FieldError>,
) {
    match container["name"].as_str() {
        None | Some("") => errors.push(FieldError::required(format!("{path}.name"))),
        Some(name) if !is_dns1123_label(name) => errors.push(FieldError::invalid(
            format!("{path}.name"),
            &container["name"],
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        )),
        Some(name) if !names.insert(name.to_string()) => {
            errors.push(FieldError::duplicate(format!("{path}.name"), &container["name"]))
        }
        _ => {}
    }
    if container["image"]
        .as_str()
        .is_none_or(|i| i.trim().is_empty())
    {
        errors.push(FieldError::required(format!("{path}.image")));
    }
    if let Some(policy) = container["imagePullPolicy"].as_str()
        && !PULL_POLICIES.contains(&policy)
    {
        errors.push(FieldError::not_supported(
            format!("{path}.imagePullPolicy"),
            &container["imagePullPolicy"],
            PULL_POLICIES,
        ));
    }
    for (i, port) in container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!("{path}.ports[{i}]");
        match port["containerPort"].as_i64() {
            Some(p) if (1..=65535).contains(&p) => {}
            Some(_) => errors.push(FieldError::invalid(
                format!("{field}.containerPort"),
                &port["containerPort"],
                "must be between 1 and 65535, inclusive",
            )),
            None => errors.push(FieldError::required(format!("{field}.containerPort"))),
        }
        if let Some(p) = port["hostPort"].as_i64()
            && !(0..=65535).contains(&p)
        {
            errors.push(FieldError::invalid(
                format!("{field}.hostPort"),
                &port["hostPort"],
                "must be between 1 and 65535, inclusive",
            ));
        }
        if let Some(protocol) = port["protocol"].as_str()
            && !PROTOCOLS.contains(&protocol)
        {
            errors.push(FieldError::not_supported(
                format!("{field}.protocol"),
                &port["protocol"],
                PROTOCOLS,
            ));
        }
    }
    let limits = container
        .pointer("/resources/limits")
        .and_then(Value::as_object);
    let requests = container
        .pointer("/resources/requests")
        .and_then(Value::as_object);
    if let (Some(limits), Some(requests)) = (limits, requests) {
        for (resource, request) in requests {
            let (Some(limit), Some(req)) =
                (limits.get(resource).and_then(quantity), quantity(request))
            else {
                continue;
            };
            if req > limit {
                errors.push(FieldError::invalid(
                    format!("{path}.resources.requests"),
                    request,
                    &format!(
                        "must be less than or equal to {resource} limit of {}",
                        render_quantity(&limits[resource])
                    ),
                ));
            }
        }
    }
    for (field, values) in [
        ("resources.limits", limits),
        ("resources.requests", requests),
    ] {
        for (resource, value) in values.into_iter().flatten() {
            if quantity(value).is_none() {
                errors.push(FieldError::invalid(
                    format!("{path}.{field}[{resource}]"),
                    value,
                    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                ));
            }
        }
    }
}

fn render_quantity(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| value.to_string())
}

/// A Kubernetes quantity as a number (base units), for comparisons.
pub fn quantity(value: &Value) -> Option<f64> {
    if let Some(n) = value.as_f64() {
        return Some(n);
    }
    let s = value.as_str()?.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => 10f64.powi(exp[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities() {
        assert_eq!(quantity(&json!("500m")), Some(0.5));
        assert_eq!(quantity(&json!("1Gi")), Some(1073741824.0));
        assert_eq!(quantity(&json!(2)), Some(2.0));
        assert_eq!(quantity(&json!("1e3")), Some(1000.0));
        assert_eq!(quantity(&json!("banana")), None);
    }

    #[test]
    fn pod_errors_name_each_field() {
        let spec = json!({"containers": [{"name": "Bad_Name"}, {"name": "c", "image": "x",
            "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]});
        let mut errors = Vec::new();
        validate_pod_spec(&spec, "spec", &mut errors);
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"spec.containers[0].name"));
        assert!(fields.contains(&"spec.containers[0].image"));
        assert!(fields.contains(&"spec.containers[1].resources.requests"));
    }
}
