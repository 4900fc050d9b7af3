//! The OpenAPI v3 (per group-version) and v2 (whole server) documents.

pub(crate) mod crd;
mod custom;
mod params;
pub(crate) mod paths;

use std::collections::{BTreeMap, HashMap};

use keelson_api_types::ResourceInfo;
use serde_json::{Map, Value, json};

use crate::builtin::definitions::{Definitions, Flavor};
use paths::KindDefs;

/// `/openapi/v3`: where each group-version's document is, with its hash so clients can cache.
pub fn v3_index(entries: &[(String, String)]) -> Value {
    let paths: Map<String, Value> = entries
        .iter()
        .map(|(gv, hash)| {
            (
                gv.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={hash}")}),
            )
        })
        .collect();
    json!({"paths": paths})
}

/// `/openapi/v3/apis/<group>/<version>`: paths of every resource of the group-version and
/// the schemas they reference. `custom_schemas` maps a custom resource's kind to its CRD's
/// openAPIV3Schema.
pub fn v3_group_version_document(
    group: &str,
    version: &str,
    resources: &[ResourceInfo],
    custom_schemas: &HashMap<String, Value>,
) -> Value {
    let mut defs = Definitions::new(Flavor::V3);
    // Only this group-version's resources belong in its document, whatever the caller passes.
    let own: Vec<ResourceInfo> = resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .cloned()
        .collect();
    let paths = collect_paths(&own, &mut defs, |r| custom_schemas.get(&r.kind));
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {
            "schemas": defs.schemas,
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}}
        }
    })
}

/// `/openapi/v2`: one Swagger 2.0 document for every served resource. Custom resources get a
/// free-form definition (their schemas are not passed in).
pub fn v2_document(resources: &[ResourceInfo]) -> Value {
    let mut defs = Definitions::new(Flavor::V2);
    let paths = collect_paths(resources, &mut defs, |_| None);
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "definitions": defs.schemas,
        "securityDefinitions": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}]
    })
}

fn collect_paths<'a>(
    resources: &'a [ResourceInfo],
    defs: &mut Definitions,
    custom_schema: impl Fn(&'a ResourceInfo) -> Option<&'a Value>,
) -> BTreeMap<String, Value> {
    let mut paths = BTreeMap::new();
    for resource in resources {
        let names = kind_defs(resource, defs, custom_schema(resource));
        for (path, item) in paths::resource_paths(resource, &names, defs) {
            paths.insert(path, item);
        }
    }
    paths
}

/// Built-in kinds come from the proto table; anything else is a custom resource.
fn kind_defs(resource: &ResourceInfo, defs: &mut Definitions, schema: Option<&Value>) -> KindDefs {
    let (g, v, k) = (&resource.group, &resource.version, &resource.kind);
    if schema.is_none()
        && let Some(kind) = defs.add_builtin_kind(g, v, k)
    {
        let list = defs.add_builtin_kind(g, v, &resource.list_kind());
        // Virtual kinds (reviews) have no list; their list operations do not exist either.
        let list = list.unwrap_or_else(|| kind.clone());
        return KindDefs { kind, list };
    }
    custom::add(defs, g, v, k, schema)
}
