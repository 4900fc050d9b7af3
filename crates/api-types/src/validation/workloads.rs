//! Validation of workload controllers, Services, ConfigMaps/Secrets and CRDs.

use serde_json::{Map, Value};

use super::FieldError;
use super::names::{is_dns1123_subdomain, validate_labels};
use super::pods::validate_pod_spec;

/// Whether `labels` satisfy a metav1.LabelSelector (matchLabels and matchExpressions).
fn selector_matches(selector: &Value, labels: &Map<String, Value>) -> bool {
    if let Some(match_labels) = selector["matchLabels"].as_object() {
        for (k, v) in match_labels {
            if labels.get(k) != Some(v) {
                return false;
            }
        }
    }
    for expr in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = expr["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = expr["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let value = labels.get(key).and_then(Value::as_str);
        let ok = match expr["operator"].as_str() {
            Some("In") => value.is_some_and(|v| values.contains(&v)),
            Some("NotIn") => value.is_none_or(|v| !values.contains(&v)),
            Some("Exists") => value.is_some(),
            Some("DoesNotExist") => value.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn selector_is_empty(selector: &Value) -> bool {
    selector["matchLabels"]
        .as_object()
        .is_none_or(Map::is_empty)
        && selector["matchExpressions"]
            .as_array()
            .is_none_or(Vec::is_empty)
}

pub fn validate_template(
    template: &Value,
    selector: Option<&Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let empty = Map::new();
    let labels = template
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    validate_labels(
        &template["metadata"]["labels"],
        &format!("{path}.metadata.labels"),
        errors,
    );
    if let Some(selector) = selector
        && !selector_matches(selector, labels)
    {
        errors.push(FieldError::invalid(
            format!("{path}.metadata.labels"),
            &Value::Object(labels.clone()),
            "`selector` does not match template `labels`",
        ));
    }
    validate_pod_spec(&template["spec"], &format!("{path}.spec"), errors);
}

fn validate_replicas(spec: &Value, errors: &mut Vec<FieldError>) {
    if let Some(r) = spec["replicas"].as_i64()
        && r < 0
    {
        errors.push(FieldError::invalid(
            "spec.replicas",
            &spec["replicas"],
            "must be greater than or equal to 0",
        ));
    }
}

pub fn validate_workload(
    kind: &str,
    obj: &Value,
    old: Option<&Value>,
    errors: &mut Vec<FieldError>,
) {
    let spec = &obj["spec"];
    validate_replicas(spec, errors);
    let selector = &spec["selector"];
    if selector.is_null() {
        errors.push(FieldError::required("spec.selector"));
    } else if selector_is_empty(selector) {
        errors.push(FieldError::invalid(
            "spec.selector",
            selector,
            "empty selector is invalid for deployment",
        ));
    }
    if let Some(old) = old
        && old["spec"]["selector"] != *selector
    {
        errors.push(FieldError::invalid(
            "spec.selector",
            selector,
            "field is immutable",
        ));
    }
    validate_template(
        &spec["template"],
        (!selector.is_null()).then_some(selector),
        "spec.template",
        errors,
    );
    let restart = spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str);
    if restart.is_some_and(|r| r != "Always") {
        errors.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            &spec["template"]["spec"]["restartPolicy"],
            &["Always"],
        ));
    }
    if kind == "Deployment"
        && let Some(strategy) = spec["strategy"]["type"].as_str()
        && !["Recreate", "RollingUpdate"].contains(&strategy)
    {
        errors.push(FieldError::not_supported(
            "spec.strategy.type",
            &spec["strategy"]["type"],
            &["Recreate", "RollingUpdate"],
        ));
    }
}

pub fn validate_replication_controller(obj: &Value, errors: &mut Vec<FieldError>) {
    let spec = &obj["spec"];
    validate_replicas(spec, errors);
    let selector = spec["selector"]
        .as_object()
        .map(|m| serde_json::json!({"matchLabels": m}));
    validate_template(
        &spec["template"],
        selector.as_ref(),
        "spec.template",
        errors,
    );
}

pub fn validate_job(spec: &Value, path: &str, errors: &mut Vec<FieldError>) {
    for field in [
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
    ] {
        if let Some(v) = spec[field].as_i64()
            && v < 0
        {
            errors.push(FieldError::invalid(
                format!("{path}.{field}"),
                &spec[field],
                "must be greater than or equal to 0",
            ));
        }
    }
    let restart = &spec["template"]["spec"]["restartPolicy"];
    if !matches!(restart.as_str(), Some("OnFailure" | "Never")) {
        errors.push(FieldError::not_supported(
            format!("{path}.template.spec.restartPolicy"),
            restart,
            &["OnFailure", "Never"],
        ));
    }
    if spec["completionMode"] == "Indexed" && spec["completions"].is_null() {
        errors.push(FieldError::required(format!("{path}.completions")));
    }
    let selector = spec.get("selector").filter(|s| !s.is_null());
    validate_template(
        &spec["template"],
        selector,
        &format!("{path}.template"),
        errors,
    );
}

pub fn validate_cronjob(obj: &Value, errors: &mut Vec<FieldError>) {
    let spec = &obj["spec"];
    match spec["schedule"].as_str() {
        None | Some("") => errors.push(FieldError::required("spec.schedule")),
        Some(schedule) => {
            let fields = schedule.split_whitespace().count();
            let macro_ok = schedule.starts_with('@');
            if !macro_ok && fields != 5 {
                errors.push(FieldError::invalid(
                    "spec.schedule",
                    &spec["schedule"],
                    &format!("expected exactly 5 fields, found {fields}: {schedule}"),
                ));
            }
        }
    }
    if let Some(policy) = spec["concurrencyPolicy"].as_str()
        && !["Allow", "Forbid", "Replace"].contains(&policy)
    {
        errors.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            &spec["concurrencyPolicy"],
            &["Allow", "Forbid", "Replace"],
        ));
    }
    let job = &spec["jobTemplate"]["spec"];
    let restart = &job["template"]["spec"]["restartPolicy"];
    if !matches!(restart.as_str(), Some("OnFailure" | "Never")) {
        errors.push(FieldError::not_supported(
            "spec.jobTemplate.spec.template.spec.restartPolicy",
            restart,
            &["OnFailure", "Never"],
        ));
    }
    validate_pod_spec(
        &job["template"]["spec"],
        "spec.jobTemplate.spec.template.spec",
        errors,
    );
}

const SERVICE_TYPES: &[&str] = &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];

pub fn validate_service(obj: &Value, errors: &mut Vec<FieldError>) {
    let spec = &obj["spec"];
    let service_type = spec["type"].as_str().unwrap_or("ClusterIP");
    if !SERVICE_TYPES.contains(&service_type) {
        errors.push(FieldError::not_supported(
            "spec.type",
            &spec["type"],
            SERVICE_TYPES,
        ));
    }
    let ports = spec["ports"].as_array();
    let headless = spec["clusterIP"] == "None";
    if service_type != "ExternalName" && !headless && ports.is_none_or(Vec::is_empty) {
        errors.push(FieldError::required("spec.ports"));
    }
    if service_type == "ExternalName"
        && spec["externalName"]
            .as_str()
            .is_none_or(|n| !is_dns1123_subdomain(n))
    {
        errors.push(FieldError::required("spec.externalName"));
    }
    let multiple = ports.is_some_and(|p| p.len() > 1);
    let mut names = std::collections::HashSet::new();
    for (i, port) in ports.into_iter().flatten().enumerate() {
        let field = format!("spec.ports[{i}]");
        match port["port"].as_i64() {
            Some(p) if (1..=65535).contains(&p) => {}
            Some(_) => errors.push(FieldError::invalid(
                format!("{field}.port"),
                &port["port"],
                "must be between 1 and 65535, inclusive",
            )),
            None => errors.push(FieldError::required(format!("{field}.port"))),
        }
        match port["name"].as_str() {
            None | Some("") if multiple => {
                errors.push(FieldError::required(format!("{field}.name")))
            }
            Some(name) if !names.insert(name.to_string()) => errors.push(FieldError::duplicate(
                format!("{field}.name"),
                &port["name"],
            )),
            _ => {}
        }
        if let Some(node_port) = port["nodePort"].as_i64()
            && service_type == "ClusterIP"
            && node_port != 0
        {
            errors.push(FieldError::forbidden(
                format!("{field}.nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
    }
}

/// ConfigMap and Secret keys, and their size limit (1 MiB).
pub fn validate_config_data(obj: &Value, errors: &mut Vec<FieldError>) {
    let mut total = 0usize;
    for field in ["data", "binaryData"] {
        for (key, value) in obj[field].as_object().into_iter().flatten() {
            total += value.as_str().map(str::len).unwrap_or(0);
            let valid = !key.is_empty()
                && key.len() <= 253
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && key != "."
                && key != "..";
            if !valid {
                errors.push(FieldError::invalid(
                    format!("{field}[{key}]"),
                    &Value::String(key.clone()),
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                ));
            }
        }
    }
    if total > 1024 * 1024 {
        errors.push(FieldError {
            field: String::new(),
            reason: "FieldValueTooLong",
            message: "Too long: must have at most 1048576 bytes".into(),
        });
    }
}

pub fn validate_crd(obj: &Value, old: Option<&Value>, errors: &mut Vec<FieldError>) {
    let spec = &obj["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    if group.is_empty() {
        errors.push(FieldError::required("spec.group"));
    } else if !group.contains('.') || !is_dns1123_subdomain(group) {
        errors.push(FieldError::invalid(
            "spec.group",
            &spec["group"],
            "should be a domain with at least one dot",
        ));
    }
    if plural.is_empty() {
        errors.push(FieldError::required("spec.names.plural"));
    }
    if spec["names"]["kind"].as_str().is_none_or(str::is_empty) {
        errors.push(FieldError::required("spec.names.kind"));
    }
    let expected = format!("{plural}.{group}");
    if obj["metadata"]["name"].as_str() != Some(expected.as_str()) {
        errors.push(FieldError::invalid(
            "metadata.name",
            &obj["metadata"]["name"],
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if !matches!(spec["scope"].as_str(), Some("Namespaced" | "Cluster")) {
        errors.push(FieldError::not_supported(
            "spec.scope",
            &spec["scope"],
            &["Cluster", "Namespaced"],
        ));
    }
    let versions = spec["versions"].as_array();
    if versions.is_none_or(Vec::is_empty) {
        errors.push(FieldError::required("spec.versions"));
    }
    let storage = versions
        .into_iter()
        .flatten()
        .filter(|v| v["storage"] == true)
        .count();
    if versions.is_some_and(|v| !v.is_empty()) && storage != 1 {
        errors.push(FieldError::invalid(
            "spec.versions",
            &Value::from(storage),
            "must have exactly one version marked as storage version",
        ));
    }
    if let Some(old) = old {
        if old["spec"]["group"] != spec["group"] {
            errors.push(FieldError::invalid(
                "spec.group",
                &spec["group"],
                "field is immutable",
            ));
        }
        if old["spec"]["names"]["plural"] != spec["names"]["plural"] {
            errors.push(FieldError::invalid(
                "spec.names.plural",
                &spec["names"]["plural"],
                "field is immutable",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_selector_must_match_template() {
        let d = json!({"spec": {"selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let mut errors = Vec::new();
        validate_workload("Deployment", &d, None, &mut errors);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.template.metadata.labels");
    }

    #[test]
    fn service_needs_ports() {
        let mut errors = Vec::new();
        validate_service(&json!({"spec": {"type": "ClusterIP"}}), &mut errors);
        assert_eq!(errors[0].field, "spec.ports");
    }

    #[test]
    fn crd_name_must_be_plural_dot_group() {
        let crd = json!({"metadata": {"name": "wrong"}, "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"}, "versions": [{"name": "v1", "storage": true}]}});
        let mut errors = Vec::new();
        validate_crd(&crd, None, &mut errors);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "metadata.name");
    }
}
