//! Label selectors (upstream `k8s.io/apimachinery/pkg/labels`): requirements, matching,
//! the canonical string form and conversion from `metav1.LabelSelector`.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::SelectorError;
use super::validation::{aggregate, go_quote, invalid, label_key_errors, label_value_errors};

/// A requirement's operator (upstream's `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=`
    Equals,
    /// `==`
    DoubleEquals,
    /// `!=`
    NotEquals,
    /// `in (...)`
    In,
    /// `notin (...)`
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>N`
    GreaterThan,
    /// `key<N`
    LessThan,
}

/// One `key op values` term of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

/// Renders a value list as Go's `json.Marshal` of a `[]string` (nil prints `null`).
fn json_list(values: Option<&[String]>) -> String {
    match values {
        None => "null".to_string(),
        Some(values) => serde_json::to_string(values).unwrap_or_default(),
    }
}

impl Requirement {
    /// Upstream's `NewRequirement`: validates the key, the value count for the operator,
    /// and each value. `path` prefixes field paths in messages (`""` for none).
    /// `values` is `None` for a Go nil slice (only matters for message text).
    pub(crate) fn new(
        key: &str,
        operator: Operator,
        values: Option<Vec<String>>,
    ) -> Result<Requirement, SelectorError> {
        let mut errs = Vec::new();
        let key_errs = label_key_errors(key);
        if !key_errs.is_empty() {
            errs.push(invalid("key", &go_quote(key), &key_errs.join("; ")));
        }
        let list = values.as_deref();
        let count = list.map_or(0, <[String]>::len);
        let rendered = json_list(list);
        match operator {
            Operator::In | Operator::NotIn if count == 0 => errs.push(invalid(
                "values",
                &rendered,
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if count != 1 => errs
                .push(invalid(
                    "values",
                    &rendered,
                    "exact-match compatibility requires one single value",
                )),
            Operator::Exists | Operator::DoesNotExist if count != 0 => errs.push(invalid(
                "values",
                &rendered,
                "values set must be empty for exists and does not exist",
            )),
            Operator::GreaterThan | Operator::LessThan => {
                if count != 1 {
                    errs.push(invalid(
                        "values",
                        &rendered,
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, value) in list.unwrap_or_default().iter().enumerate() {
                    if value.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("values[{i}]"),
                            &go_quote(value),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, value) in list.unwrap_or_default().iter().enumerate() {
            let value_errs = label_value_errors(value);
            if !value_errs.is_empty() {
                errs.push(invalid(
                    &format!("values[{i}][{key}]"),
                    &go_quote(value),
                    &value_errs.join("; "),
                ));
            }
        }
        match aggregate(errs) {
            Some(message) => Err(SelectorError::InvalidLabelSelector(message)),
            None => Ok(Requirement {
                key: key.to_string(),
                operator,
                values: values.unwrap_or_default(),
            }),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values as given (the parser gives them sorted and deduplicated).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.iter().any(|v| v == value)
    }

    /// Upstream's `Requirement.Matches`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let found = labels.get(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                found.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => found.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => found.is_some(),
            Operator::DoesNotExist => found.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(actual)) = found.map(|v| v.parse::<i64>()) else {
                    return false;
                };
                let [wanted] = self.values.as_slice() else {
                    return false;
                };
                let Ok(wanted) = wanted.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Upstream's `Requirement.String`: values are printed sorted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        let mut sorted: Vec<&str> = self.values.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        f.write_str(&sorted.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector: the AND of its requirements, sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// Upstream's `labels.Nothing()` (a nil `metav1.LabelSelector`): matches no object.
    nothing: bool,
}

impl LabelSelector {
    /// Matches every object.
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// Matches no object (what a missing `metav1.LabelSelector` means).
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Upstream's `SelectorFromSet`: `key=value` for each entry, without validation
    /// (e.g. a Service's or ReplicationController's `spec.selector` map).
    pub fn from_set(labels: &BTreeMap<String, String>) -> Self {
        let requirements = labels
            .iter()
            .map(|(key, value)| Requirement {
                key: key.clone(),
                operator: Operator::Equals,
                values: vec![value.clone()],
            })
            .collect();
        LabelSelector::from_requirements(requirements)
    }

    /// Parses the string form (`a=b,c in (x,y),!d`); `""` selects everything.
    pub fn parse(selector: &str) -> Result<LabelSelector, SelectorError> {
        let requirements = super::parse::parse(selector)?;
        Ok(LabelSelector::from_requirements(requirements))
    }

    /// Sorted by key like upstream (stably, so equal keys keep their order).
    pub(crate) fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements,
            nothing: false,
        }
    }

    /// Upstream's `metav1.LabelSelectorAsSelector` of a `metav1.LabelSelector` in JSON:
    /// `null` selects nothing, `{}` selects everything.
    pub fn from_metav1(selector: &Value) -> Result<LabelSelector, SelectorError> {
        super::metav1::from_metav1(selector)
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether the selector places no restriction (upstream's `Empty()`).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether the selector can match nothing at all (built from a null selector).
    pub fn matches_nothing(&self) -> bool {
        self.nothing
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}
