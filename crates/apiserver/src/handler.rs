//! The request pipeline: authenticate, route, authorize, dispatch.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::authn::User;
use crate::codec::{self, Representation};
use crate::object::CachedObject;
use crate::registry::Resource;
use crate::request::{Query, RequestInfo, Route};
use crate::response::{self, Body};
use crate::server::ApiServer;
use crate::status::ApiError;
use crate::{authn, authz, discovery, nonresource, read, subresources, write};

/// Everything a resource handler needs about one request.
#[derive(Clone)]
pub struct Ctx {
    pub server: Arc<ApiServer>,
    pub user: User,
    pub info: RequestInfo,
    pub resource: Arc<Resource>,
    pub query: Query,
    pub representation: Representation,
    pub content_type: Option<String>,
    pub user_agent: Option<String>,
}

impl Ctx {
    pub fn name(&self) -> Result<&str, ApiError> {
        self.info.name.as_deref().ok_or(ApiError::MethodNotAllowed)
    }

    pub fn namespace(&self) -> Option<&str> {
        if self.resource.info.namespaced() {
            self.info.namespace.as_deref()
        } else {
            None
        }
    }

    pub fn not_found(&self, name: &str) -> ApiError {
        ApiError::NotFound {
            group: self.resource.info.group.clone(),
            resource: self.resource.info.plural.clone(),
            name: name.to_string(),
        }
    }

    pub fn conflict(&self, name: &str) -> ApiError {
        ApiError::Conflict {
            group: self.resource.info.group.clone(),
            resource: self.resource.info.plural.clone(),
            name: name.to_string(),
            reason: "the object has been modified; please apply your changes to the latest version and try again"
                .into(),
        }
    }

    /// Present an object in the requested version. Versions of one resource share a schema
    /// here, so this only relabels apiVersion.
    pub fn convert(&self, mut value: Value) -> Value {
        if value.is_object() {
            value["apiVersion"] = Value::String(self.resource.info.api_version());
        }
        value
    }

    /// The manager recorded in managedFields: `fieldManager`, else derived from the user agent
    /// as upstream does (`kubectl/v1.32 ...` -> `kubectl`).
    pub fn field_manager(&self) -> Result<String, ApiError> {
        if let Some(manager) = self.query.field_manager()? {
            return Ok(manager);
        }
        let agent = self.user_agent.as_deref().unwrap_or("unknown");
        let first = agent.split('/').next().unwrap_or(agent);
        Ok(first
            .chars()
            .filter(|c| !c.is_control())
            .take(128)
            .collect())
    }

    pub fn object_response(&self, status: StatusCode, object: &CachedObject) -> Response<Body> {
        if object.api_version == self.resource.info.api_version() {
            return response::bytes_response(status, "application/json", object.json.clone());
        }
        match object.value() {
            Ok(value) => response::json(status, &self.convert(value)),
            Err(err) => response::error(&err),
        }
    }

    pub fn value_response(&self, status: StatusCode, value: &Value) -> Response<Body> {
        match self.representation {
            Representation::Table => {
                let revision = value["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0);
                match crate::table::build(self, std::slice::from_ref(value), revision, None, true) {
                    Ok(t) => crate::table::response(&t),
                    Err(err) => response::error(&err),
                }
            }
            _ => response::json(status, &self.convert(value.clone())),
        }
    }
}

/// Paths that answer without credentials.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/livez" | "/readyz" | "/version" | "/version/"
    ) || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

pub async fn handle<B>(
    server: Arc<ApiServer>,
    peer: authn::Peer,
    request: Request<B>,
) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = match handle_inner(&server, &peer, request).await {
        Ok(response) => response,
        Err(err) => response::error(&err),
    };
    server
        .metrics
        .observe(&method, response.status(), started.elapsed());
    tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
    response
}

async fn handle_inner<B>(
    server: &Arc<ApiServer>,
    peer: &authn::Peer,
    request: Request<B>,
) -> Result<Response<Body>, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let query = Query::parse(parts.uri.query());
    let header = |name: http::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };

    let user = match authn::authenticate(server, peer, &parts.headers).await? {
        Some(user) => user,
        None if is_public(&path) => User::anonymous(),
        None => return Err(ApiError::Unauthorized),
    };
    let user = authn::impersonate(server, user, &parts.headers)?;

    let route = crate::request::route(&parts.method, &path, &query);
    let info = match route {
        Route::Discovery(segments) => {
            authz::authorize_path(server, &user, &path, &parts.method)?;
            return discovery::serve(server, &segments, header(http::header::ACCEPT).as_deref());
        }
        Route::NonResource => {
            if !is_public(&path) {
                authz::authorize_path(server, &user, &path, &parts.method)?;
            }
            return nonresource::serve(
                server,
                &parts.method,
                &path,
                &query,
                header(http::header::ACCEPT).as_deref(),
            );
        }
        Route::Resource(info) => info,
    };

    let snapshot = server.registry.snapshot();
    let resource = snapshot
        .lookup(&info.group, &info.version, &info.resource)
        .ok_or(ApiError::NotFoundPath)?;
    if info.namespace.is_some() && !resource.info.namespaced() {
        return Err(ApiError::NotFoundPath);
    }
    if let Some(sub) = &info.subresource
        && resource.info.subresource(sub).is_none()
    {
        return Err(ApiError::NotFoundPath);
    }
    authz::authorize_resource(server, &user, &info)?;

    let representation = codec::negotiate(header(http::header::ACCEPT).as_deref())?;
    let body = collect_body(body).await?;
    let ctx = Ctx {
        server: server.clone(),
        user,
        info,
        resource,
        query,
        representation,
        content_type: header(http::header::CONTENT_TYPE),
        user_agent: header(http::header::USER_AGENT),
    };
    dispatch(&ctx, &parts.method, body).await
}

async fn collect_body<B>(body: B) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limited = http_body_util::Limited::new(body, codec::MAX_BODY_BYTES);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err)
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::TooLarge)
        }
        Err(err) => Err(ApiError::BadRequest(format!("reading request body: {err}"))),
    }
}

async fn dispatch(ctx: &Ctx, method: &Method, body: Bytes) -> Result<Response<Body>, ApiError> {
    if let Some(sub) = ctx.info.subresource.clone() {
        return subresources::serve(ctx, method, &sub, body).await;
    }
    if !ctx.resource.info.stored {
        return match ctx.info.verb {
            "create" => crate::reviews::create(ctx, body).await,
            _ => Err(ApiError::MethodNotAllowed),
        };
    }
    if !ctx.resource.info.has_verb(ctx.info.verb) {
        return Err(ApiError::MethodNotAllowed);
    }
    match ctx.info.verb {
        "get" => read::get(ctx).await,
        "list" => read::list(ctx).await,
        "watch" => read::watch(ctx).await,
        "create" => write::create(ctx, body).await,
        "update" => write::update(ctx, body).await,
        "patch" => write::patch(ctx, body).await,
        "delete" => write::delete(ctx, body).await,
        "deletecollection" => write::delete_collection(ctx, body).await,
        _ => Err(ApiError::MethodNotAllowed),
    }
}
