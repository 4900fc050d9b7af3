//! ClusterRole aggregation: a ClusterRole with an `aggregationRule` also holds the rules of
//! every ClusterRole whose labels match one of its selectors. Upstream's controller writes the
//! union into the object; resolving it here too means a freshly created aggregated role works
//! before (or without) that write.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::rules::Rule;

/// A label selector (`matchLabels` and `matchExpressions`).
fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let match_labels_ok = selector["matchLabels"].as_object().is_none_or(|wanted| {
        wanted.iter().all(|(k, v)| {
            v.as_str()
                .is_some_and(|v| labels.get(k).is_some_and(|have| have == v))
        })
    });
    let expressions_ok = selector["matchExpressions"].as_array().is_none_or(|exprs| {
        exprs.iter().all(|expr| {
            let key = expr["key"].as_str().unwrap_or_default();
            let values: Vec<&str> = expr["values"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let have = labels.get(key).map(String::as_str);
            match expr["operator"].as_str().unwrap_or_default() {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => have.is_none_or(|h| !values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                // An unknown operator selects nothing rather than everything.
                _ => false,
            }
        })
    });
    match_labels_ok && expressions_ok
}

struct Role {
    labels: BTreeMap<String, String>,
    selectors: Option<Vec<Value>>,
    rules: Vec<Rule>,
}

fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Every ClusterRole's effective rules by name, aggregation applied transitively (admin
/// aggregates edit, which aggregates view).
pub fn resolve(cluster_roles: &[Value]) -> HashMap<String, Arc<[Rule]>> {
    let mut roles: BTreeMap<String, Role> = BTreeMap::new();
    for object in cluster_roles {
        let Some(name) = object["metadata"]["name"].as_str() else {
            continue;
        };
        roles.insert(
            name.to_string(),
            Role {
                labels: labels_of(object),
                selectors: object["aggregationRule"]["clusterRoleSelectors"]
                    .as_array()
                    .cloned(),
                rules: Rule::all_from(object),
            },
        );
    }
    let mut resolved: HashMap<String, Arc<[Rule]>> = HashMap::new();
    for name in roles.keys() {
        let mut visiting = Vec::new();
        resolve_one(name, &roles, &mut resolved, &mut visiting);
    }
    resolved
}

fn resolve_one(
    name: &str,
    roles: &BTreeMap<String, Role>,
    resolved: &mut HashMap<String, Arc<[Rule]>>,
    visiting: &mut Vec<String>,
) -> Arc<[Rule]> {
    if let Some(rules) = resolved.get(name) {
        return rules.clone();
    }
    let Some(role) = roles.get(name) else {
        return Arc::from(Vec::new());
    };
    let mut rules = role.rules.clone();
    if let Some(selectors) = &role.selectors {
        visiting.push(name.to_string());
        for (other, candidate) in roles {
            // A cycle contributes only the rules already known; it cannot recurse forever.
            if visiting.iter().any(|v| v == other) {
                continue;
            }
            if selectors
                .iter()
                .any(|s| selector_matches(s, &candidate.labels))
            {
                for rule in resolve_one(other, roles, resolved, visiting).iter() {
                    if !rules.contains(rule) {
                        rules.push(rule.clone());
                    }
                }
            }
        }
        visiting.pop();
    }
    let rules: Arc<[Rule]> = Arc::from(rules);
    // Only memoise outside a cycle walk, where the result is complete.
    if visiting.is_empty() || role.selectors.is_none() {
        resolved.insert(name.to_string(), rules.clone());
    }
    rules
}
