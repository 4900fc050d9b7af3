//! IAM's evaluation logic within one account: an explicit Deny wins, otherwise an Allow is
//! needed, otherwise the request is implicitly denied.

use std::collections::HashMap;

use super::{Effect, Patterns, PolicyDocument, PrincipalSpec, Statement};

/// What a request is: the action, the resource and the condition keys' values.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    pub action: String,
    pub resource: String,
    /// Condition key (lower case) → value.
    pub values: HashMap<String, String>,
}

impl RequestContext {
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// Evaluates identity policies for one request.
pub fn evaluate<'a>(
    policies: impl IntoIterator<Item = &'a PolicyDocument>,
    context: &RequestContext,
) -> Decision {
    let mut allowed = false;
    for policy in policies {
        for statement in &policy.statements {
            if !statement_applies(statement, context) {
                continue;
            }
            let resource_matches = statement
                .resources
                .as_ref()
                .is_some_and(|r| patterns_match(r, &context.resource, false));
            if !resource_matches {
                continue;
            }
            match statement.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// What a role's trust policy says about a caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustGrant {
    /// A statement denies the caller.
    Denied,
    /// The caller itself is named: within one account that alone suffices.
    Caller,
    /// The caller matches through its account (or `*`, or its role): the caller's own identity
    /// policies must also allow the action, as IAM requires when the account is trusted.
    Account,
    None,
}

/// Who is asking, as trust-policy principals can name it.
#[derive(Clone, Debug)]
pub struct TrustCaller<'a> {
    pub account_id: &'a str,
    pub arn: &'a str,
    /// The role ARN of an assumed-role session.
    pub role_arn: Option<&'a str>,
}

pub fn evaluate_trust(
    policy: &PolicyDocument,
    caller: &TrustCaller,
    context: &RequestContext,
) -> TrustGrant {
    let mut grant = TrustGrant::None;
    for statement in &policy.statements {
        if !statement_applies(statement, context) {
            continue;
        }
        let matched = match &statement.principal {
            Some(PrincipalSpec::Anyone) => Some(TrustGrant::Account),
            Some(PrincipalSpec::Named { aws }) => aws
                .iter()
                .filter_map(|name| principal_grant(name, caller))
                .min_by_key(|g| *g != TrustGrant::Caller),
            None => None,
        };
        let Some(matched) = matched else { continue };
        match statement.effect {
            Effect::Deny => return TrustGrant::Denied,
            Effect::Allow => {
                if grant != TrustGrant::Caller {
                    grant = matched;
                }
            }
        }
    }
    grant
}

fn principal_grant(name: &str, caller: &TrustCaller) -> Option<TrustGrant> {
    let root = format!("arn:aws:iam::{}:root", caller.account_id);
    if name == "*" || name == caller.account_id || name == root {
        Some(TrustGrant::Account)
    } else if name == caller.arn {
        Some(TrustGrant::Caller)
    } else if Some(name) == caller.role_arn {
        Some(TrustGrant::Account)
    } else {
        None
    }
}

fn statement_applies(statement: &Statement, context: &RequestContext) -> bool {
    patterns_match(&statement.actions, &context.action, true)
        && statement.conditions.iter().all(|c| c.matches(context))
}

fn patterns_match(patterns: &Patterns, value: &str, ignore_case: bool) -> bool {
    let any = patterns
        .values
        .iter()
        .any(|p| wildcard_match(p, value, ignore_case));
    any != patterns.negated
}

/// Glob matching with `*` (any run, also empty) and `?` (one character), as IAM matches actions
/// (case-insensitively) and resources (case-sensitively).
pub fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], v[vi]))) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyKind;

    fn doc(text: &str) -> PolicyDocument {
        PolicyDocument::parse(text, PolicyKind::Identity).unwrap()
    }

    fn request(action: &str, resource: &str) -> RequestContext {
        RequestContext {
            action: action.into(),
            resource: resource.into(),
            values: HashMap::from([("aws:username".to_string(), "alice".to_string())]),
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("iam:Get*", "iam:GetUser", false));
        assert!(wildcard_match("iam:get*", "IAM:GetUser", true));
        assert!(!wildcard_match("iam:get*", "IAM:GetUser", false));
        assert!(wildcard_match(
            "arn:aws:iam::1:user/?ob",
            "arn:aws:iam::1:user/bob",
            false
        ));
        assert!(!wildcard_match(
            "arn:aws:iam::1:user/?ob",
            "arn:aws:iam::1:user/bbob",
            false
        ));
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("a*b*c", "aXXbYYbc", false));
        assert!(!wildcard_match("a*b*c", "aXXbYYb", false));
    }

    #[test]
    fn an_allow_is_needed_and_an_explicit_deny_wins() {
        let allow = doc(r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#);
        let deny = doc(
            r#"{"Statement":[{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"arn:aws:iam::1:user/*"}]}"#,
        );
        let get = request("iam:GetUser", "arn:aws:iam::1:user/bob");
        let delete = request("iam:DeleteUser", "arn:aws:iam::1:user/bob");
        assert_eq!(evaluate([&allow], &get), Decision::Allow);
        assert_eq!(evaluate([&allow, &deny], &delete), Decision::ExplicitDeny);
        assert_eq!(evaluate([&allow, &deny], &get), Decision::Allow);
        assert_eq!(evaluate([&deny], &get), Decision::ImplicitDeny);
        assert_eq!(evaluate([], &get), Decision::ImplicitDeny);
        assert_eq!(
            evaluate([&allow], &request("eks:ListClusters", "*")),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn not_action_and_not_resource_invert_the_match() {
        let policy = doc(
            r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:eks:*:1:cluster/secret"}]}"#,
        );
        assert_eq!(
            evaluate(
                [&policy],
                &request("eks:DescribeCluster", "arn:aws:eks:us-east-1:1:cluster/c1")
            ),
            Decision::Allow
        );
        assert_eq!(
            evaluate(
                [&policy],
                &request(
                    "eks:DescribeCluster",
                    "arn:aws:eks:us-east-1:1:cluster/secret"
                )
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate([&policy], &request("iam:GetUser", "*")),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn conditions_are_evaluated() {
        let policy = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":["alice","carol"]},"Bool":{"aws:SecureTransport":"true"}}}]}"#,
        );
        let mut context = request("iam:GetUser", "*");
        assert_eq!(
            evaluate([&policy], &context),
            Decision::ImplicitDeny,
            "no SecureTransport"
        );
        context
            .values
            .insert("aws:securetransport".into(), "true".into());
        assert_eq!(evaluate([&policy], &context), Decision::Allow);
        context.values.insert("aws:username".into(), "bob".into());
        assert_eq!(evaluate([&policy], &context), Decision::ImplicitDeny);
        let like = doc(
            r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotLike":{"aws:PrincipalArn":"arn:aws:iam::1:user/admin-*"}}}]}"#,
        );
        context.values.insert(
            "aws:principalarn".into(),
            "arn:aws:iam::1:user/admin-x".into(),
        );
        assert_eq!(
            evaluate([&policy, &like], &request("iam:GetUser", "*")),
            Decision::ExplicitDeny,
            "missing key satisfies a negated operator"
        );
    }

    #[test]
    fn unsupported_conditions_are_refused_when_written() {
        let key = r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
        assert!(
            PolicyDocument::parse(key, PolicyKind::Identity)
                .unwrap_err()
                .contains("IpAddress")
        );
        let key = r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpc":"v"}}}]}"#;
        assert!(
            PolicyDocument::parse(key, PolicyKind::Identity)
                .unwrap_err()
                .contains("aws:SourceVpc")
        );
    }

    #[test]
    fn trust_policies_name_callers_or_accounts() {
        let trust = PolicyDocument::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/alice","111122223333"]},"Action":"sts:AssumeRole"}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        let context = RequestContext {
            action: "sts:AssumeRole".into(),
            ..Default::default()
        };
        let alice = TrustCaller {
            account_id: "111122223333",
            arn: "arn:aws:iam::111122223333:user/alice",
            role_arn: None,
        };
        let bob = TrustCaller {
            arn: "arn:aws:iam::111122223333:user/bob",
            ..alice.clone()
        };
        let stranger = TrustCaller {
            account_id: "999999999999",
            arn: "arn:aws:iam::999999999999:user/alice",
            role_arn: None,
        };
        assert_eq!(evaluate_trust(&trust, &alice, &context), TrustGrant::Caller);
        assert_eq!(evaluate_trust(&trust, &bob, &context), TrustGrant::Account);
        assert_eq!(
            evaluate_trust(&trust, &stranger, &context),
            TrustGrant::None
        );
        let other_action = RequestContext {
            action: "sts:TagSession".into(),
            ..Default::default()
        };
        assert_eq!(
            evaluate_trust(&trust, &alice, &other_action),
            TrustGrant::None
        );
        let deny = PolicyDocument::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:*"},{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:AssumeRole"}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        assert_eq!(evaluate_trust(&deny, &bob, &context), TrustGrant::Denied);
        assert_eq!(evaluate_trust(&deny, &alice, &context), TrustGrant::Account);
    }
}
