//! Paths outside the resource tree: version, health, metrics, OpenAPI and OIDC discovery.

use std::sync::Arc;

use crate::request::Query;
use crate::response::{self, Body};
use crate::server::ApiServer;
use crate::status::ApiError;
use http::{Method, Response, StatusCode};

pub fn serve(
    server: &Arc<ApiServer>,
    method: &Method,
    path: &str,
    query: &Query,
    accept: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    if *method != Method::GET && *method != Method::HEAD {
        return Err(ApiError::MethodNotAllowed);
    }
    match path.trim_end_matches('/') {
        "/version" => Ok(response::json(
            StatusCode::OK,
            &server.config.version_info(),
        )),
        "/healthz" | "/livez" | "/readyz" => Ok(health(server, query)),
        p if p.starts_with("/healthz/")
            || p.starts_with("/livez/")
            || p.starts_with("/readyz/") =>
        {
            Ok(response::text(StatusCode::OK, "ok"))
        }
        "/metrics" => Ok(response::bytes_response(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            server
                .metrics
                .render(&server.cache.object_counts(), server.cache.revision()),
        )),
        "/openapi/v3" => Ok(response::json(
            StatusCode::OK,
            &server.openapi.index(&server.registry.snapshot()),
        )),
        p if p.starts_with("/openapi/v3/") => {
            let gv = &p["/openapi/v3/".len()..];
            let document = server
                .openapi
                .document(&server.registry.snapshot(), gv)
                .ok_or(ApiError::NotFoundPath)?;
            let mut response =
                response::bytes_response(StatusCode::OK, "application/json", document);
            if query.get("hash").is_some() {
                response.headers_mut().insert(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static("public, immutable"),
                );
            }
            Ok(response)
        }
        "/openapi/v2" => server.openapi.v2(&server.registry.snapshot(), accept),
        "/.well-known/openid-configuration" => Ok(response::json(
            StatusCode::OK,
            &server
                .service_accounts
                .openid_configuration(&server.config.issuer_jwks_url()),
        )),
        "/openid/v1/jwks" => Ok(response::bytes_response(
            StatusCode::OK,
            "application/jwk-set+json",
            serde_json::to_vec(&server.service_accounts.jwks()).unwrap_or_default(),
        )),
        _ => Err(ApiError::NotFoundPath),
    }
}

fn health(server: &ApiServer, query: &Query) -> Response<Body> {
    if !server.is_ready() {
        return response::text(
            StatusCode::SERVICE_UNAVAILABLE,
            "[-]watch-cache failed: not ready\nhealthz check failed",
        );
    }
    if query.flag("verbose") {
        return response::text(
            StatusCode::OK,
            "[+]ping ok\n[+]etcd ok\n[+]watch-cache ok\nhealthz check passed\n",
        );
    }
    response::text(StatusCode::OK, "ok")
}
