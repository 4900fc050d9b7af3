//! The REST operations of a resource, named and shaped as upstream's generated OpenAPI
//! (operationIds like `listCoreV1NamespacedPod`, `x-kubernetes-action`, GVK extension).

use keelson_api_types::ResourceInfo;
use serde_json::{Map, Value, json};

use super::params::{self, Param};
use crate::builtin::definitions::{
    DELETE_OPTIONS, Definitions, Flavor, PATCH, STATUS, WATCH_EVENT,
};

/// A request body: the resource's own kind, a patch, or DeleteOptions.
#[derive(Clone)]
enum Body {
    Object(String),
    Patch,
    Delete,
}

/// One operation before it is rendered in the v2 or v3 form.
struct Op {
    method: &'static str,
    id: String,
    action: &'static str,
    description: String,
    params: Vec<Param>,
    body: Option<Body>,
    /// Definition name of the 200 response, or None for plain text (pod logs).
    response: Option<String>,
    /// Create-like operations also answer 201/202.
    creates: bool,
    gvk: Value,
}

/// The names the resource's definitions have in the document.
pub(crate) struct KindDefs {
    pub kind: String,
    pub list: String,
}

/// `apps` -> `Apps`, `rbac.authorization.k8s.io` -> `RbacAuthorization`,
/// `stable.example.com` -> `StableExampleCom`, core -> `Core`; then the version.
pub(crate) fn group_version_name(group: &str, version: &str) -> String {
    let group_name = if group.is_empty() {
        "Core".to_string()
    } else {
        group
            .trim_end_matches(".k8s.io")
            .split(['.', '-'])
            .map(capitalize)
            .collect()
    };
    format!("{group_name}{}", capitalize(version))
}

/// The tag upstream groups operations under: `core_v1`, `apps_v1`, `rbacAuthorization_v1`.
pub(crate) fn tag(group: &str, version: &str) -> String {
    let name = group_version_name(group, version);
    let group_part = &name[..name.len() - version.len()];
    let mut chars = group_part.chars();
    let lowered: String = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .into_iter()
        .chain(chars)
        .collect();
    format!("{lowered}_{version}")
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .chain(chars)
        .collect()
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// Every path of `resource` with its operations, rendered for `flavor`.
pub(crate) fn resource_paths(
    resource: &ResourceInfo,
    names: &KindDefs,
    defs: &mut Definitions,
) -> Vec<(String, Value)> {
    let flavor = defs.flavor;
    for name in [STATUS, DELETE_OPTIONS, PATCH, WATCH_EVENT] {
        defs.add_by_name(name);
    }
    let gv = group_version_name(&resource.group, &resource.version);
    let kind = &resource.kind;
    let ns = resource.namespaced();
    let scoped = if ns { "Namespaced" } else { "" };
    let root = if resource.group.is_empty() {
        format!("/api/{}", resource.version)
    } else {
        format!("/apis/{}/{}", resource.group, resource.version)
    };
    let prefix = if ns {
        format!("{root}/namespaces/{{namespace}}")
    } else {
        root.clone()
    };
    let collection = format!("{prefix}/{}", resource.plural);
    let item = format!("{collection}/{{name}}");
    let own_gvk = gvk(&resource.group, &resource.version, kind);
    let scope_params: Vec<Param> = if ns { vec![params::NAMESPACE] } else { vec![] };
    let item_params: Vec<Param> = [params::NAME]
        .into_iter()
        .chain(scope_params.iter().copied())
        .collect();
    let op = |method, id: String, action, description: String| Op {
        method,
        id,
        action,
        description,
        params: vec![],
        body: None,
        response: Some(names.kind.clone()),
        creates: false,
        gvk: own_gvk.clone(),
    };
    let write_params = vec![
        params::DRY_RUN,
        params::FIELD_MANAGER,
        params::FIELD_VALIDATION,
    ];
    let patch_params = vec![
        params::DRY_RUN,
        params::PATCH_FIELD_MANAGER,
        params::FIELD_VALIDATION,
        params::FORCE,
    ];
    let delete_params = vec![
        params::DRY_RUN,
        params::GRACE_PERIOD,
        params::ORPHAN,
        params::PROPAGATION,
    ];

    let mut out: Vec<(String, Vec<Param>, Vec<Op>)> = Vec::new();
    let mut collection_ops = Vec::new();
    if resource.has_verb("list") {
        let mut o = op(
            "get",
            format!("list{gv}{scoped}{kind}"),
            "list",
            format!("list or watch objects of kind {kind}"),
        );
        o.params = params::LIST.to_vec();
        o.response = Some(names.list.clone());
        collection_ops.push(o);
    }
    if resource.has_verb("create") {
        let mut o = op(
            "post",
            format!("create{gv}{scoped}{kind}"),
            "post",
            format!("create a {kind}"),
        );
        o.params = write_params.clone();
        o.body = Some(Body::Object(names.kind.clone()));
        o.creates = true;
        collection_ops.push(o);
    }
    if resource.has_verb("deletecollection") {
        let mut o = op(
            "delete",
            format!("delete{gv}Collection{scoped}{kind}"),
            "deletecollection",
            format!("delete collection of {kind}"),
        );
        o.params = delete_params.iter().chain(params::LIST).copied().collect();
        o.body = Some(Body::Delete);
        o.response = Some(STATUS.into());
        collection_ops.push(o);
    }
    if !collection_ops.is_empty() {
        out.push((collection.clone(), scope_params.clone(), collection_ops));
    }

    let mut item_ops = Vec::new();
    if resource.has_verb("get") {
        item_ops.push(op(
            "get",
            format!("read{gv}{scoped}{kind}"),
            "get",
            format!("read the specified {kind}"),
        ));
    }
    if resource.has_verb("update") {
        let mut o = op(
            "put",
            format!("replace{gv}{scoped}{kind}"),
            "put",
            format!("replace the specified {kind}"),
        );
        o.params = write_params.clone();
        o.body = Some(Body::Object(names.kind.clone()));
        o.creates = true;
        item_ops.push(o);
    }
    if resource.has_verb("delete") {
        let mut o = op(
            "delete",
            format!("delete{gv}{scoped}{kind}"),
            "delete",
            format!("delete a {kind}"),
        );
        o.params = delete_params.clone();
        o.body = Some(Body::Delete);
        o.response = Some(STATUS.into());
        item_ops.push(o);
    }
    if resource.has_verb("patch") {
        let mut o = op(
            "patch",
            format!("patch{gv}{scoped}{kind}"),
            "patch",
            format!("partially update the specified {kind}"),
        );
        o.params = patch_params.clone();
        o.body = Some(Body::Patch);
        o.creates = true;
        item_ops.push(o);
    }
    if !item_ops.is_empty() {
        out.push((item.clone(), item_params.clone(), item_ops));
    }

    if ns && resource.has_verb("list") {
        let mut o = op(
            "get",
            format!("list{gv}{kind}ForAllNamespaces"),
            "list",
            format!("list or watch objects of kind {kind}"),
        );
        o.params = params::LIST.to_vec();
        o.response = Some(names.list.clone());
        out.push((format!("{root}/{}", resource.plural), vec![], vec![o]));
    }
    if resource.has_verb("watch") {
        let watch_prefix = if ns {
            format!("{root}/watch/namespaces/{{namespace}}")
        } else {
            format!("{root}/watch")
        };
        let watch_op = |id: String, action, description: String| {
            let mut o = op("get", id, action, description);
            o.params = params::LIST.to_vec();
            o.response = Some(WATCH_EVENT.into());
            o
        };
        let list = watch_op(
            format!("watch{gv}{scoped}{kind}List"),
            "watchlist",
            format!(
                "watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."
            ),
        );
        out.push((
            format!("{watch_prefix}/{}", resource.plural),
            scope_params.clone(),
            vec![list],
        ));
        let single = watch_op(
            format!("watch{gv}{scoped}{kind}"),
            "watch",
            format!(
                "watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."
            ),
        );
        out.push((
            format!("{watch_prefix}/{}/{{name}}", resource.plural),
            item_params.clone(),
            vec![single],
        ));
        if ns {
            let all = watch_op(
                format!("watch{gv}{kind}ListForAllNamespaces"),
                "watchlist",
                format!(
                    "watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."
                ),
            );
            out.push((
                format!("{root}/watch/{}", resource.plural),
                vec![],
                vec![all],
            ));
        }
    }

    for sub in &resource.subresources {
        let sub_name = capitalize(&sub.name);
        let same_kind = sub.kind.kind == *kind && sub.kind.group == resource.group;
        let sub_def = if same_kind {
            Some(names.kind.clone())
        } else {
            defs.add_builtin_kind(&sub.kind.group, &sub.kind.version, &sub.kind.kind)
        };
        let sub_gvk = gvk(&sub.kind.group, &sub.kind.version, &sub.kind.kind);
        let connect = sub.kind.kind.ends_with("Options");
        let mut ops = Vec::new();
        for verb in &sub.verbs {
            let (method, action, id_verb, method_name) = match verb.as_str() {
                "get" => ("get", "get", "read", "Get"),
                "update" => ("put", "put", "replace", "Put"),
                "patch" => ("patch", "patch", "patch", "Patch"),
                "create" => ("post", "post", "create", "Post"),
                "delete" => ("delete", "delete", "delete", "Delete"),
                _ => continue,
            };
            let mut o = op(method, String::new(), action, String::new());
            o.gvk = sub_gvk.clone();
            o.response = if sub.name == "log" {
                None
            } else {
                sub_def.clone()
            };
            if connect {
                o.id = format!("connect{gv}{method_name}{scoped}{kind}{sub_name}");
                o.action = "connect";
                o.description = format!("connect {method} requests to {} of {kind}", sub.name);
                o.response = None;
            } else {
                o.id = format!("{id_verb}{gv}{scoped}{kind}{sub_name}");
                o.description = format!("{id_verb} {} of the specified {kind}", sub.name);
                match method {
                    "put" | "post" => {
                        o.params = write_params.clone();
                        o.body = sub_def.clone().map(Body::Object);
                        o.creates = true;
                    }
                    "patch" => {
                        o.params = patch_params.clone();
                        o.body = Some(Body::Patch);
                        o.creates = true;
                    }
                    _ => {}
                }
            }
            ops.push(o);
        }
        if !ops.is_empty() {
            out.push((format!("{item}/{}", sub.name), item_params.clone(), ops));
        }
    }

    let tag = tag(&resource.group, &resource.version);
    out.into_iter()
        .map(|(path, path_params, ops)| {
            let mut item = Map::new();
            for o in ops {
                item.insert(o.method.to_string(), render(&o, flavor, &tag));
            }
            let mut list: Vec<Value> = path_params.iter().map(|p| p.render(flavor)).collect();
            list.push(params::PRETTY.render(flavor));
            item.insert("parameters".into(), Value::Array(list));
            (path, Value::Object(item))
        })
        .collect()
}

const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

fn render(op: &Op, flavor: Flavor, tag: &str) -> Value {
    let watch = op.action.starts_with("watch");
    let produces: Vec<&str> = match (&op.response, watch) {
        (None, _) => vec!["*/*"],
        (Some(_), true) => vec![
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
            "application/json;stream=watch",
            "application/vnd.kubernetes.protobuf;stream=watch",
        ],
        (Some(_), false) => vec![
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
        ],
    };
    let mut parameters: Vec<Value> = op.params.iter().map(|p| p.render(flavor)).collect();
    let body_ref = op.body.as_ref().map(|b| match b {
        Body::Object(name) => name.as_str(),
        Body::Patch => PATCH,
        Body::Delete => DELETE_OPTIONS,
    });
    let consumes: Vec<&str> = match op.body {
        Some(Body::Patch) => PATCH_TYPES.to_vec(),
        _ => vec!["*/*"],
    };
    let response_schema = op.response.as_deref().map(|name| flavor.reference(name));
    let mut codes = vec!["200"];
    if op.creates {
        codes.push("201");
    }
    if op.creates && op.method == "post" {
        codes.push("202");
    }
    let mut responses = Map::new();
    for code in codes {
        let description = match code {
            "201" => "Created",
            "202" => "Accepted",
            _ => "OK",
        };
        let mut response = json!({"description": description});
        match (flavor, &response_schema) {
            (Flavor::V2, Some(schema)) => response["schema"] = schema.clone(),
            (Flavor::V2, None) => response["schema"] = json!({"type": "string"}),
            (Flavor::V3, schema) => {
                let schema = schema.clone().unwrap_or(json!({"type": "string"}));
                let content: Map<String, Value> = produces
                    .iter()
                    .map(|t| (t.to_string(), json!({"schema": schema})))
                    .collect();
                response["content"] = Value::Object(content);
            }
        }
        responses.insert(code.to_string(), response);
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    let mut out = json!({
        "description": op.description,
        "operationId": op.id,
        "tags": [tag],
        "responses": responses,
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": op.gvk,
    });
    match (flavor, body_ref) {
        (Flavor::V2, Some(name)) => {
            let mut body = json!({"name": "body", "in": "body", "schema": flavor.reference(name)});
            if !matches!(op.body, Some(Body::Delete)) {
                body["required"] = json!(true);
            }
            parameters.insert(0, body);
        }
        (Flavor::V3, Some(name)) => {
            let content: Map<String, Value> = consumes
                .iter()
                .map(|t| (t.to_string(), json!({"schema": flavor.reference(name)})))
                .collect();
            let mut body = json!({"content": content});
            if !matches!(op.body, Some(Body::Delete)) {
                body["required"] = json!(true);
            }
            out["requestBody"] = body;
        }
        (_, None) => {}
    }
    if !parameters.is_empty() {
        out["parameters"] = Value::Array(parameters);
    }
    if flavor == Flavor::V2 {
        out["consumes"] = json!(consumes);
        out["produces"] = json!(produces);
        out["schemes"] = json!(["https"]);
    }
    out
}
