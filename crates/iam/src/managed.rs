//! AWS-managed policies: built into every account, read-only, under `arn:aws:iam::aws:policy/`.

use std::sync::{Arc, OnceLock};

use crate::policy::{PolicyDocument, PolicyKind};

pub struct AwsManagedPolicy {
    pub name: &'static str,
    pub policy_id: &'static str,
    pub description: &'static str,
    pub document: &'static str,
}

pub const AWS_MANAGED: &[AwsManagedPolicy] = &[
    AwsManagedPolicy {
        name: "AdministratorAccess",
        policy_id: "ANPAIWMBCKSKIEE64ZLYK",
        description: "Provides full access to AWS services and resources.",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    },
    AwsManagedPolicy {
        name: "IAMFullAccess",
        policy_id: "ANPAI7XKCFMBPM3QQRRVQ",
        description: "Provides full access to IAM via the AWS Management Console.",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*"],"Resource":"*"}]}"#,
    },
    AwsManagedPolicy {
        name: "IAMReadOnlyAccess",
        policy_id: "ANPAJKSO7NDY4T57MWDSQ",
        description: "Provides read only access to IAM via the AWS Management Console.",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:Get*","iam:List*"],"Resource":"*"}]}"#,
    },
];

pub const AWS_POLICY_PREFIX: &str = "arn:aws:iam::aws:policy/";

impl AwsManagedPolicy {
    pub fn arn(&self) -> String {
        format!("{AWS_POLICY_PREFIX}{}", self.name)
    }

    pub fn document(&self) -> Arc<PolicyDocument> {
        static PARSED: OnceLock<Vec<Arc<PolicyDocument>>> = OnceLock::new();
        let parsed = PARSED.get_or_init(|| {
            AWS_MANAGED
                .iter()
                .map(|p| {
                    Arc::new(
                        PolicyDocument::parse(p.document, PolicyKind::Identity)
                            .expect("built-in policies parse"),
                    )
                })
                .collect()
        });
        let index = AWS_MANAGED
            .iter()
            .position(|p| p.name == self.name)
            .expect("listed");
        parsed[index].clone()
    }
}

pub fn aws_managed(arn: &str) -> Option<&'static AwsManagedPolicy> {
    let name = arn.strip_prefix(AWS_POLICY_PREFIX)?;
    AWS_MANAGED.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_policies_parse_and_resolve_by_arn() {
        for policy in AWS_MANAGED {
            assert!(!policy.document().statements.is_empty());
            assert!(aws_managed(&policy.arn()).is_some());
        }
        assert!(aws_managed("arn:aws:iam::aws:policy/NoSuchPolicy").is_none());
    }
}
