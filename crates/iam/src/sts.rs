//! STS (version 2011-06-15): GetCallerIdentity and AssumeRole.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{Duration, Utc};
use keelson_aws_core::{AwsService, Principal, PrincipalKind};

use crate::authz::denial_message;
use crate::error::{IamError, Result};
use crate::model::{Role, Session, iso8601, keys};
use crate::policy::{
    Decision, PolicyDocument, PolicyKind, TrustCaller, TrustGrant, evaluate_trust,
};
use crate::query::{self, QueryRequest, Xml};
use crate::{Iam, STS_NAMESPACE, ids, repo};

/// STS, served as the `sts` service of the front door.
pub struct StsService {
    iam: Arc<Iam>,
}

impl StsService {
    pub fn new(iam: Arc<Iam>) -> StsService {
        StsService { iam }
    }
}

#[async_trait]
impl AwsService for StsService {
    async fn handle(
        &self,
        caller: &Principal,
        request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        let request_id = query::request_id(&request);
        let query = QueryRequest::parse(&request);
        let wants_json = request
            .headers()
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        let result = match query.action.as_str() {
            "GetCallerIdentity" if wants_json => return caller_identity_json(caller, &request_id),
            "GetCallerIdentity" => Ok(caller_identity_xml(caller)),
            "AssumeRole" => assume_role(&self.iam, caller, &query).await,
            "" => Err(IamError::api(400, "MissingAction", "Missing Action")),
            other => Err(IamError::api(
                400,
                "InvalidAction",
                format!("Could not find operation {other} for version 2011-06-15"),
            )),
        };
        match result {
            Ok(result) => query::response(STS_NAMESPACE, &query.action, Some(result), &request_id),
            Err(error) => error.into_aws().to_query_xml(STS_NAMESPACE, &request_id),
        }
    }
}

fn caller_identity_xml(caller: &Principal) -> String {
    let mut xml = Xml::new();
    xml.text("Arn", &caller.arn)
        .text("UserId", &caller.user_id)
        .text("Account", &caller.account_id);
    xml.into_string()
}

/// The JSON form aws-iam-authenticator asks for (`Accept: application/json`).
fn caller_identity_json(caller: &Principal, request_id: &str) -> http::Response<Bytes> {
    let body = serde_json::json!({
        "GetCallerIdentityResponse": {
            "GetCallerIdentityResult": {
                "Account": caller.account_id,
                "Arn": caller.arn,
                "UserId": caller.user_id,
            },
            "ResponseMetadata": { "RequestId": request_id },
        }
    });
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("x-amzn-RequestId", request_id)
        .body(Bytes::from(body.to_string()))
        .expect("static header names")
}

const MIN_DURATION: i64 = 900;
/// Role chaining (an assumed role assuming a role) is limited to one hour, as in AWS.
const CHAINED_MAX_DURATION: i64 = 3600;

fn validate_session_name(name: &str) -> Result<()> {
    let valid = (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(IamError::validation(format!(
            "1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64"
        )))
    }
}

async fn assume_role(iam: &Iam, caller: &Principal, query: &QueryRequest) -> Result<String> {
    let role_arn = query.required("RoleArn")?;
    let session_name = query.required("RoleSessionName")?;
    validate_session_name(session_name)?;
    for unsupported in [
        "Policy",
        "PolicyArns.member.1.arn",
        "Tags.member.1.Key",
        "SerialNumber",
        "TokenCode",
        "SourceIdentity",
    ] {
        if query.get(unsupported).is_some() {
            let parameter = unsupported.split('.').next().unwrap_or(unsupported);
            return Err(IamError::validation(format!(
                "Keelson does not support the AssumeRole parameter {parameter}"
            )));
        }
    }
    if caller.is_root() {
        return Err(IamError::access_denied(
            "Roles may not be assumed by root accounts.",
        ));
    }
    let denied = |decision| {
        IamError::access_denied(denial_message(caller, "sts:AssumeRole", role_arn, decision))
    };
    let role_name = role_arn.rsplit('/').next().unwrap_or_default();
    let role = repo::get::<Role>(&*iam.store, &keys::role(role_name))
        .await?
        .map(|(r, _)| r)
        .filter(|r| r.arn == role_arn)
        .ok_or_else(|| denied(Decision::ImplicitDeny))?;

    let chained = matches!(caller.kind, PrincipalKind::AssumedRole { .. });
    let max = if chained {
        CHAINED_MAX_DURATION
    } else {
        role.max_session_duration
    };
    let duration = query.integer("DurationSeconds")?.unwrap_or(3600);
    if duration < MIN_DURATION {
        return Err(IamError::validation(format!(
            "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {MIN_DURATION}"
        )));
    }
    if duration > max {
        return Err(IamError::validation(if chained {
            format!(
                "The requested DurationSeconds exceeds the {CHAINED_MAX_DURATION} second limit for role chaining."
            )
        } else {
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .to_string()
        }));
    }

    let mut context = iam.context_for(caller, "sts:AssumeRole", role_arn);
    context
        .values
        .insert("sts:rolesessionname".into(), session_name.to_string());
    if let Some(external_id) = query.get("ExternalId") {
        context
            .values
            .insert("sts:externalid".into(), external_id.to_string());
    }
    let trust = PolicyDocument::parse(&role.assume_role_policy, PolicyKind::Trust)
        .map_err(IamError::malformed_policy)?;
    let trust_caller = TrustCaller {
        account_id: &caller.account_id,
        arn: &caller.arn,
        role_arn: match &caller.kind {
            PrincipalKind::AssumedRole { role_arn, .. } => Some(role_arn),
            _ => None,
        },
    };
    let identity = iam.decide(caller, &context);
    let allowed = match (evaluate_trust(&trust, &trust_caller, &context), identity) {
        (TrustGrant::Denied, _) | (_, Decision::ExplicitDeny) => false,
        (TrustGrant::Caller, _) => true,
        (TrustGrant::Account, decision) => decision == Decision::Allow,
        (TrustGrant::None, _) => false,
    };
    if !allowed {
        return Err(denied(identity));
    }

    let token = ids::session_token();
    let session = Session {
        access_key_id: ids::access_key_id(true),
        secret_access_key: ids::secret_access_key(),
        session_token_sha256: ids::sha256_hex(token.as_bytes()),
        role_name: role.name.clone(),
        role_arn: role.arn.clone(),
        role_id: role.role_id.clone(),
        session_name: session_name.to_string(),
        expiration: Utc::now() + Duration::seconds(duration),
    };
    // The store forgets the session a minute after it expires.
    let lease = iam.store.lease_grant(duration + 60).await?;
    if repo::create(
        &*iam.store,
        &keys::session(&session.access_key_id),
        &session,
        Some(lease),
    )
    .await?
    .is_none()
    {
        return Err(IamError::Contended);
    }
    tracing::info!(role = %role.arn, session = %session_name, caller = %caller.arn, "role assumed");
    let mut xml = Xml::new();
    xml.element("Credentials", |x| {
        x.text("AccessKeyId", &session.access_key_id)
            .text("SecretAccessKey", &session.secret_access_key)
            .text("SessionToken", &token)
            .text("Expiration", &iso8601(&session.expiration));
    });
    xml.element("AssumedRoleUser", |x| {
        x.text(
            "AssumedRoleId",
            &format!("{}:{}", role.role_id, session_name),
        )
        .text(
            "Arn",
            &format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                iam.account_id(),
                role.name,
                session_name
            ),
        );
    });
    Ok(xml.into_string())
}
