//! `metav1.LabelSelector` (JSON) to [`LabelSelector`], as upstream's
//! `LabelSelectorAsSelector`.

use serde_json::Value;

use super::SelectorError;
use super::label::{LabelSelector, Operator, Requirement};

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's decoding error for a wrongly typed field.
fn type_error(value: &Value, field: &str, go_type: &str) -> SelectorError {
    SelectorError::InvalidLabelSelector(format!(
        "json: cannot unmarshal {} into Go struct field {field} of type {go_type}",
        json_type(value)
    ))
}

fn string_field<'v>(
    object: &'v serde_json::Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<&'v str, SelectorError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(type_error(other, field, "string")),
    }
}

fn operator(name: &str) -> Result<Operator, SelectorError> {
    Ok(match name {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => {
            return Err(SelectorError::InvalidLabelSelector(format!(
                "{} is not a valid label selector operator",
                super::validation::go_quote(other)
            )));
        }
    })
}

fn expression(item: &Value) -> Result<Requirement, SelectorError> {
    const FIELD: &str = "LabelSelector.matchExpressions";
    let object = match item {
        Value::Object(object) => object,
        // A null list item decodes as the zero requirement, whose "" operator is invalid.
        Value::Null => return Err(operator("").unwrap_err()),
        other => return Err(type_error(other, FIELD, "v1.LabelSelectorRequirement")),
    };
    let key = string_field(
        object,
        "key",
        "LabelSelectorRequirement.matchExpressions.key",
    )?;
    let op = string_field(
        object,
        "operator",
        "LabelSelectorRequirement.matchExpressions.operator",
    )?;
    let values = match object.get("values") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Null => Ok(String::new()),
                    other => Err(type_error(
                        other,
                        "LabelSelectorRequirement.matchExpressions.values",
                        "string",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => Err(type_error(
            other,
            "LabelSelectorRequirement.matchExpressions.values",
            "[]string",
        ))?,
    };
    // Upstream copies the values with `append([]string(nil), ...)`: an empty list
    // becomes nil, which its messages print as `null`.
    let values = values.filter(|v| !v.is_empty());
    Requirement::new(key, operator(op)?, values)
}

pub(crate) fn from_metav1(selector: &Value) -> Result<LabelSelector, SelectorError> {
    let object = match selector {
        Value::Null => return Ok(LabelSelector::nothing()),
        Value::Object(object) => object,
        other => {
            return Err(SelectorError::InvalidLabelSelector(format!(
                "json: cannot unmarshal {} into Go value of type v1.LabelSelector",
                json_type(other)
            )));
        }
    };
    let mut requirements = Vec::new();
    match object.get("matchLabels") {
        None | Some(Value::Null) => {}
        Some(Value::Object(labels)) => {
            for (key, value) in labels {
                let value = match value {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => {
                        return Err(type_error(other, "LabelSelector.matchLabels", "string"));
                    }
                };
                requirements.push(Requirement::new(key, Operator::Equals, Some(vec![value]))?);
            }
        }
        Some(other) => {
            return Err(type_error(
                other,
                "LabelSelector.matchLabels",
                "map[string]string",
            ));
        }
    }
    match object.get("matchExpressions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                requirements.push(expression(item)?);
            }
        }
        Some(other) => {
            return Err(type_error(
                other,
                "LabelSelector.matchExpressions",
                "[]v1.LabelSelectorRequirement",
            ));
        }
    }
    Ok(LabelSelector::from_requirements(requirements))
}
