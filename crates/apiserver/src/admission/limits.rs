//! Upstream's LimitRanger admission plugin for pods: fill in the namespace's default requests
//! and limits, then enforce its minimums, maximums and limit/request ratios per container and
//! per pod.

use std::collections::BTreeMap;

use keelson_api_types::quantity::{format_milli, format_value, is_milli_resource, parse_scaled};
use serde_json::{Map, Value, json};

use crate::handler::Ctx;
use crate::object::storage_prefix;
use crate::status::ApiError;

/// A quantity in the unit we compare it in (millis for cpu, whole units otherwise).
fn amount(resource: &str, value: &Value) -> Option<i64> {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    parse_scaled(&text, if is_milli_resource(resource) { 3 } else { 0 })
}

fn render(resource: &str, amount: i64) -> String {
    if is_milli_resource(resource) {
        format_milli(amount)
    } else {
        format_value(amount)
    }
}

/// The Container-type item with upstream's LimitRange defaulting applied: `default` falls back
/// to `max`, `defaultRequest` to `default`, then to `min`.
fn container_defaults(item: &Value) -> (Map<String, Value>, Map<String, Value>) {
    let object = |field: &str| item[field].as_object().cloned().unwrap_or_default();
    let mut default = object("default");
    for (k, v) in object("max") {
        default.entry(k).or_insert(v);
    }
    let mut default_request = object("defaultRequest");
    for (k, v) in default.iter().chain(object("min").iter()) {
        default_request.entry(k.clone()).or_insert(v.clone());
    }
    (default, default_request)
}

pub fn admit_pod(ctx: &Ctx, pod: &mut Value) -> Result<(), ApiError> {
    let namespace = ctx.namespace().unwrap_or("default");
    let prefix = storage_prefix("", "limitranges", Some(namespace));
    let (ranges, _) = ctx.server.cache.list("", "limitranges", &prefix);
    if ranges.is_empty() {
        return Ok(());
    }
    let mut items = Vec::new();
    for range in ranges {
        let range = range.value()?;
        items.extend(
            range["spec"]["limits"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }
    let mut set_notes = Vec::new();
    for item in items.iter().filter(|i| i["type"] == "Container") {
        let (default, default_request) = container_defaults(item);
        for list in ["initContainers", "containers"] {
            for container in pod["spec"][list].as_array_mut().into_iter().flatten() {
                let name = container["name"].as_str().unwrap_or_default().to_string();
                let resources = &mut container["resources"];
                let mut requested = Vec::new();
                let mut limited = Vec::new();
                fill(resources, "limits", &default, &mut limited);
                fill(resources, "requests", &default_request, &mut requested);
                if !requested.is_empty() {
                    set_notes.push(format!(
                        "{} request for container {name}",
                        requested.join(", ")
                    ));
                }
                if !limited.is_empty() {
                    set_notes.push(format!("{} limit for container {name}", limited.join(", ")));
                }
            }
        }
    }
    if !set_notes.is_empty() {
        pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] =
            json!(format!("LimitRanger plugin set: {}", set_notes.join("; ")));
    }
    let mut violations = Vec::new();
    for item in &items {
        match item["type"].as_str() {
            Some("Container") => {
                for list in ["initContainers", "containers"] {
                    for container in pod["spec"][list].as_array().into_iter().flatten() {
                        check(item, "Container", &container["resources"], &mut violations);
                    }
                }
            }
            Some("Pod") => check(item, "Pod", &pod_totals(pod), &mut violations),
            _ => {}
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(super::forbidden(
            ctx,
            pod,
            format!("[{}]", violations.join(", ")),
        ))
    }
}

fn fill(
    resources: &mut Value,
    field: &str,
    defaults: &Map<String, Value>,
    noted: &mut Vec<String>,
) {
    for (resource, value) in defaults {
        if resources[field].get(resource).is_none() {
            resources[field][resource] = value.clone();
            noted.push(resource.clone());
        }
    }
}

/// A pod's resources as one container's: the sum over its containers.
fn pod_totals(pod: &Value) -> Value {
    let mut totals: BTreeMap<(&str, String), i64> = BTreeMap::new();
    for container in pod["spec"]["containers"].as_array().into_iter().flatten() {
        for field in ["requests", "limits"] {
            for (resource, value) in container["resources"][field]
                .as_object()
                .into_iter()
                .flatten()
            {
                *totals.entry((field, resource.clone())).or_default() +=
                    amount(resource, value).unwrap_or(0);
            }
        }
    }
    let mut out = json!({"requests": {}, "limits": {}});
    for ((field, resource), total) in totals {
        out[field][&resource] = json!(render(&resource, total));
    }
    out
}

/// Upstream's minConstraint/maxConstraint/limitRequestRatioConstraint, with its wording.
fn check(item: &Value, scope: &str, resources: &Value, violations: &mut Vec<String>) {
    let get = |field: &str, resource: &str| {
        resources[field]
            .get(resource)
            .and_then(|v| amount(resource, v))
    };
    for (resource, min) in item["min"].as_object().into_iter().flatten() {
        let Some(min) = amount(resource, min) else {
            continue;
        };
        match get("requests", resource) {
            None => violations.push(format!(
                "minimum {resource} usage per {scope} is {}.  No request is specified",
                render(resource, min)
            )),
            Some(request) if request < min => violations.push(format!(
                "minimum {resource} usage per {scope} is {}, but request is {}",
                render(resource, min),
                render(resource, request)
            )),
            Some(_) => {}
        }
    }
    for (resource, max) in item["max"].as_object().into_iter().flatten() {
        let Some(max) = amount(resource, max) else {
            continue;
        };
        match get("limits", resource) {
            None => violations.push(format!(
                "maximum {resource} usage per {scope} is {}.  No limit is specified",
                render(resource, max)
            )),
            Some(limit) if limit > max => violations.push(format!(
                "maximum {resource} usage per {scope} is {}, but limit is {}",
                render(resource, max),
                render(resource, limit)
            )),
            Some(_) => {}
        }
    }
    for (resource, ratio) in item["maxLimitRequestRatio"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let (Some(limit), Some(request)) = (get("limits", resource), get("requests", resource))
        else {
            continue;
        };
        let Some(ratio_milli) = amount("cpu", ratio) else {
            continue;
        };
        if request > 0 && limit * 1000 > ratio_milli * request {
            violations.push(format!(
                "{resource} max limit to request ratio per {scope} is {}, but provided ratio is {:.6}",
                format_milli(ratio_milli),
                limit as f64 / request as f64
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_upstreams_fallbacks() {
        let item = json!({"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"},
                          "default": {"memory": "256Mi"}});
        let (default, request) = container_defaults(&item);
        assert_eq!(default["cpu"], "2");
        assert_eq!(default["memory"], "256Mi");
        assert_eq!(request["cpu"], "2");
        assert_eq!(request["memory"], "256Mi");
    }

    #[test]
    fn violations_use_upstreams_words() {
        let item = json!({"type": "Container", "max": {"cpu": "500m"}, "min": {"memory": "1Gi"},
                          "maxLimitRequestRatio": {"cpu": "2"}});
        let resources =
            json!({"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "1"}});
        let mut violations = Vec::new();
        check(&item, "Container", &resources, &mut violations);
        assert_eq!(
            violations,
            vec![
                "minimum memory usage per Container is 1Gi, but request is 512Mi",
                "maximum cpu usage per Container is 500m, but limit is 1",
                "cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000",
            ]
        );
    }

    #[test]
    fn pod_totals_sum_containers() {
        let pod = json!({"spec": {"containers": [
            {"resources": {"requests": {"cpu": "250m"}}},
            {"resources": {"requests": {"cpu": "750m", "memory": "1Gi"}}},
        ]}});
        let totals = pod_totals(&pod);
        assert_eq!(totals["requests"]["cpu"], "1");
        assert_eq!(totals["requests"]["memory"], "1Gi");
    }
}
