//! Inline policies of users and roles: Put/Get/List/Delete{User,Role}Policy.

use std::collections::BTreeMap;

use super::{Call, roles, users, validate_name};
use crate::error::{IamError, Result};
use crate::model::{Role, User, keys};
use crate::policy::{PolicyDocument, PolicyKind};
use crate::query::{Xml, encode_document};
use crate::repo;

/// Whether a call is about a user's policies or a role's.
#[derive(Clone, Copy)]
pub(crate) enum Holder {
    User,
    Role,
}

impl Holder {
    pub fn name_param(self) -> &'static str {
        match self {
            Holder::User => "UserName",
            Holder::Role => "RoleName",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Holder::User => "User",
            Holder::Role => "Role",
        }
    }

    pub async fn arn(self, call: &Call<'_>, name: &str) -> Result<String> {
        match self {
            Holder::User => users::user_arn(call, name).await,
            Holder::Role => roles::role_arn(call, name).await,
        }
    }

    /// The holder's inline policies and attached policy ARNs.
    pub async fn read(
        self,
        call: &Call<'_>,
        name: &str,
    ) -> Result<(String, BTreeMap<String, String>, Vec<String>)> {
        Ok(match self {
            Holder::User => {
                let (u, _) = users::load(call, name).await?;
                (u.name, u.inline_policies, u.attached_policies)
            }
            Holder::Role => {
                let (r, _) = roles::load(call, name).await?;
                (r.name, r.inline_policies, r.attached_policies)
            }
        })
    }

    /// Compare-and-swap change of the holder's policies; returns the write's revision.
    pub async fn modify(
        self,
        call: &Call<'_>,
        name: &str,
        change: impl Fn(&mut BTreeMap<String, String>, &mut Vec<String>) -> Result<()>,
    ) -> Result<i64> {
        let store = &*call.iam.store;
        Ok(match self {
            Holder::User => {
                repo::modify::<User, _>(
                    store,
                    &keys::user(name),
                    || users::no_such_user(name),
                    |u| change(&mut u.inline_policies, &mut u.attached_policies),
                )
                .await?
                .1
            }
            Holder::Role => {
                repo::modify::<Role, _>(
                    store,
                    &keys::role(name),
                    || roles::no_such_role(name),
                    |r| change(&mut r.inline_policies, &mut r.attached_policies),
                )
                .await?
                .1
            }
        })
    }
}

fn no_such_policy(holder: Holder, policy: &str) -> IamError {
    IamError::no_such_entity(format!(
        "The {} policy with name {policy} cannot be found.",
        holder.noun().to_ascii_lowercase()
    ))
}

pub async fn put(call: &Call<'_>, holder: Holder) -> Result<()> {
    let name = call.query.required(holder.name_param())?;
    let policy_name = call.query.required("PolicyName")?;
    validate_name("policyName", policy_name, 128)?;
    let document = call.query.required("PolicyDocument")?;
    call.authorize(
        &format!("Put{}Policy", holder.noun()),
        &holder.arn(call, name).await?,
    )?;
    PolicyDocument::parse(document, PolicyKind::Identity).map_err(IamError::malformed_policy)?;
    let revision = holder
        .modify(call, name, |inline, _| {
            inline.insert(policy_name.to_string(), document.to_string());
            Ok(())
        })
        .await?;
    call.written(revision).await;
    Ok(())
}

pub async fn get(call: &Call<'_>, holder: Holder) -> Result<String> {
    let name = call.query.required(holder.name_param())?;
    let policy_name = call.query.required("PolicyName")?;
    call.authorize(
        &format!("Get{}Policy", holder.noun()),
        &holder.arn(call, name).await?,
    )?;
    let (stored_name, inline, _) = holder.read(call, name).await?;
    let document = inline
        .get(policy_name)
        .ok_or_else(|| no_such_policy(holder, policy_name))?;
    let mut xml = Xml::new();
    xml.text(holder.name_param(), &stored_name)
        .text("PolicyName", policy_name)
        .text("PolicyDocument", &encode_document(document));
    Ok(xml.into_string())
}

pub async fn list(call: &Call<'_>, holder: Holder) -> Result<String> {
    let name = call.query.required(holder.name_param())?;
    call.authorize(
        &format!("List{}Policies", holder.noun()),
        &holder.arn(call, name).await?,
    )?;
    let (_, inline, _) = holder.read(call, name).await?;
    let names: Vec<&String> = inline.keys().collect();
    let mut xml = Xml::new();
    xml.element("PolicyNames", |x| {
        for n in &names {
            x.text("member", n);
        }
    });
    xml.text("IsTruncated", "false");
    Ok(xml.into_string())
}

pub async fn delete(call: &Call<'_>, holder: Holder) -> Result<()> {
    let name = call.query.required(holder.name_param())?;
    let policy_name = call.query.required("PolicyName")?;
    call.authorize(
        &format!("Delete{}Policy", holder.noun()),
        &holder.arn(call, name).await?,
    )?;
    let revision = holder
        .modify(call, name, |inline, _| {
            inline
                .remove(policy_name)
                .map(|_| ())
                .ok_or_else(|| no_such_policy(holder, policy_name))
        })
        .await?;
    call.written(revision).await;
    Ok(())
}
