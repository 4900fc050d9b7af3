//! Virtual resources answered without storage: access and token reviews, SelfSubjectReview and
//! TokenRequest.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::authn::User;
use crate::handler::Ctx;
use crate::response::{self, Body};
use crate::status::ApiError;

pub async fn create(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let mut review = crate::codec::decode_object(ctx.content_type.as_deref(), &body)?;
    review["apiVersion"] = json!(ctx.resource.info.api_version());
    review["kind"] = json!(ctx.resource.info.kind);
    let status = match (
        ctx.resource.info.group.as_str(),
        ctx.resource.info.plural.as_str(),
    ) {
        ("authorization.k8s.io", "selfsubjectaccessreviews") => {
            access_review(ctx, &ctx.user, &review["spec"])
        }
        ("authorization.k8s.io", "subjectaccessreviews" | "localsubjectaccessreviews") => {
            let spec = &review["spec"];
            if ctx.resource.info.plural == "localsubjectaccessreviews"
                && spec
                    .pointer("/resourceAttributes/namespace")
                    .and_then(Value::as_str)
                    != ctx.info.namespace.as_deref()
            {
                return Err(ApiError::BadRequest(
                    "spec.resourceAttributes.namespace must match the namespace of the request"
                        .into(),
                ));
            }
            let subject = User {
                name: spec["user"].as_str().unwrap_or_default().to_string(),
                uid: spec["uid"].as_str().unwrap_or_default().to_string(),
                groups: strings(&spec["groups"]),
                extra: spec["extra"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), strings(v))).collect())
                    .unwrap_or_default(),
            };
            access_review(ctx, &subject, spec)
        }
        ("authorization.k8s.io", "selfsubjectrulesreviews") => rules_review(ctx, &review["spec"]),
        ("authentication.k8s.io", "selfsubjectreviews") => json!({"userInfo": ctx.user.to_json()}),
        ("authentication.k8s.io", "tokenreviews") => token_review(ctx, &review["spec"]).await,
        _ => return Err(ApiError::MethodNotAllowed),
    };
    review["status"] = status;
    if review.get("metadata").is_none() {
        review["metadata"] = json!({});
    }
    Ok(response::json(StatusCode::CREATED, &review))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn access_review(ctx: &Ctx, subject: &User, spec: &Value) -> Value {
    let decision = if let Some(attrs) = spec.get("resourceAttributes").filter(|v| v.is_object()) {
        let text = |f: &str| attrs[f].as_str().unwrap_or_default().to_string();
        crate::authz::resource_decision(
            &ctx.server,
            subject,
            &keelson_auth::rbac::ResourceAttributes {
                verb: text("verb"),
                group: text("group"),
                resource: text("resource"),
                subresource: text("subresource"),
                name: text("name"),
                namespace: text("namespace"),
            },
        )
    } else if let Some(attrs) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
        crate::authz::non_resource_decision(
            &ctx.server,
            subject,
            attrs["verb"].as_str().unwrap_or_default(),
            attrs["path"].as_str().unwrap_or_default(),
        )
    } else {
        return json!({"allowed": false, "evaluationError": "spec.resourceAttributes or spec.nonResourceAttributes is required"});
    };
    let mut status = json!({"allowed": decision.allowed});
    if !decision.reason.is_empty() {
        status["reason"] = json!(decision.reason);
    }
    status
}

fn rules_review(ctx: &Ctx, spec: &Value) -> Value {
    let namespace = spec["namespace"].as_str().unwrap_or_default();
    let (mut resource_rules, mut non_resource_rules) = ctx
        .server
        .authorizer()
        .rules_for(&ctx.user.to_auth(), namespace);
    crate::authz::access_policies::add_rules(
        &ctx.server,
        &ctx.user,
        namespace,
        &mut resource_rules,
        &mut non_resource_rules,
    );
    json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
}

async fn token_review(ctx: &Ctx, spec: &Value) -> Value {
    let token = spec["token"].as_str().unwrap_or_default();
    let user = match crate::authn::aws::authenticate(&ctx.server, token).await {
        Some(aws) => aws.ok(),
        None => crate::authn::authenticate_token(&ctx.server, token),
    };
    match user {
        Some(user) => {
            let mut user = user;
            if !user.groups.iter().any(|g| g == "system:authenticated") {
                user.groups.push("system:authenticated".into());
            }
            json!({"authenticated": true, "user": user.to_json(), "audiences": ctx.server.config.api_audiences})
        }
        None => json!({"authenticated": false, "error": "invalid bearer token"}),
    }
}

/// serviceaccounts/token: a TokenRequest answered with a signed JWT.
pub async fn token_request(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?.to_string();
    let namespace = ctx.namespace().unwrap_or_default().to_string();
    let mut request = crate::codec::decode_object(ctx.content_type.as_deref(), &body)?;
    let sa_key = crate::object::storage_key("", "serviceaccounts", Some(&namespace), &name);
    let sa = ctx
        .server
        .cache
        .get("", "serviceaccounts", &sa_key)
        .ok_or_else(|| ctx.not_found(&name))?
        .value()?;
    let spec = &request["spec"];
    let mut audiences = strings(&spec["audiences"]);
    if audiences.is_empty() {
        audiences = ctx.server.config.api_audiences.clone();
    }
    let expiration = spec["expirationSeconds"].as_i64().unwrap_or(3600);
    if expiration < 600 {
        return Err(ApiError::Invalid {
            group: "authentication.k8s.io".into(),
            kind: "TokenRequest".into(),
            name,
            causes: vec![crate::status::FieldCause {
                reason: "FieldValueInvalid".into(),
                message: "may not specify a duration less than 10 minutes".into(),
                field: "spec.expirationSeconds".into(),
            }],
        });
    }
    let mut pod = None;
    if let Some(bound) = spec.get("boundObjectRef").filter(|b| b.is_object()) {
        let kind = bound["kind"].as_str().unwrap_or_default();
        let bound_name = bound["name"].as_str().unwrap_or_default();
        if kind == "Pod" {
            let key = crate::object::storage_key("", "pods", Some(&namespace), bound_name);
            let object =
                ctx.server
                    .cache
                    .get("", "pods", &key)
                    .ok_or_else(|| ApiError::NotFound {
                        group: String::new(),
                        resource: "pods".into(),
                        name: bound_name.into(),
                    })?;
            let uid = object.value()?["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            pod = Some((bound_name.to_string(), uid));
        }
    }
    let issued = ctx
        .server
        .service_accounts
        .issue(&keelson_auth::serviceaccount::TokenSpec {
            namespace: namespace.clone(),
            service_account_name: name.clone(),
            service_account_uid: sa["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            audiences: audiences.clone(),
            expiration_seconds: expiration,
            pod,
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    request["apiVersion"] = json!("authentication.k8s.io/v1");
    request["kind"] = json!("TokenRequest");
    request["metadata"] = json!({"name": name, "namespace": namespace, "creationTimestamp": crate::write::now_rfc3339()});
    request["spec"]["audiences"] = json!(audiences);
    request["spec"]["expirationSeconds"] = json!(expiration);
    request["status"] =
        json!({"token": issued.token, "expirationTimestamp": issued.expiration_timestamp});
    Ok(response::json(StatusCode::CREATED, &request))
}
