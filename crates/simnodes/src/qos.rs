//! The pod's quality-of-service class, as upstream computes it from requests and limits.

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use keelson_api_types::quantity::{is_milli_resource, parse_scaled};

const COMPUTE: [&str; 2] = ["cpu", "memory"];

/// The amount in the resource's exact unit (millicores, bytes); None when unparsable.
fn amount(resource: &str, q: &Quantity) -> Option<i64> {
    let scale = if is_milli_resource(resource) { 3 } else { 0 };
    parse_scaled(&q.0, scale)
}

/// BestEffort without any cpu/memory request or limit; Guaranteed when every container limits
/// both and its requests (when given) equal the limits; Burstable otherwise.
pub fn class(spec: &PodSpec) -> &'static str {
    let containers: Vec<&Container> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let resources = c.resources.clone().unwrap_or_default();
        let requests = resources.requests.unwrap_or_default();
        let limits = resources.limits.unwrap_or_default();
        for name in COMPUTE {
            let nonzero = |q| amount(name, q).filter(|v| *v != 0);
            let request = requests.get(name).and_then(nonzero);
            let limit = limits.get(name).and_then(nonzero);
            any |= request.is_some() || limit.is_some();
            match (request, limit) {
                (_, None) => guaranteed = false,
                (Some(r), Some(l)) if r != l => guaranteed = false,
                _ => {}
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(resources: serde_json::Value) -> PodSpec {
        serde_json::from_value(
            json!({"containers": [{"name": "c", "image": "i", "resources": resources}]}),
        )
        .unwrap()
    }

    #[test]
    fn classes() {
        assert_eq!(class(&spec(json!({}))), "BestEffort");
        assert_eq!(
            class(&spec(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
        assert_eq!(
            class(&spec(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            class(&spec(json!({"requests": {"cpu": "1000m", "memory": "1Gi"},
                               "limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            class(&spec(json!({"requests": {"cpu": "500m", "memory": "1Gi"},
                               "limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Burstable"
        );
    }
}
