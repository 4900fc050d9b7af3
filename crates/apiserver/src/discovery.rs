//! API discovery: the legacy documents (/api, /apis, /api/v1, /apis/g, /apis/g/v) and the
//! aggregated apidiscovery.k8s.io/v2 documents kubectl asks for first.

use std::sync::Arc;

use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::registry::{Resource, Snapshot};
use crate::response::{self, Body};
use crate::server::ApiServer;
use crate::status::ApiError;

fn wants_aggregated(accept: Option<&str>) -> Option<&'static str> {
    let accept = accept?;
    for entry in accept.split(',') {
        let params: Vec<&str> = entry.split(';').map(str::trim).collect();
        let has = |p: &str| params.contains(&p);
        if has("g=apidiscovery.k8s.io") && has("as=APIGroupDiscoveryList") {
            if has("v=v2") {
                return Some("v2");
            }
            if has("v=v2beta1") {
                return Some("v2beta1");
            }
        }
    }
    None
}

pub fn serve(
    server: &Arc<ApiServer>,
    segments: &[String],
    accept: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let snapshot = server.registry.snapshot();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["api"] => match wants_aggregated(accept) {
            Some(version) => Ok(aggregated(&snapshot, true, version)),
            None => Ok(response::json(
                StatusCode::OK,
                &json!({"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server.config.advertise_address()}]}),
            )),
        },
        ["apis"] => match wants_aggregated(accept) {
            Some(version) => Ok(aggregated(&snapshot, false, version)),
            None => {
                let groups: Vec<Value> = snapshot
                    .groups
                    .iter()
                    .filter(|(g, _)| !g.is_empty())
                    .map(|(g, v)| api_group(g, v))
                    .collect();
                Ok(response::json(
                    StatusCode::OK,
                    &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
                ))
            }
        },
        ["api", version] => resource_list(&snapshot, "", version),
        ["apis", group] => match snapshot.group_versions(group) {
            Some(versions) if !group.is_empty() => {
                Ok(response::json(StatusCode::OK, &api_group(group, versions)))
            }
            _ => Err(ApiError::NotFoundPath),
        },
        ["apis", group, version] => resource_list(&snapshot, group, version),
        _ => Err(ApiError::NotFoundPath),
    }
}

fn api_group(group: &str, versions: &[String]) -> Value {
    let gv = |v: &String| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    json!({
        "kind": "APIGroup", "apiVersion": "v1", "name": group,
        "versions": versions.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": gv(&versions[0]),
    })
}

fn resource_list(
    snapshot: &Snapshot,
    group: &str,
    version: &str,
) -> Result<Response<Body>, ApiError> {
    if snapshot
        .group_versions(group)
        .is_none_or(|v| !v.iter().any(|x| x == version))
    {
        return Err(ApiError::NotFoundPath);
    }
    let mut resources = Vec::new();
    for resource in snapshot.resources_of(group, version) {
        resources.push(legacy_entry(resource));
        for sub in &resource.info.subresources {
            let mut entry = json!({
                "name": format!("{}/{}", resource.info.plural, sub.name),
                "singularName": "",
                "namespaced": resource.info.namespaced(),
                "kind": sub.kind.kind,
                "verbs": sub.verbs,
            });
            if sub.kind.group != group || sub.kind.version != version {
                entry["group"] = json!(sub.kind.group);
                entry["version"] = json!(sub.kind.version);
            }
            resources.push(entry);
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok(response::json(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    ))
}

fn legacy_entry(resource: &Resource) -> Value {
    let info = &resource.info;
    let mut entry = json!({
        "name": info.plural, "singularName": info.singular, "namespaced": info.namespaced(),
        "kind": info.kind, "verbs": info.verbs,
    });
    if !info.short_names.is_empty() {
        entry["shortNames"] = json!(info.short_names);
    }
    if !info.categories.is_empty() {
        entry["categories"] = json!(info.categories);
    }
    if info.stored {
        entry["storageVersionHash"] =
            json!(storage_version_hash(&info.group, &info.version, &info.kind));
    }
    entry
}

/// Upstream's storageVersionHash: base64 of the first 8 bytes of sha256("group/version/kind").
fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

fn aggregated(snapshot: &Snapshot, core: bool, version: &str) -> Response<Body> {
    let mut items = Vec::new();
    for (group, versions) in &snapshot.groups {
        if group.is_empty() != core {
            continue;
        }
        let versions: Vec<Value> = versions
            .iter()
            .map(|v| {
                let resources: Vec<Value> = snapshot
                    .resources_of(group, v)
                    .map(aggregated_resource)
                    .collect();
                json!({"version": v, "resources": resources, "freshness": "Current"})
            })
            .collect();
        items.push(
            json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions}),
        );
    }
    let body = json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items});
    let mut response = response::bytes_response(
        StatusCode::OK,
        &format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"),
        serde_json::to_vec(&body).unwrap_or_default(),
    );
    response
        .headers_mut()
        .insert(http::header::VARY, http::HeaderValue::from_static("Accept"));
    response
}

fn aggregated_resource(resource: &Arc<Resource>) -> Value {
    let info = &resource.info;
    let kind = |g: &str, v: &str, k: &str| json!({"group": g, "version": v, "kind": k});
    let mut entry = json!({
        "resource": info.plural,
        "responseKind": kind(&info.group, &info.version, &info.kind),
        "scope": if info.namespaced() { "Namespaced" } else { "Cluster" },
        "singularResource": info.singular,
        "verbs": info.verbs,
    });
    if !info.short_names.is_empty() {
        entry["shortNames"] = json!(info.short_names);
    }
    if !info.categories.is_empty() {
        entry["categories"] = json!(info.categories);
    }
    if !info.subresources.is_empty() {
        entry["subresources"] = json!(
            info.subresources
                .iter()
                .map(|s| json!({"subresource": s.name, "responseKind": kind(&s.kind.group, &s.kind.version, &s.kind.kind), "verbs": s.verbs}))
                .collect::<Vec<_>>()
        );
    }
    entry
}
