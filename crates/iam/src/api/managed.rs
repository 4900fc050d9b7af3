//! Managed policies: customer-managed (CreatePolicy…, one version `v1`) and the built-in
//! AWS-managed ones; attaching them to users and roles.

use chrono::Utc;

use super::inline::Holder;
use super::{Call, validate_name, validate_path};
use crate::error::{IamError, Result};
use crate::managed::{AWS_MANAGED, AwsManagedPolicy, aws_managed};
use crate::model::{ManagedPolicy, iso8601, keys};
use crate::policy::{PolicyDocument, PolicyKind};
use crate::query::{Xml, encode_document, paginate, truncation};
use crate::{ids, repo};

/// IAM's quota of managed policies attached to one user or role.
const ATTACHED_PER_ENTITY: usize = 10;

/// A managed policy as the API shows it, whichever kind.
struct Shown {
    name: String,
    policy_id: String,
    arn: String,
    path: String,
    description: Option<String>,
    document: String,
    created: String,
}

impl Shown {
    fn customer(p: &ManagedPolicy) -> Shown {
        Shown {
            name: p.name.clone(),
            policy_id: p.policy_id.clone(),
            arn: p.arn.clone(),
            path: p.path.clone(),
            description: p.description.clone(),
            document: p.document.clone(),
            created: iso8601(&p.created),
        }
    }

    fn aws(p: &AwsManagedPolicy) -> Shown {
        Shown {
            name: p.name.into(),
            policy_id: p.policy_id.into(),
            arn: p.arn(),
            path: "/".into(),
            description: Some(p.description.into()),
            document: p.document.into(),
            created: "2015-02-06T18:39:46.000Z".into(),
        }
    }

    fn xml(&self, xml: &mut Xml, attachments: usize) {
        xml.text("PolicyName", &self.name)
            .text("PolicyId", &self.policy_id)
            .text("Arn", &self.arn)
            .text("Path", &self.path)
            .text("DefaultVersionId", "v1")
            .text("AttachmentCount", &attachments.to_string())
            .text("PermissionsBoundaryUsageCount", "0")
            .text("IsAttachable", "true")
            .optional("Description", self.description.as_deref())
            .text("CreateDate", &self.created)
            .text("UpdateDate", &self.created);
    }
}

fn no_such_policy(arn: &str) -> IamError {
    IamError::no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
}

/// The name a policy ARN ends in.
fn policy_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

async fn find(call: &Call<'_>, arn: &str) -> Result<Option<Shown>> {
    if let Some(p) = aws_managed(arn) {
        return Ok(Some(Shown::aws(p)));
    }
    let own_prefix = format!("arn:aws:iam::{}:policy/", call.iam.account_id());
    if !arn.starts_with(&own_prefix) {
        return Ok(None);
    }
    Ok(
        repo::get::<ManagedPolicy>(&*call.iam.store, &keys::policy(policy_name(arn)))
            .await?
            .map(|(p, _)| p)
            .filter(|p| p.arn == arn)
            .map(|p| Shown::customer(&p)),
    )
}

pub async fn create(call: &Call<'_>) -> Result<String> {
    let name = call.query.required("PolicyName")?;
    validate_name("policyName", name, 128)?;
    let path = call.query.get("Path").unwrap_or("/");
    validate_path(path)?;
    let document = call.query.required("PolicyDocument")?;
    let arn = call.arn("policy", path, name);
    call.authorize("CreatePolicy", &arn)?;
    PolicyDocument::parse(document, PolicyKind::Identity).map_err(IamError::malformed_policy)?;
    let policy = ManagedPolicy {
        name: name.to_string(),
        path: path.to_string(),
        policy_id: ids::unique_id("ANPA", 21),
        arn,
        created: Utc::now(),
        document: document.to_string(),
        description: call.query.get("Description").map(str::to_string),
    };
    let Some(revision) = repo::create(&*call.iam.store, &keys::policy(name), &policy, None).await?
    else {
        return Err(IamError::already_exists(format!(
            "A policy called {name} already exists. Duplicate names are not allowed."
        )));
    };
    call.written(revision).await;
    let mut xml = Xml::new();
    xml.element("Policy", |x| Shown::customer(&policy).xml(x, 0));
    Ok(xml.into_string())
}

pub async fn get(call: &Call<'_>) -> Result<String> {
    let arn = call.query.required("PolicyArn")?;
    call.authorize("GetPolicy", arn)?;
    let shown = find(call, arn)
        .await?
        .ok_or_else(|| IamError::no_such_entity(format!("Policy {arn} was not found.")))?;
    let attachments = call.iam.mirror.attachment_count(arn);
    let mut xml = Xml::new();
    xml.element("Policy", |x| shown.xml(x, attachments));
    Ok(xml.into_string())
}

pub async fn get_version(call: &Call<'_>) -> Result<String> {
    let arn = call.query.required("PolicyArn")?;
    let version = call.query.required("VersionId")?;
    call.authorize("GetPolicyVersion", arn)?;
    let shown = find(call, arn)
        .await?
        .filter(|_| version == "v1")
        .ok_or_else(|| {
            IamError::no_such_entity(format!(
                "Policy {arn} version {version} does not exist or is not attachable."
            ))
        })?;
    let mut xml = Xml::new();
    xml.element("PolicyVersion", |x| {
        x.text("Document", &encode_document(&shown.document))
            .text("VersionId", "v1")
            .text("IsDefaultVersion", "true")
            .text("CreateDate", &shown.created);
    });
    Ok(xml.into_string())
}

pub async fn list(call: &Call<'_>) -> Result<String> {
    call.authorize("ListPolicies", &call.arn("policy", "/", ""))?;
    let scope = call.query.get("Scope").unwrap_or("All");
    let only_attached = call.query.get("OnlyAttached") == Some("true");
    let prefix = call.query.get("PathPrefix").unwrap_or("/");
    let mut shown = Vec::new();
    if scope == "All" || scope == "AWS" {
        shown.extend(AWS_MANAGED.iter().map(Shown::aws));
    }
    if scope == "All" || scope == "Local" {
        let own: Vec<ManagedPolicy> =
            repo::list(&*call.iam.store, &format!("{}policies/", keys::ENTITIES)).await?;
        shown.extend(own.iter().map(Shown::customer));
    }
    let mirror = &call.iam.mirror;
    let mut shown: Vec<(Shown, usize)> = shown
        .into_iter()
        .filter(|s| s.path.starts_with(prefix))
        .map(|s| {
            let count = mirror.attachment_count(&s.arn);
            (s, count)
        })
        .filter(|(_, count)| !only_attached || *count > 0)
        .collect();
    shown.sort_by(|a, b| a.0.arn.cmp(&b.0.arn));
    let (page, next) = paginate(shown, call.query, |(s, _)| s.arn.clone())?;
    let mut xml = Xml::new();
    xml.members("Policies", &page, |x, (s, count)| s.xml(x, *count));
    truncation(&mut xml, &next);
    Ok(xml.into_string())
}

pub async fn delete(call: &Call<'_>) -> Result<()> {
    let arn = call.query.required("PolicyArn")?;
    call.authorize("DeletePolicy", arn)?;
    if aws_managed(arn).is_some() {
        return Err(IamError::api(
            400,
            "InvalidInput",
            "AWS-managed policies cannot be deleted.",
        ));
    }
    let key = keys::policy(policy_name(arn));
    let Some((policy, revision)) = repo::get::<ManagedPolicy>(&*call.iam.store, &key)
        .await?
        .filter(|(p, _)| p.arn == arn)
    else {
        return Err(IamError::no_such_entity(format!(
            "Policy {arn} was not found."
        )));
    };
    if call.iam.mirror.attachment_count(&policy.arn) > 0 {
        return Err(IamError::delete_conflict(
            "Cannot delete a policy attached to entities.",
        ));
    }
    match repo::delete_at(&*call.iam.store, &key, revision).await? {
        Some(deleted) => {
            call.written(deleted).await;
            Ok(())
        }
        None => Err(IamError::Contended),
    }
}

/// Attach (`attach = true`) or detach a managed policy.
pub async fn attach(call: &Call<'_>, holder: Holder, attach: bool) -> Result<()> {
    let name = call.query.required(holder.name_param())?;
    let arn = call.query.required("PolicyArn")?;
    let verb = if attach { "Attach" } else { "Detach" };
    call.authorize(
        &format!("{verb}{}Policy", holder.noun()),
        &holder.arn(call, name).await?,
    )?;
    if attach && find(call, arn).await?.is_none() {
        return Err(no_such_policy(arn));
    }
    let quota = format!(
        "Cannot exceed quota for PoliciesPer{}: {ATTACHED_PER_ENTITY}",
        holder.noun()
    );
    let revision = holder
        .modify(call, name, |_, attached| {
            let present = attached.iter().any(|a| a == arn);
            match (attach, present) {
                (true, true) => Ok(()),
                (true, false) if attached.len() >= ATTACHED_PER_ENTITY => {
                    Err(IamError::api(409, "LimitExceeded", quota.clone()))
                }
                (true, false) => {
                    attached.push(arn.to_string());
                    Ok(())
                }
                (false, true) => {
                    attached.retain(|a| a != arn);
                    Ok(())
                }
                (false, false) => Err(IamError::no_such_entity(format!(
                    "Policy {arn} was not found."
                ))),
            }
        })
        .await?;
    call.written(revision).await;
    Ok(())
}

pub async fn list_attached(call: &Call<'_>, holder: Holder) -> Result<String> {
    let name = call.query.required(holder.name_param())?;
    call.authorize(
        &format!("ListAttached{}Policies", holder.noun()),
        &holder.arn(call, name).await?,
    )?;
    let (_, _, attached) = holder.read(call, name).await?;
    let mut xml = Xml::new();
    xml.members("AttachedPolicies", &attached, |x, arn| {
        x.text("PolicyName", policy_name(arn))
            .text("PolicyArn", arn);
    });
    xml.text("IsTruncated", "false");
    Ok(xml.into_string())
}
