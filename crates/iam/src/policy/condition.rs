//! Condition blocks. Only operators and keys Keelson can evaluate are accepted; anything else is
//! refused when the policy is written, never silently ignored when it is evaluated.

use serde_json::{Map, Value};

use super::eval::{RequestContext, wildcard_match};

/// The condition keys Keelson knows a value for (lower case, as IAM compares key names).
pub const CONDITION_KEYS: &[&str] = &[
    "aws:username",
    "aws:userid",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:securetransport",
    "aws:requestedregion",
    "sts:rolesessionname",
    "sts:externalid",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Bool,
    Null,
}

impl Operator {
    fn parse(name: &str) -> Option<Operator> {
        Some(match name {
            "StringEquals" => Operator::StringEquals,
            "StringNotEquals" => Operator::StringNotEquals,
            "StringEqualsIgnoreCase" => Operator::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Operator::StringNotEqualsIgnoreCase,
            "StringLike" => Operator::StringLike,
            "StringNotLike" => Operator::StringNotLike,
            "ArnEquals" => Operator::ArnEquals,
            "ArnLike" => Operator::ArnLike,
            "ArnNotEquals" => Operator::ArnNotEquals,
            "ArnNotLike" => Operator::ArnNotLike,
            "Bool" => Operator::Bool,
            "Null" => Operator::Null,
            _ => return None,
        })
    }

    fn negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::ArnNotEquals
                | Operator::ArnNotLike
        )
    }
}

/// One operator applied to one key: true when the request's value matches any listed value.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    operator: Operator,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

impl Condition {
    pub fn parse_block(operators: &Map<String, Value>) -> Result<Vec<Condition>, String> {
        let mut conditions = Vec::new();
        for (name, keys) in operators {
            let (base, if_exists) = match name.strip_suffix("IfExists") {
                Some(base) if base != "Null" => (base, true),
                _ => (name.as_str(), false),
            };
            let operator = Operator::parse(base)
                .ok_or_else(|| format!("Condition operator {name} is not supported by Keelson."))?;
            let Value::Object(keys) = keys else {
                return Err(format!(
                    "Syntax errors in policy: {name} must map keys to values."
                ));
            };
            for (key, values) in keys {
                let lower = key.to_ascii_lowercase();
                if !CONDITION_KEYS.contains(&lower.as_str()) {
                    return Err(format!(
                        "Condition key {key} is not supported by Keelson (supported: {}).",
                        CONDITION_KEYS.join(", ")
                    ));
                }
                let values = condition_values(values)
                    .ok_or_else(|| format!("Syntax errors in policy: bad values for {key}."))?;
                if matches!(operator, Operator::Bool | Operator::Null)
                    && values.iter().any(|v| v != "true" && v != "false")
                {
                    return Err(format!("{name} needs true or false for {key}."));
                }
                conditions.push(Condition {
                    operator,
                    if_exists,
                    key: lower,
                    values,
                });
            }
        }
        Ok(conditions)
    }

    pub fn matches(&self, context: &RequestContext) -> bool {
        let actual = context.value(&self.key);
        if self.operator == Operator::Null {
            let want_absent = self.values.iter().any(|v| v == "true");
            return actual.is_none() == want_absent;
        }
        let Some(actual) = actual else {
            // A missing key satisfies `…IfExists` and the negated operators, as IAM evaluates.
            return self.if_exists || self.operator.negated();
        };
        let any = self.values.iter().any(|expected| match self.operator {
            Operator::StringEquals
            | Operator::StringNotEquals
            | Operator::ArnEquals
            | Operator::ArnNotEquals => expected == actual,
            Operator::StringEqualsIgnoreCase | Operator::StringNotEqualsIgnoreCase => {
                expected.eq_ignore_ascii_case(actual)
            }
            Operator::StringLike
            | Operator::StringNotLike
            | Operator::ArnLike
            | Operator::ArnNotLike => wildcard_match(expected, actual, false),
            Operator::Bool => expected.eq_ignore_ascii_case(actual),
            Operator::Null => unreachable!("handled above"),
        });
        any != self.operator.negated()
    }
}

fn condition_values(value: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        Value::Array(_) => None,
        other => one(other).map(|v| vec![v]),
    }
}
