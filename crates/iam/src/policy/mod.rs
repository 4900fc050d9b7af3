//! IAM policy documents: parsed and validated when written (so an unsupported construct is
//! refused with `MalformedPolicyDocument` instead of being ignored), evaluated as IAM does.

mod condition;
mod eval;

pub use condition::{CONDITION_KEYS, Condition};
pub use eval::{
    Decision, RequestContext, TrustCaller, TrustGrant, evaluate, evaluate_trust, wildcard_match,
};

use serde_json::{Map, Value};

/// Identity policies (attached to users and roles) name resources; trust policies (a role's
/// AssumeRolePolicyDocument) name principals instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    Identity,
    Trust,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action` or `NotAction`, `Resource` or `NotResource`: patterns with `*` and `?`.
#[derive(Clone, Debug, PartialEq)]
pub struct Patterns {
    pub negated: bool,
    pub values: Vec<String>,
}

/// A trust policy's `Principal`: `"*"` or the AWS principals it names (other kinds, such as
/// `Service`, are kept but never match a signed caller here).
#[derive(Clone, Debug, PartialEq)]
pub enum PrincipalSpec {
    Anyone,
    Named { aws: Vec<String> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub effect: Effect,
    pub actions: Patterns,
    /// `None` in trust policies.
    pub resources: Option<Patterns>,
    /// `None` in identity policies.
    pub principal: Option<PrincipalSpec>,
    pub conditions: Vec<Condition>,
}

const MAX_DOCUMENT_LEN: usize = 10_240;

impl PolicyDocument {
    /// Parses and validates a document; the error is the `MalformedPolicyDocument` message.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<PolicyDocument, String> {
        if text.len() > MAX_DOCUMENT_LEN {
            return Err(format!(
                "Cannot exceed quota for PolicySize: {MAX_DOCUMENT_LEN}"
            ));
        }
        let value: Value =
            serde_json::from_str(text).map_err(|_| "Syntax errors in policy.".to_string())?;
        if text.contains("${") {
            // Policy variables would otherwise match literally: a Deny meant for
            // `user/${aws:username}` would silently deny nobody.
            return Err("Policy variables (${...}) are not supported by Keelson.".into());
        }
        let Value::Object(top) = value else {
            return Err("Syntax errors in policy.".into());
        };
        for key in top.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(format!("Syntax errors in policy: unknown field {key}."));
            }
        }
        match top.get("Version") {
            None => {}
            Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
            Some(_) => return Err("The policy must contain a valid version string".into()),
        }
        let statements = match top.get("Statement") {
            Some(Value::Array(items)) if !items.is_empty() => items.iter().collect::<Vec<_>>(),
            Some(item @ Value::Object(_)) => vec![item],
            _ => return Err("Syntax errors in policy: it must contain a Statement.".into()),
        };
        let statements = statements
            .into_iter()
            .map(|s| match s {
                Value::Object(map) => parse_statement(map, kind),
                _ => Err("Syntax errors in policy: a statement must be an object.".into()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PolicyDocument { statements })
    }
}

fn parse_statement(map: &Map<String, Value>, kind: PolicyKind) -> Result<Statement, String> {
    for key in map.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        ) {
            return Err(format!("Syntax errors in policy: unknown field {key}."));
        }
    }
    let effect = match map.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        _ => return Err("Syntax errors in policy: Effect must be Allow or Deny.".into()),
    };
    let actions =
        either(map, "Action", "NotAction")?.ok_or("Policy statement must contain actions.")?;
    for action in &actions.values {
        if action != "*" && !action.contains(':') {
            return Err(format!(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. ({action})"
            ));
        }
    }
    let resources = either(map, "Resource", "NotResource")?;
    if map.contains_key("NotPrincipal") {
        return Err("NotPrincipal is not supported by Keelson.".into());
    }
    let principal = map.get("Principal").map(parse_principal).transpose()?;
    match kind {
        PolicyKind::Identity => {
            if principal.is_some() {
                return Err("Policy document should not specify a principal.".into());
            }
            if resources.is_none() {
                return Err("Policy statement must contain resources.".into());
            }
        }
        PolicyKind::Trust => {
            if principal.is_none() {
                return Err("Missing required field Principal".into());
            }
            if resources.is_some() {
                return Err("Has prohibited field Resource".into());
            }
        }
    }
    let conditions = match map.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(operators)) => Condition::parse_block(operators)?,
        Some(_) => return Err("Syntax errors in policy: Condition must be an object.".into()),
    };
    Ok(Statement {
        effect,
        actions,
        resources,
        principal,
        conditions,
    })
}

fn either(map: &Map<String, Value>, plain: &str, not: &str) -> Result<Option<Patterns>, String> {
    match (map.get(plain), map.get(not)) {
        (Some(_), Some(_)) => Err(format!(
            "Syntax errors in policy: {plain} and {not} cannot both be present."
        )),
        (Some(v), None) => Ok(Some(Patterns {
            negated: false,
            values: strings(v, plain)?,
        })),
        (None, Some(v)) => Ok(Some(Patterns {
            negated: true,
            values: strings(v, not)?,
        })),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty array of strings.
pub(crate) fn strings(value: &Value, field: &str) -> Result<Vec<String>, String> {
    let values = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("Syntax errors in policy: {field} must hold strings."))?,
        _ => {
            return Err(format!(
                "Syntax errors in policy: {field} must hold strings."
            ));
        }
    };
    Ok(values)
}

fn parse_principal(value: &Value) -> Result<PrincipalSpec, String> {
    match value {
        Value::String(s) if s == "*" => Ok(PrincipalSpec::Anyone),
        Value::Object(map) => {
            let mut aws = Vec::new();
            for (kind, names) in map {
                let names = strings(names, "Principal")?;
                match kind.as_str() {
                    "AWS" => {
                        for name in &names {
                            if !valid_aws_principal(name) {
                                return Err(format!(
                                    "Invalid principal in policy: \"AWS\":\"{name}\""
                                ));
                            }
                        }
                        aws.extend(names);
                    }
                    "Service" | "Federated" | "CanonicalUser" => {}
                    other => return Err(format!("Invalid principal in policy: {other}")),
                }
            }
            Ok(PrincipalSpec::Named { aws })
        }
        _ => Err("Invalid principal in policy".into()),
    }
}

fn valid_aws_principal(name: &str) -> bool {
    if name == "*" || (name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit())) {
        return true;
    }
    let parts: Vec<&str> = name.splitn(6, ':').collect();
    matches!(parts.as_slice(),
        ["arn", "aws", service, "", account, resource]
            if (*service == "iam" || *service == "sts")
                && account.len() == 12
                && !resource.contains('*')
                && !resource.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_policies_need_resources_and_no_principal() {
        let ok = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}}"#;
        assert_eq!(
            PolicyDocument::parse(ok, PolicyKind::Identity)
                .unwrap()
                .statements
                .len(),
            1
        );
        let no_resource = r#"{"Statement":[{"Effect":"Allow","Action":"*"}]}"#;
        assert!(PolicyDocument::parse(no_resource, PolicyKind::Identity).is_err());
        let principal =
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}]}"#;
        assert!(PolicyDocument::parse(principal, PolicyKind::Identity).is_err());
        assert!(PolicyDocument::parse("not json", PolicyKind::Identity).is_err());
        let bad_effect = r#"{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#;
        assert!(PolicyDocument::parse(bad_effect, PolicyKind::Identity).is_err());
        let variable = r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"arn:aws:iam::1:user/${aws:username}"}]}"#;
        assert!(
            PolicyDocument::parse(variable, PolicyKind::Identity)
                .unwrap_err()
                .contains("variables")
        );
        let no_vendor = r#"{"Statement":[{"Effect":"Allow","Action":"GetUser","Resource":"*"}]}"#;
        assert!(PolicyDocument::parse(no_vendor, PolicyKind::Identity).is_err());
    }

    #[test]
    fn trust_policies_need_a_valid_principal() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root","Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let doc = PolicyDocument::parse(ok, PolicyKind::Trust).unwrap();
        assert_eq!(
            doc.statements[0].principal,
            Some(PrincipalSpec::Named {
                aws: vec!["arn:aws:iam::111122223333:root".into()]
            })
        );
        let resource = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}]}"#;
        assert!(PolicyDocument::parse(resource, PolicyKind::Trust).is_err());
        let bad = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"sts:AssumeRole"}]}"#;
        assert!(PolicyDocument::parse(bad, PolicyKind::Trust).is_err());
    }
}
