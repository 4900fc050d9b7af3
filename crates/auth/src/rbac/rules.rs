//! RBAC PolicyRules and upstream's matching rules for them.

use serde_json::{Value, json};

/// One PolicyRule, parsed from JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn has(list: &[String], wanted: &str) -> bool {
    list.iter().any(|item| item == "*" || item == wanted)
}

impl Rule {
    pub fn from_json(rule: &Value) -> Rule {
        Rule {
            verbs: strings(&rule["verbs"]),
            api_groups: strings(&rule["apiGroups"]),
            resources: strings(&rule["resources"]),
            resource_names: strings(&rule["resourceNames"]),
            non_resource_urls: strings(&rule["nonResourceURLs"]),
        }
    }

    /// The rules in a Role/ClusterRole object.
    pub fn all_from(role: &Value) -> Vec<Rule> {
        role["rules"]
            .as_array()
            .map(|rules| rules.iter().map(Rule::from_json).collect())
            .unwrap_or_default()
    }

    /// Upstream's `ResourceMatches`: `*`, the combined `resource/subresource`, or
    /// `*/subresource` for any resource's subresource.
    fn matches_resource(&self, resource: &str, subresource: &str) -> bool {
        if subresource.is_empty() {
            return has(&self.resources, resource);
        }
        let combined = format!("{resource}/{subresource}");
        let any_parent = format!("*/{subresource}");
        self.resources
            .iter()
            .any(|r| r == "*" || *r == combined || *r == any_parent)
    }

    /// Whether this rule allows a resource request. An empty `resourceNames` allows every
    /// name; a non-empty one allows only requests that name one of them.
    pub fn allows_resource(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
        subresource: &str,
        name: &str,
    ) -> bool {
        has(&self.verbs, verb)
            && has(&self.api_groups, group)
            && self.matches_resource(resource, subresource)
            && (self.resource_names.is_empty() || self.resource_names.iter().any(|n| n == name))
    }

    /// Whether this rule allows a non-resource request: an exact URL, `*`, or a trailing `*`
    /// prefix match.
    pub fn allows_non_resource(&self, verb: &str, path: &str) -> bool {
        has(&self.verbs, verb)
            && self
                .non_resource_urls
                .iter()
                .any(|url| match url.strip_suffix('*') {
                    Some(prefix) => path.starts_with(prefix),
                    None => url == path,
                })
    }

    /// SelfSubjectRulesReview's ResourceRule, if this is a resource rule.
    pub fn resource_rule_json(&self) -> Option<Value> {
        (!self.resources.is_empty()).then(|| {
            let mut rule = json!({"verbs": self.verbs, "apiGroups": self.api_groups, "resources": self.resources});
            if !self.resource_names.is_empty() {
                rule["resourceNames"] = json!(self.resource_names);
            }
            rule
        })
    }

    /// SelfSubjectRulesReview's NonResourceRule, if this is a non-resource rule.
    pub fn non_resource_rule_json(&self) -> Option<Value> {
        (!self.non_resource_urls.is_empty())
            .then(|| json!({"verbs": self.verbs, "nonResourceURLs": self.non_resource_urls}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(v: Value) -> Rule {
        Rule::from_json(&v)
    }

    #[test]
    fn wildcards_and_subresources() {
        let r = rule(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
        assert!(r.allows_resource("delete", "apps", "deployments", "scale", "x"));
        let r = rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}));
        assert!(r.allows_resource("get", "", "pods", "", ""));
        assert!(!r.allows_resource("get", "", "pods", "log", ""));
        assert!(!r.allows_resource("list", "", "pods", "", ""));
        assert!(!r.allows_resource("get", "apps", "pods", "", ""));
        let r = rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["*/status"]}));
        assert!(r.allows_resource("get", "", "pods", "status", ""));
        assert!(!r.allows_resource("get", "", "pods", "", ""));
        let r = rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}));
        assert!(r.allows_resource("get", "", "pods", "log", ""));
    }

    #[test]
    fn resource_names_restrict() {
        let r = rule(
            json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]}),
        );
        assert!(r.allows_resource("get", "", "configmaps", "", "a"));
        assert!(!r.allows_resource("get", "", "configmaps", "", "b"));
        assert!(!r.allows_resource("list", "", "configmaps", "", ""));
    }

    #[test]
    fn non_resource_urls() {
        let r = rule(json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*"]}));
        assert!(r.allows_non_resource("get", "/healthz"));
        assert!(!r.allows_non_resource("get", "/healthz/etcd"));
        assert!(r.allows_non_resource("get", "/apis/apps/v1"));
        assert!(!r.allows_non_resource("post", "/healthz"));
        assert!(!r.allows_resource("get", "", "pods", "", ""));
    }
}
