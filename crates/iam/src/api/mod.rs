//! IAM's query-protocol API (version 2010-05-08).

mod inline;
mod keys;
mod managed;
mod roles;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use keelson_aws_core::{AwsService, Principal};

use crate::error::{IamError, Result};
use crate::query::{self, QueryRequest};
use crate::{IAM_NAMESPACE, Iam};

/// IAM, served as the `iam` service of the front door.
pub struct IamService {
    iam: Arc<Iam>,
}

impl IamService {
    pub fn new(iam: Arc<Iam>) -> IamService {
        IamService { iam }
    }
}

/// One call: who asks, what they sent.
pub(crate) struct Call<'a> {
    pub iam: &'a Iam,
    pub caller: &'a Principal,
    pub query: &'a QueryRequest,
}

impl Call<'_> {
    pub fn authorize(&self, action: &str, resource: &str) -> Result<()> {
        self.iam
            .authorize(self.caller, &format!("iam:{action}"), resource)
    }

    pub fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}{path}{name}", self.iam.account_id())
    }

    /// Answers only once the policy mirror has seen the write, so the caller's next request is
    /// evaluated against it.
    pub async fn written(&self, revision: i64) {
        self.iam.mirror.caught_up(revision).await;
    }
}

#[async_trait]
impl AwsService for IamService {
    async fn handle(
        &self,
        caller: &Principal,
        request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        let request_id = query::request_id(&request);
        let query = QueryRequest::parse(&request);
        let call = Call {
            iam: &self.iam,
            caller,
            query: &query,
        };
        match dispatch(&call).await {
            Ok(result) => query::response(IAM_NAMESPACE, &query.action, result, &request_id),
            Err(error) => error.into_aws().to_query_xml(IAM_NAMESPACE, &request_id),
        }
    }
}

/// The `…Result` content of each action (`None` for actions that answer only metadata).
async fn dispatch(call: &Call<'_>) -> Result<Option<String>> {
    if let Some(version) = call.query.get("Version")
        && version != "2010-05-08"
    {
        return Err(IamError::api(
            400,
            "InvalidAction",
            format!(
                "Could not find operation {} for version {version}",
                call.query.action
            ),
        ));
    }
    match call.query.action.as_str() {
        "CreateUser" => users::create(call).await.map(Some),
        "GetUser" => users::get(call).await.map(Some),
        "ListUsers" => users::list(call).await.map(Some),
        "DeleteUser" => users::delete(call).await.map(|()| None),
        "CreateAccessKey" => keys::create(call).await.map(Some),
        "ListAccessKeys" => keys::list(call).await.map(Some),
        "UpdateAccessKey" => keys::update(call).await.map(|()| None),
        "DeleteAccessKey" => keys::delete(call).await.map(|()| None),
        "CreateRole" => roles::create(call).await.map(Some),
        "GetRole" => roles::get(call).await.map(Some),
        "ListRoles" => roles::list(call).await.map(Some),
        "DeleteRole" => roles::delete(call).await.map(|()| None),
        "UpdateAssumeRolePolicy" => roles::update_trust(call).await.map(|()| None),
        "PutUserPolicy" => inline::put(call, inline::Holder::User).await.map(|()| None),
        "GetUserPolicy" => inline::get(call, inline::Holder::User).await.map(Some),
        "ListUserPolicies" => inline::list(call, inline::Holder::User).await.map(Some),
        "DeleteUserPolicy" => inline::delete(call, inline::Holder::User)
            .await
            .map(|()| None),
        "PutRolePolicy" => inline::put(call, inline::Holder::Role).await.map(|()| None),
        "GetRolePolicy" => inline::get(call, inline::Holder::Role).await.map(Some),
        "ListRolePolicies" => inline::list(call, inline::Holder::Role).await.map(Some),
        "DeleteRolePolicy" => inline::delete(call, inline::Holder::Role)
            .await
            .map(|()| None),
        "CreatePolicy" => managed::create(call).await.map(Some),
        "GetPolicy" => managed::get(call).await.map(Some),
        "GetPolicyVersion" => managed::get_version(call).await.map(Some),
        "ListPolicies" => managed::list(call).await.map(Some),
        "DeletePolicy" => managed::delete(call).await.map(|()| None),
        "AttachUserPolicy" => managed::attach(call, inline::Holder::User, true)
            .await
            .map(|()| None),
        "DetachUserPolicy" => managed::attach(call, inline::Holder::User, false)
            .await
            .map(|()| None),
        "AttachRolePolicy" => managed::attach(call, inline::Holder::Role, true)
            .await
            .map(|()| None),
        "DetachRolePolicy" => managed::attach(call, inline::Holder::Role, false)
            .await
            .map(|()| None),
        "ListAttachedUserPolicies" => managed::list_attached(call, inline::Holder::User)
            .await
            .map(Some),
        "ListAttachedRolePolicies" => managed::list_attached(call, inline::Holder::Role)
            .await
            .map(Some),
        "" => Err(IamError::api(400, "MissingAction", "Missing Action")),
        other => Err(IamError::api(
            400,
            "InvalidAction",
            format!("Could not find operation {other} for version 2010-05-08"),
        )),
    }
}

/// User, role and policy names: 1–`max` characters of `[\w+=,.@-]`.
pub(crate) fn validate_name(field: &str, name: &str, max: usize) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(IamError::validation(format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length between 1 and {max}"
        )))
    }
}

/// `/` or `/a/b/`: printable ASCII between slashes.
pub(crate) fn validate_path(path: &str) -> Result<()> {
    let valid = path == "/"
        || (path.len() <= 512
            && path.len() >= 2
            && path.starts_with('/')
            && path.ends_with('/')
            && path.chars().all(|c| ('!'..='~').contains(&c)));
    if valid {
        Ok(())
    } else {
        Err(IamError::validation(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters: {path}"
        )))
    }
}
