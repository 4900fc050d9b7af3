//! Label selectors (pods, namespaces) and node selector terms (node affinity), matched against
//! plain label maps.

use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

impl Operator {
    pub fn parse(text: &str) -> Option<Operator> {
        Some(match text {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            "Gt" => Operator::Gt,
            "Lt" => Operator::Lt,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

impl Requirement {
    pub fn equals(key: &str, value: &str) -> Requirement {
        Requirement {
            key: key.into(),
            operator: Operator::In,
            values: vec![value.into()],
        }
    }

    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match (self.operator, value) {
            (Operator::In, Some(v)) => self.values.iter().any(|x| x == v),
            (Operator::In, None) => false,
            (Operator::NotIn, Some(v)) => !self.values.iter().any(|x| x == v),
            (Operator::NotIn, None) => true,
            (Operator::Exists, v) => v.is_some(),
            (Operator::DoesNotExist, v) => v.is_none(),
            (Operator::Gt | Operator::Lt, None) => false,
            (op, Some(v)) => {
                let (Ok(have), Some(Ok(want))) = (
                    v.parse::<i64>(),
                    self.values.first().map(|w| w.parse::<i64>()),
                ) else {
                    return false;
                };
                if op == Operator::Gt {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.key).map(String::as_str))
    }
}

/// A label selector: all requirements must hold; no requirement matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

impl Selector {
    pub fn from_map(map: &Labels) -> Selector {
        Selector {
            requirements: map.iter().map(|(k, v)| Requirement::equals(k, v)).collect(),
        }
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

/// One term of a node selector: label expressions and field expressions (metadata.name), all of
/// which must hold. A term with neither matches no node, as upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    pub expressions: Vec<Requirement>,
    pub fields: Vec<Requirement>,
}

impl NodeSelectorTerm {
    pub fn matches(&self, name: &str, labels: &Labels) -> bool {
        if self.expressions.is_empty() && self.fields.is_empty() {
            return false;
        }
        self.expressions.iter().all(|r| r.matches(labels))
            && self.fields.iter().all(|r| {
                r.key == "metadata.name"
                    && matches!(r.operator, Operator::In | Operator::NotIn)
                    && r.matches_value(Some(name))
            })
    }
}

/// Required node affinity: any term may match.
pub fn any_term_matches(terms: &[NodeSelectorTerm], name: &str, labels: &Labels) -> bool {
    terms.iter().any(|t| t.matches(name, labels))
}

#[cfg(test)]
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: &str, op: Operator, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator: op,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn operators() {
        let l = labels(&[("zone", "a"), ("gpus", "4")]);
        assert!(req("zone", Operator::In, &["a", "b"]).matches(&l));
        assert!(!req("zone", Operator::NotIn, &["a"]).matches(&l));
        assert!(req("rack", Operator::NotIn, &["a"]).matches(&l));
        assert!(req("zone", Operator::Exists, &[]).matches(&l));
        assert!(req("rack", Operator::DoesNotExist, &[]).matches(&l));
        assert!(req("gpus", Operator::Gt, &["3"]).matches(&l));
        assert!(!req("gpus", Operator::Lt, &["3"]).matches(&l));
        assert!(!req("zone", Operator::Gt, &["3"]).matches(&l));
    }

    #[test]
    fn empty_selector_matches_all_but_empty_term_matches_none() {
        assert!(Selector::default().matches(&labels(&[("a", "b")])));
        assert!(!NodeSelectorTerm::default().matches("n1", &Labels::new()));
    }

    #[test]
    fn match_fields_on_node_name() {
        let term = NodeSelectorTerm {
            expressions: vec![],
            fields: vec![req("metadata.name", Operator::In, &["n1"])],
        };
        assert!(term.matches("n1", &Labels::new()));
        assert!(!term.matches("n2", &Labels::new()));
    }
}
