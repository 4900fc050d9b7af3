//! Authorization through RBAC. The authorizer is rebuilt from the watch cache whenever a Role,
//! ClusterRole or binding changes, so a request never waits on storage. EKS access policies
//! (for users signed in with AWS tokens) are consulted before RBAC.

pub mod access_policies;

use http::Method;

use crate::authn::User;
use crate::request::RequestInfo;
use crate::server::ApiServer;
use crate::status::ApiError;

fn forbidden_message(user: &User, verb: &str, info: &RequestInfo) -> String {
    let resource = match &info.subresource {
        Some(sub) => format!("{}/{sub}", info.resource),
        None => info.resource.clone(),
    };
    let target = match &info.name {
        Some(name) => format!("{} \"{name}\"", info.resource),
        None => info.resource.clone(),
    };
    let scope = match &info.namespace {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None if info.resource == "namespaces" => String::new(),
        None => " at the cluster scope".into(),
    };
    format!(
        "{target} is forbidden: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"{}\"{scope}",
        user.name, info.group
    )
}

pub fn authorize_resource(
    server: &ApiServer,
    user: &User,
    info: &RequestInfo,
) -> Result<(), ApiError> {
    let attributes = keelson_auth::rbac::ResourceAttributes {
        verb: info.verb.to_string(),
        group: info.group.clone(),
        resource: info.resource.clone(),
        subresource: info.subresource.clone().unwrap_or_default(),
        name: info.name.clone().unwrap_or_default(),
        namespace: info.namespace.clone().unwrap_or_default(),
    };
    if resource_decision(server, user, &attributes).allowed {
        return Ok(());
    }
    Err(ApiError::Forbidden {
        message: forbidden_message(user, info.verb, info),
        resource: info.resource.clone(),
        group: info.group.clone(),
        name: info.name.clone().unwrap_or_default(),
    })
}

/// Access policies, then RBAC.
pub fn resource_decision(
    server: &ApiServer,
    user: &User,
    attributes: &keelson_auth::rbac::ResourceAttributes,
) -> keelson_auth::rbac::Decision {
    access_policies::allow_resource(server, user, attributes).unwrap_or_else(|| {
        server
            .authorizer()
            .authorize_resource(&user.to_auth(), attributes)
    })
}

/// Access policies, then RBAC.
pub fn non_resource_decision(
    server: &ApiServer,
    user: &User,
    verb: &str,
    path: &str,
) -> keelson_auth::rbac::Decision {
    access_policies::allow_non_resource(server, user, verb, path).unwrap_or_else(|| {
        server
            .authorizer()
            .authorize_non_resource(&user.to_auth(), verb, path)
    })
}

pub fn authorize_path(
    server: &ApiServer,
    user: &User,
    path: &str,
    method: &Method,
) -> Result<(), ApiError> {
    let verb = match *method {
        Method::GET | Method::HEAD => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    };
    if non_resource_decision(server, user, verb, path).allowed {
        return Ok(());
    }
    Err(ApiError::Forbidden {
        message: format!(
            "forbidden: User \"{}\" cannot {verb} path \"{path}\"",
            user.name
        ),
        resource: String::new(),
        group: String::new(),
        name: String::new(),
    })
}

pub fn authorize_impersonation(
    server: &ApiServer,
    user: &User,
    resource: &str,
    group: &str,
    namespace: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    let info = RequestInfo {
        group: group.into(),
        version: "v1".into(),
        namespace: namespace.map(str::to_string),
        resource: resource.into(),
        name: Some(name.into()),
        subresource: None,
        verb: "impersonate",
    };
    authorize_resource(server, user, &info)
}
