//! Turning an HTTP request line into Kubernetes request attributes, as upstream's
//! RequestInfoFactory does, and parsing the query options the verbs accept.

use crate::status::ApiError;
use std::collections::HashMap;

/// What a resource request addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: &'static str,
}

/// The path shapes the server understands.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// `/api/v1/...` or `/apis/g/v/...` with at least a resource.
    Resource(RequestInfo),
    /// `/api`, `/apis`, `/api/v1`, `/apis/g`, `/apis/g/v`.
    Discovery(Vec<String>),
    /// Anything else (health, version, openapi, metrics...): matched by path.
    NonResource,
}

/// Subresources of a namespace addressed as `/api/v1/namespaces/{name}/{sub}`.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

pub fn route(method: &http::Method, path: &str, query: &Query) -> Route {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api"] => return Route::Discovery(vec!["api".into()]),
        ["apis"] => return Route::Discovery(vec!["apis".into()]),
        ["api", v] => return Route::Discovery(vec!["api".into(), v.to_string()]),
        ["apis", g] => return Route::Discovery(vec!["apis".into(), g.to_string()]),
        ["apis", g, v] => {
            return Route::Discovery(vec!["apis".into(), g.to_string(), v.to_string()]);
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::NonResource,
    };
    let mut info = RequestInfo {
        group: group.into(),
        version: version.into(),
        ..Default::default()
    };
    let mut rest: &[&str] = rest;
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            info.namespace = Some(rest[1].to_string());
            rest = &rest[2..];
        } else {
            // The namespace object itself (or its status/finalize subresource).
        }
    }
    info.resource = rest[0].to_string();
    info.name = rest.get(1).map(|s| s.to_string());
    info.subresource = rest.get(2).map(|s| s.to_string());
    if rest.len() > 3 && info.subresource.as_deref() != Some("proxy") {
        return Route::NonResource;
    }
    info.verb = match (method.as_str(), info.name.is_some()) {
        ("GET" | "HEAD", true) => "get",
        ("GET" | "HEAD", false) if query.flag("watch") => "watch",
        ("GET" | "HEAD", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    };
    Route::Resource(info)
}

/// Decoded query parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(pub HashMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let map = raw
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        Query(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A boolean parameter, read as Go's `strconv.ParseBool` does (the Python client sends
    /// `watch=True`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.0.get(key).map(String::as_str),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        )
    }

    pub fn parse_int<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::BadRequest(format!("invalid value for {key}: {v:?}"))),
        }
    }

    /// `dryRun=All` (the only value upstream accepts).
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.0.get("dryRun").map(String::as_str) {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::BadRequest(format!(
                "Invalid dry run value: {other:?}: supported values: \"All\""
            ))),
        }
    }

    pub fn field_validation(&self) -> Result<FieldValidation, ApiError> {
        match self.get("fieldValidation") {
            None | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::BadRequest(format!(
                "fieldValidation parameter unsupported value: {other:?}: supported values: \"Ignore\", \"Warn\", \"Strict\""
            ))),
        }
    }

    pub fn field_manager(&self) -> Result<Option<String>, ApiError> {
        match self.get("fieldManager") {
            Some(m) if m.len() > 128 => Err(ApiError::BadRequest(
                "fieldManager: Too long: may not be longer than 128".into(),
            )),
            Some(m) if m.chars().any(|c| c.is_control()) => Err(ApiError::BadRequest(
                "fieldManager: Invalid value: must only contain printable characters".into(),
            )),
            other => Ok(other.map(str::to_string)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn info(method: Method, path: &str, query: &str) -> RequestInfo {
        match route(&method, path, &Query::parse(Some(query))) {
            Route::Resource(info) => info,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn parses_namespaced_and_cluster_paths() {
        let i = info(Method::GET, "/api/v1/namespaces/default/pods/p1/log", "");
        assert_eq!(
            (i.group.as_str(), i.resource.as_str(), i.verb),
            ("", "pods", "get")
        );
        assert_eq!(i.namespace.as_deref(), Some("default"));
        assert_eq!(i.subresource.as_deref(), Some("log"));
        let i = info(Method::GET, "/apis/apps/v1/deployments", "watch=true");
        assert_eq!(
            (i.group.as_str(), i.verb, i.namespace),
            ("apps", "watch", None)
        );
        let i = info(Method::PUT, "/api/v1/namespaces/ns1/finalize", "");
        assert_eq!(
            (
                i.resource.as_str(),
                i.name.as_deref(),
                i.subresource.as_deref()
            ),
            ("namespaces", Some("ns1"), Some("finalize"))
        );
        let i = info(Method::GET, "/api/v1/namespaces/ns1", "");
        assert_eq!(
            (i.resource.as_str(), i.name.as_deref(), i.namespace),
            ("namespaces", Some("ns1"), None)
        );
        let i = info(Method::DELETE, "/api/v1/namespaces/ns1/configmaps", "");
        assert_eq!(i.verb, "deletecollection");
    }

    #[test]
    fn discovery_paths() {
        let q = Query::default();
        assert_eq!(
            route(&Method::GET, "/apis/apps", &q),
            Route::Discovery(vec!["apis".into(), "apps".into()])
        );
        assert_eq!(route(&Method::GET, "/healthz", &q), Route::NonResource);
    }
}
