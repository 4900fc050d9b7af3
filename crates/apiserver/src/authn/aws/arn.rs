//! IAM and STS ARNs: which principals tokens may name, and the canonical form mappings use.

/// `arn:<partition>:<service>:<region>:<account>:<resource>`, split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(text: &'a str) -> Option<Arn<'a>> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        (!arn.partition.is_empty() && !arn.resource.is_empty()).then_some(arn)
    }
}

/// aws-iam-authenticator's canonical form of a caller ARN: an assumed-role session becomes its
/// role (`arn:aws:sts::1:assumed-role/r/s` → `arn:aws:iam::1:role/r`, without the role's path,
/// which session ARNs do not carry); IAM users, roles, the account root and federated users
/// stay as they are. Anything else is not a principal tokens may carry.
pub fn canonicalize(arn: &str) -> Option<String> {
    let parsed = Arn::parse(arn)?;
    let (kind, rest) = parsed
        .resource
        .split_once('/')
        .unwrap_or((parsed.resource, ""));
    match (parsed.service, kind) {
        ("iam", "root") if rest.is_empty() => Some(arn.to_string()),
        ("iam", "user" | "role") if !rest.is_empty() => Some(arn.to_string()),
        ("sts", "federated-user") if !rest.is_empty() => Some(arn.to_string()),
        ("sts", "assumed-role") => {
            let (role, session) = rest.split_once('/')?;
            if role.is_empty() || session.is_empty() || session.contains('/') {
                return None;
            }
            Some(format!(
                "arn:{}:iam::{}:role/{role}",
                parsed.partition, parsed.account
            ))
        }
        _ => None,
    }
}

/// An IAM principal ARN as a session-derived canonical ARN can equal it: a role's path is
/// dropped (`role/team/dev` → `role/dev`). Access entries name roles with their paths, and
/// EKS matches them against sessions of the role, so they are compared in this form.
pub fn without_role_path(arn: &str) -> String {
    match Arn::parse(arn) {
        Some(parsed) if parsed.service == "iam" && parsed.resource.starts_with("role/") => {
            let name = parsed.resource.rsplit('/').next().unwrap_or_default();
            format!(
                "arn:{}:iam::{}:role/{name}",
                parsed.partition, parsed.account
            )
        }
        _ => arn.to_string(),
    }
}

/// Whether an access entry may name this ARN: an IAM user or role.
pub fn is_entry_principal(arn: &str) -> bool {
    Arn::parse(arn).is_some_and(|parsed| {
        parsed.service == "iam"
            && (parsed.resource.starts_with("user/") || parsed.resource.starts_with("role/"))
            && parsed.resource.len() > 5
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_roles_become_their_role() {
        assert_eq!(
            canonicalize("arn:aws:sts::111122223333:assumed-role/Admin/alice@example.com")
                .as_deref(),
            Some("arn:aws:iam::111122223333:role/Admin")
        );
        assert_eq!(
            canonicalize("arn:aws-cn:sts::1:assumed-role/r/s").as_deref(),
            Some("arn:aws-cn:iam::1:role/r")
        );
    }

    #[test]
    fn iam_principals_stay_as_they_are() {
        for arn in [
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:user/team/alice",
            "arn:aws:iam::111122223333:role/team/dev",
            "arn:aws:iam::111122223333:root",
            "arn:aws:sts::111122223333:federated-user/bob",
        ] {
            assert_eq!(canonicalize(arn).as_deref(), Some(arn));
        }
    }

    #[test]
    fn other_arns_are_refused() {
        for arn in [
            "arn:aws:sts::1:assumed-role/r",
            "arn:aws:sts::1:assumed-role/r/s/extra",
            "arn:aws:sts::1:assumed-role//s",
            "arn:aws:iam::1:group/g",
            "arn:aws:iam::1:user",
            "arn:aws:s3:::bucket",
            "arn::iam::1:user/a",
            "not-an-arn",
            "arn:aws:iam",
        ] {
            assert_eq!(canonicalize(arn), None, "{arn}");
        }
    }

    #[test]
    fn role_paths_are_dropped_for_comparison_only() {
        assert_eq!(
            without_role_path("arn:aws:iam::1:role/team/dev/Builder"),
            "arn:aws:iam::1:role/Builder"
        );
        assert_eq!(
            without_role_path("arn:aws:iam::1:user/team/alice"),
            "arn:aws:iam::1:user/team/alice"
        );
    }

    #[test]
    fn entries_name_users_or_roles() {
        assert!(is_entry_principal("arn:aws:iam::1:user/alice"));
        assert!(is_entry_principal("arn:aws:iam::1:role/team/dev"));
        assert!(!is_entry_principal("arn:aws:iam::1:root"));
        assert!(!is_entry_principal("arn:aws:sts::1:assumed-role/r/s"));
        assert!(!is_entry_principal("arn:aws:iam::1:user/"));
    }
}
