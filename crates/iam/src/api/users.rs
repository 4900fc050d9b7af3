//! CreateUser, GetUser, ListUsers, DeleteUser.

use chrono::Utc;
use keelson_aws_core::PrincipalKind;

use super::{Call, validate_name, validate_path};
use crate::error::{IamError, Result};
use crate::model::{User, iso8601, keys};
use crate::query::{Xml, paginate, truncation};
use crate::{ids, repo};

pub(crate) fn user_xml(xml: &mut Xml, user: &User) {
    xml.text("Path", &user.path)
        .text("UserName", &user.name)
        .text("UserId", &user.user_id)
        .text("Arn", &user.arn)
        .text("CreateDate", &iso8601(&user.created));
}

pub(crate) fn no_such_user(name: &str) -> IamError {
    IamError::no_such_entity(format!("The user with name {name} cannot be found."))
}

/// The user's ARN for authorization: with its stored path when it exists.
pub(crate) async fn user_arn(call: &Call<'_>, name: &str) -> Result<String> {
    let path = repo::get::<User>(&*call.iam.store, &keys::user(name))
        .await?
        .map(|(u, _)| u.path)
        .unwrap_or_else(|| "/".into());
    Ok(call.arn("user", &path, name))
}

pub(crate) async fn load(call: &Call<'_>, name: &str) -> Result<(User, i64)> {
    repo::get::<User>(&*call.iam.store, &keys::user(name))
        .await?
        .ok_or_else(|| no_such_user(name))
}

/// `UserName` if given, else the calling user (as IAM does for key and user calls).
pub(crate) fn target_user(call: &Call<'_>) -> Result<Option<String>> {
    if let Some(name) = call.query.get("UserName") {
        return Ok(Some(name.to_string()));
    }
    match &call.caller.kind {
        PrincipalKind::User { name } => Ok(Some(name.clone())),
        PrincipalKind::Root => Ok(None),
        PrincipalKind::AssumedRole { .. } => Err(IamError::validation(
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

pub async fn create(call: &Call<'_>) -> Result<String> {
    let name = call.query.required("UserName")?;
    validate_name("userName", name, 64)?;
    let path = call.query.get("Path").unwrap_or("/");
    validate_path(path)?;
    let arn = call.arn("user", path, name);
    call.authorize("CreateUser", &arn)?;
    let user = User {
        name: name.to_string(),
        path: path.to_string(),
        user_id: ids::unique_id("AIDA", 21),
        arn,
        created: Utc::now(),
        access_keys: Vec::new(),
        inline_policies: Default::default(),
        attached_policies: Vec::new(),
    };
    let Some(revision) = repo::create(&*call.iam.store, &keys::user(name), &user, None).await?
    else {
        return Err(IamError::already_exists(format!(
            "User with name {name} already exists."
        )));
    };
    call.written(revision).await;
    let mut xml = Xml::new();
    xml.element("User", |x| user_xml(x, &user));
    Ok(xml.into_string())
}

pub async fn get(call: &Call<'_>) -> Result<String> {
    let mut xml = Xml::new();
    match target_user(call)? {
        Some(name) => {
            call.authorize("GetUser", &user_arn(call, &name).await?)?;
            let (user, _) = load(call, &name).await?;
            xml.element("User", |x| user_xml(x, &user));
        }
        None => {
            call.authorize("GetUser", &call.caller.arn)?;
            let created = iso8601(&call.iam.account.created);
            xml.element("User", |x| {
                x.text("UserId", &call.caller.account_id)
                    .text("Arn", &call.caller.arn)
                    .text("CreateDate", &created);
            });
        }
    }
    Ok(xml.into_string())
}

pub async fn list(call: &Call<'_>) -> Result<String> {
    let prefix = call.query.get("PathPrefix").unwrap_or("/");
    call.authorize("ListUsers", &call.arn("user", "/", ""))?;
    let mut users: Vec<User> =
        repo::list(&*call.iam.store, &format!("{}users/", keys::ENTITIES)).await?;
    users.retain(|u| u.path.starts_with(prefix));
    users.sort_by_key(|u| u.name.to_ascii_lowercase());
    let (page, next) = paginate(users, call.query, |u| u.name.to_ascii_lowercase())?;
    let mut xml = Xml::new();
    xml.members("Users", &page, user_xml);
    truncation(&mut xml, &next);
    Ok(xml.into_string())
}

pub async fn delete(call: &Call<'_>) -> Result<()> {
    let name = call.query.required("UserName")?;
    call.authorize("DeleteUser", &user_arn(call, name).await?)?;
    for _ in 0..16 {
        let (user, revision) = load(call, name).await?;
        if !user.access_keys.is_empty() {
            return Err(IamError::delete_conflict(
                "Cannot delete entity, must delete access keys first.",
            ));
        }
        if !user.inline_policies.is_empty() {
            return Err(IamError::delete_conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !user.attached_policies.is_empty() {
            return Err(IamError::delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        if let Some(deleted) =
            repo::delete_at(&*call.iam.store, &keys::user(name), revision).await?
        {
            call.written(deleted).await;
            return Ok(());
        }
    }
    Err(IamError::Contended)
}
