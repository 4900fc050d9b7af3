//! CreateRole, GetRole, ListRoles, DeleteRole, UpdateAssumeRolePolicy.

use chrono::Utc;

use super::{Call, validate_name, validate_path};
use crate::error::{IamError, Result};
use crate::model::{Role, iso8601, keys};
use crate::policy::{PolicyDocument, PolicyKind};
use crate::query::{Xml, encode_document, paginate, truncation};
use crate::{ids, repo};

const DEFAULT_MAX_SESSION: i64 = 3600;

pub(crate) fn role_xml(xml: &mut Xml, role: &Role) {
    xml.text("Path", &role.path)
        .text("RoleName", &role.name)
        .text("RoleId", &role.role_id)
        .text("Arn", &role.arn)
        .text("CreateDate", &iso8601(&role.created))
        .text(
            "AssumeRolePolicyDocument",
            &encode_document(&role.assume_role_policy),
        )
        .optional("Description", role.description.as_deref())
        .text("MaxSessionDuration", &role.max_session_duration.to_string());
}

pub(crate) fn no_such_role(name: &str) -> IamError {
    IamError::no_such_entity(format!("The role with name {name} cannot be found."))
}

pub(crate) async fn load(call: &Call<'_>, name: &str) -> Result<(Role, i64)> {
    repo::get::<Role>(&*call.iam.store, &keys::role(name))
        .await?
        .ok_or_else(|| no_such_role(name))
}

pub(crate) async fn role_arn(call: &Call<'_>, name: &str) -> Result<String> {
    let path = repo::get::<Role>(&*call.iam.store, &keys::role(name))
        .await?
        .map(|(r, _)| r.path)
        .unwrap_or_else(|| "/".into());
    Ok(call.arn("role", &path, name))
}

fn trust_policy(text: &str) -> Result<()> {
    PolicyDocument::parse(text, PolicyKind::Trust)
        .map(|_| ())
        .map_err(IamError::malformed_policy)
}

pub async fn create(call: &Call<'_>) -> Result<String> {
    let name = call.query.required("RoleName")?;
    validate_name("roleName", name, 64)?;
    let path = call.query.get("Path").unwrap_or("/");
    validate_path(path)?;
    let document = call.query.required("AssumeRolePolicyDocument")?;
    let max_session_duration = call
        .query
        .integer("MaxSessionDuration")?
        .unwrap_or(DEFAULT_MAX_SESSION);
    if !(3600..=43200).contains(&max_session_duration) {
        return Err(IamError::validation(
            "MaxSessionDuration must be between 3600 and 43200 seconds",
        ));
    }
    let arn = call.arn("role", path, name);
    call.authorize("CreateRole", &arn)?;
    trust_policy(document)?;
    let role = Role {
        name: name.to_string(),
        path: path.to_string(),
        role_id: ids::unique_id("AROA", 21),
        arn,
        created: Utc::now(),
        assume_role_policy: document.to_string(),
        description: call.query.get("Description").map(str::to_string),
        max_session_duration,
        inline_policies: Default::default(),
        attached_policies: Vec::new(),
    };
    let Some(revision) = repo::create(&*call.iam.store, &keys::role(name), &role, None).await?
    else {
        return Err(IamError::already_exists(format!(
            "Role with name {name} already exists."
        )));
    };
    call.written(revision).await;
    let mut xml = Xml::new();
    xml.element("Role", |x| role_xml(x, &role));
    Ok(xml.into_string())
}

pub async fn get(call: &Call<'_>) -> Result<String> {
    let name = call.query.required("RoleName")?;
    call.authorize("GetRole", &role_arn(call, name).await?)?;
    let (role, _) = load(call, name).await?;
    let mut xml = Xml::new();
    xml.element("Role", |x| role_xml(x, &role));
    Ok(xml.into_string())
}

pub async fn list(call: &Call<'_>) -> Result<String> {
    let prefix = call.query.get("PathPrefix").unwrap_or("/");
    call.authorize("ListRoles", &call.arn("role", "/", ""))?;
    let mut roles: Vec<Role> =
        repo::list(&*call.iam.store, &format!("{}roles/", keys::ENTITIES)).await?;
    roles.retain(|r| r.path.starts_with(prefix));
    roles.sort_by_key(|r| r.name.to_ascii_lowercase());
    let (page, next) = paginate(roles, call.query, |r| r.name.to_ascii_lowercase())?;
    let mut xml = Xml::new();
    xml.members("Roles", &page, role_xml);
    truncation(&mut xml, &next);
    Ok(xml.into_string())
}

pub async fn delete(call: &Call<'_>) -> Result<()> {
    let name = call.query.required("RoleName")?;
    call.authorize("DeleteRole", &role_arn(call, name).await?)?;
    for _ in 0..16 {
        let (role, revision) = load(call, name).await?;
        if !role.inline_policies.is_empty() {
            return Err(IamError::delete_conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !role.attached_policies.is_empty() {
            return Err(IamError::delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        if let Some(deleted) =
            repo::delete_at(&*call.iam.store, &keys::role(name), revision).await?
        {
            call.written(deleted).await;
            return Ok(());
        }
    }
    Err(IamError::Contended)
}

pub async fn update_trust(call: &Call<'_>) -> Result<()> {
    let name = call.query.required("RoleName")?;
    let document = call.query.required("PolicyDocument")?;
    call.authorize("UpdateAssumeRolePolicy", &role_arn(call, name).await?)?;
    trust_policy(document)?;
    repo::modify::<Role, _>(
        &*call.iam.store,
        &keys::role(name),
        || no_such_role(name),
        |r| {
            r.assume_role_policy = document.to_string();
            Ok(())
        },
    )
    .await?;
    Ok(())
}
