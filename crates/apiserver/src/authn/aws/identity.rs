//! A verified AWS caller, as the mappings and the Kubernetes user see it.

use std::collections::BTreeMap;

use super::arn::canonicalize;
use super::sts::CallerIdentity;

/// aws-iam-authenticator's Identity: who signed a token, in the forms mappings use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsIdentity {
    pub arn: String,
    pub canonical_arn: String,
    pub account_id: String,
    /// The principal's unique id (`AIDA…`, `AROA…`), without the session name.
    pub user_id: String,
    /// The role session name, or empty for IAM users.
    pub session_name: String,
    pub access_key_id: String,
}

impl AwsIdentity {
    /// Check and split STS's answer; `None` if it does not name a principal tokens may carry.
    pub fn from_caller(caller: CallerIdentity, access_key_id: &str) -> Option<AwsIdentity> {
        let canonical_arn = canonicalize(&caller.arn)?;
        // UserId is `<unique id>` for users and `<unique id>:<session>` for role sessions.
        let mut parts = caller.user_id.split(':');
        let user_id = parts.next().filter(|id| !id.is_empty())?.to_string();
        let session_name = parts.next().unwrap_or_default().to_string();
        if parts.next().is_some() {
            return None;
        }
        Some(AwsIdentity {
            arn: caller.arn,
            canonical_arn,
            account_id: caller.account,
            user_id,
            session_name,
            access_key_id: access_key_id.to_string(),
        })
    }

    /// The TokenReview uid aws-iam-authenticator gives.
    pub fn uid(&self) -> String {
        format!("aws-iam-authenticator:{}:{}", self.account_id, self.user_id)
    }

    /// The TokenReview extras aws-iam-authenticator gives.
    pub fn extra(&self) -> BTreeMap<String, Vec<String>> {
        [
            ("arn", &self.arn),
            ("canonicalArn", &self.canonical_arn),
            ("sessionName", &self.session_name),
            ("accessKeyId", &self.access_key_id),
            ("principalId", &self.user_id),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), vec![value.clone()]))
        .collect()
    }

    /// Fill the templates of a username or group: `{{AccountID}}`, `{{SessionName}}` (with `@`
    /// made `-`, as Kubernetes names need), `{{SessionNameRaw}}` and `{{AccessKeyID}}`.
    /// `None` if the text uses a template this server cannot fill (`{{EC2PrivateDNSName}}`
    /// needs EC2) or one that is empty for this caller (a session name for an IAM user).
    pub fn render(&self, template: &str) -> Option<String> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find("}}")?;
            let value = match &after[..end] {
                "AccountID" => self.account_id.clone(),
                "SessionName" => self.session_name.replace('@', "-"),
                "SessionNameRaw" => self.session_name.clone(),
                "AccessKeyID" => self.access_key_id.clone(),
                _ => return None,
            };
            if value.is_empty() {
                return None;
            }
            out.push_str(&value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role_session() -> AwsIdentity {
        AwsIdentity::from_caller(
            CallerIdentity {
                account: "111122223333".into(),
                arn: "arn:aws:sts::111122223333:assumed-role/Dev/alice@example.com".into(),
                user_id: "AROAEXAMPLE:alice@example.com".into(),
            },
            "ASIAEXAMPLE",
        )
        .unwrap()
    }

    #[test]
    fn role_sessions_are_split() {
        let identity = role_session();
        assert_eq!(identity.canonical_arn, "arn:aws:iam::111122223333:role/Dev");
        assert_eq!(identity.user_id, "AROAEXAMPLE");
        assert_eq!(identity.session_name, "alice@example.com");
        assert_eq!(
            identity.uid(),
            "aws-iam-authenticator:111122223333:AROAEXAMPLE"
        );
        let extra = identity.extra();
        assert_eq!(extra["principalId"], vec!["AROAEXAMPLE".to_string()]);
        assert_eq!(extra["accessKeyId"], vec!["ASIAEXAMPLE".to_string()]);
        assert_eq!(extra.len(), 5);
    }

    #[test]
    fn malformed_answers_are_refused() {
        let caller = |arn: &str, user_id: &str| CallerIdentity {
            account: "1".into(),
            arn: arn.into(),
            user_id: user_id.into(),
        };
        assert!(AwsIdentity::from_caller(caller("arn:aws:iam::1:user/a", "A:b:c"), "k").is_none());
        assert!(AwsIdentity::from_caller(caller("arn:aws:iam::1:user/a", ""), "k").is_none());
        assert!(AwsIdentity::from_caller(caller("arn:aws:s3:::b", "A"), "k").is_none());
    }

    #[test]
    fn templates_are_filled() {
        let identity = role_session();
        assert_eq!(
            identity
                .render("dev:{{AccountID}}:{{SessionName}}")
                .as_deref(),
            Some("dev:111122223333:alice-example.com")
        );
        assert_eq!(
            identity
                .render("{{SessionNameRaw}}/{{AccessKeyID}}")
                .as_deref(),
            Some("alice@example.com/ASIAEXAMPLE")
        );
        assert_eq!(identity.render("system:node:{{EC2PrivateDNSName}}"), None);
        assert_eq!(identity.render("broken {{AccountID"), None);
        let user = AwsIdentity::from_caller(
            CallerIdentity {
                account: "1".into(),
                arn: "arn:aws:iam::1:user/bob".into(),
                user_id: "AIDABOB".into(),
            },
            "AKIABOB",
        )
        .unwrap();
        assert_eq!(user.render("{{SessionName}}"), None);
        assert_eq!(user.render("bob").as_deref(), Some("bob"));
    }
}
