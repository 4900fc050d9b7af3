//! Label selectors as upstream's `labels.Selector`: `matchLabels` and `matchExpressions`
//! (In, NotIn, Exists, DoesNotExist), and the plain map form of ReplicationControllers.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    /// An operator upstream rejects; such a selector matches nothing.
    Invalid,
}

/// A parsed selector. `None` (a missing selector) matches nothing; an empty one matches
/// everything, as upstream's `LabelSelectorAsSelector`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    requirements: Option<Vec<Requirement>>,
}

impl Selector {
    pub fn nothing() -> Self {
        Selector { requirements: None }
    }

    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Self {
        let Some(selector) = selector else {
            return Self::nothing();
        };
        let mut requirements: Vec<Requirement> = selector
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| Requirement::Equals(k.clone(), v.clone()))
            .collect();
        for expr in selector.match_expressions.iter().flatten() {
            let values = expr.values.clone().unwrap_or_default();
            requirements.push(match expr.operator.as_str() {
                "In" => Requirement::In(expr.key.clone(), values),
                "NotIn" => Requirement::NotIn(expr.key.clone(), values),
                "Exists" => Requirement::Exists(expr.key.clone()),
                "DoesNotExist" => Requirement::DoesNotExist(expr.key.clone()),
                _ => Requirement::Invalid,
            });
        }
        Selector {
            requirements: Some(requirements),
        }
    }

    /// A ReplicationController's selector: a missing or empty map selects nothing
    /// (upstream defaults it from the template labels, so it is never empty when valid).
    pub fn from_map(selector: Option<&BTreeMap<String, String>>) -> Self {
        match selector {
            Some(map) if !map.is_empty() => Selector {
                requirements: Some(
                    map.iter()
                        .map(|(k, v)| Requirement::Equals(k.clone(), v.clone()))
                        .collect(),
                ),
            },
            _ => Self::nothing(),
        }
    }

    /// Whether this selector selects every object (an empty, present selector).
    pub fn is_everything(&self) -> bool {
        self.requirements.as_ref().is_some_and(Vec::is_empty)
    }

    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let Some(requirements) = &self.requirements else {
            return false;
        };
        let empty = BTreeMap::new();
        let labels = labels.unwrap_or(&empty);
        requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
            Requirement::Invalid => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn match_labels_and_expressions() {
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        let s = Selector::from_label_selector(Some(&selector));
        assert!(s.matches(Some(&labels(&[("app", "web"), ("tier", "a")]))));
        assert!(!s.matches(Some(&labels(&[("app", "web"), ("tier", "c")]))));
        assert!(!s.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "a"),
            ("canary", "")
        ]))));
        assert!(!s.matches(None));
    }

    #[test]
    fn missing_selects_nothing_and_empty_everything() {
        assert!(!Selector::from_label_selector(None).matches(Some(&labels(&[("a", "b")]))));
        let empty = Selector::from_label_selector(Some(&LabelSelector::default()));
        assert!(empty.is_everything());
        assert!(empty.matches(None));
        assert!(!Selector::from_map(Some(&BTreeMap::new())).matches(None));
        assert!(
            Selector::from_map(Some(&labels(&[("a", "b")])))
                .matches(Some(&labels(&[("a", "b"), ("c", "d")])))
        );
    }
}
