//! Authorization of every call: the caller's identity policies, evaluated as IAM does.

use std::collections::HashMap;

use keelson_aws_core::{Authorizer, Principal, PrincipalKind};

use crate::Iam;
use crate::error::IamError;
use crate::policy::{Decision, RequestContext, evaluate};

impl Iam {
    /// The condition-key values IAM knows for `principal` in this service.
    pub(crate) fn context_for(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
    ) -> RequestContext {
        let mut values = HashMap::new();
        let (principal_type, username) = match &principal.kind {
            PrincipalKind::Root => ("Account", None),
            PrincipalKind::User { name } => ("User", Some(name.clone())),
            PrincipalKind::AssumedRole { .. } => ("AssumedRole", None),
        };
        if let Some(name) = username {
            values.insert("aws:username".to_string(), name);
        }
        values.insert("aws:userid".into(), principal.user_id.clone());
        values.insert(
            "aws:principalarn".into(),
            principal.canonical_arn().to_string(),
        );
        values.insert("aws:principalaccount".into(), principal.account_id.clone());
        values.insert("aws:principaltype".into(), principal_type.into());
        values.insert(
            "aws:securetransport".into(),
            self.config.secure_transport.to_string(),
        );
        values.insert("aws:requestedregion".into(), self.config.region.clone());
        RequestContext {
            action: action.to_string(),
            resource: resource.to_string(),
            values,
        }
    }

    /// Evaluates `context` against the caller's identity policies; the root of this account may
    /// do everything, principals of other accounts nothing.
    pub(crate) fn decide(&self, principal: &Principal, context: &RequestContext) -> Decision {
        if principal.account_id != self.account.account_id {
            return Decision::ImplicitDeny;
        }
        let policies = match &principal.kind {
            PrincipalKind::Root => return Decision::Allow,
            PrincipalKind::User { name } => self.mirror.policies_of(name, false),
            PrincipalKind::AssumedRole { role_name, .. } => {
                self.mirror.policies_of(role_name, true)
            }
        };
        match policies {
            Some(policies) => evaluate(policies.iter().map(|p| &**p), context),
            None => Decision::ImplicitDeny,
        }
    }

    /// `AccessDenied` in IAM's words unless the caller may perform `action` on `resource`.
    pub fn authorize(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
    ) -> Result<(), IamError> {
        let context = self.context_for(principal, action, resource);
        match self.decide(principal, &context) {
            Decision::Allow => Ok(()),
            decision => Err(IamError::access_denied(denial_message(
                principal, action, resource, decision,
            ))),
        }
    }
}

pub(crate) fn denial_message(
    principal: &Principal,
    action: &str,
    resource: &str,
    decision: Decision,
) -> String {
    let because = if decision == Decision::ExplicitDeny {
        "with an explicit deny in an identity-based policy".to_string()
    } else {
        format!("because no identity-based policy allows the {action} action")
    };
    format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} {because}",
        principal.arn
    )
}

impl Authorizer for Iam {
    fn is_allowed(&self, principal: &Principal, action: &str, resource: &str) -> bool {
        let context = self.context_for(principal, action, resource);
        self.decide(principal, &context) == Decision::Allow
    }
}
