//! Subresources: status, scale, binding, eviction, token, finalize, approval, and the streaming
//! ones (log, exec, attach, portforward, proxy) that belong to node agents.

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::handler::Ctx;
use crate::response::Body;
use crate::status::{ApiError, FieldCause};
use crate::write::{self, Mutation};

pub async fn serve(
    ctx: &Ctx,
    method: &Method,
    sub: &str,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    match (sub, method.as_str()) {
        ("status" | "finalize" | "approval", "GET") => crate::read::get(ctx).await,
        ("status" | "approval", "PUT") | ("finalize", "PUT") => write::update(ctx, body).await,
        ("status" | "approval", "PATCH") => write::patch(ctx, body).await,
        ("scale", "GET") => get_scale(ctx).await,
        ("scale", "PUT" | "PATCH") => update_scale(ctx, method, body).await,
        ("binding", "POST") => bind(ctx, body).await,
        ("eviction", "POST") => evict(ctx, body).await,
        ("token", "POST") => crate::reviews::token_request(ctx, body).await,
        ("log" | "exec" | "attach" | "portforward" | "proxy", _) => node_stream(ctx).await,
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// JSONPath-like `.spec.replicas` into a JSON pointer.
fn pointer(path: &str) -> String {
    path.trim_start_matches('.')
        .split('.')
        .fold(String::new(), |p, part| format!("{p}/{part}"))
}

struct ScalePaths {
    spec: String,
    status: String,
    selector: Option<String>,
}

fn scale_paths(ctx: &Ctx) -> ScalePaths {
    match ctx.resource.custom.as_ref().and_then(|c| c.scale.as_ref()) {
        Some(s) => ScalePaths {
            spec: pointer(&s.spec_replicas),
            status: pointer(&s.status_replicas),
            selector: s.label_selector.as_deref().map(pointer),
        },
        None => ScalePaths {
            spec: "/spec/replicas".into(),
            status: "/status/replicas".into(),
            selector: None,
        },
    }
}

fn selector_string(ctx: &Ctx, obj: &Value, paths: &ScalePaths) -> String {
    if let Some(p) = &paths.selector {
        return obj
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
    }
    if ctx.resource.info.kind == "ReplicationController" {
        return obj
            .pointer("/spec/selector")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
    }
    obj.pointer("/spec/selector")
        .and_then(|s| keelson_apimachinery::selectors::LabelSelector::from_metav1(s).ok())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

fn scale_of(ctx: &Ctx, obj: &Value) -> Value {
    let paths = scale_paths(ctx);
    let meta = &obj["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                     "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": obj.pointer(&paths.spec).and_then(Value::as_i64).unwrap_or(0)},
        "status": {"replicas": obj.pointer(&paths.status).and_then(Value::as_i64).unwrap_or(0),
                   "selector": selector_string(ctx, obj, &paths)},
    })
}

async fn get_scale(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?;
    let key = crate::object::storage_key(
        &ctx.resource.info.group,
        &ctx.resource.info.plural,
        ctx.namespace(),
        name,
    );
    let (kv, _) = ctx.server.store.get(&key, None).await?;
    let object = crate::object::decode_kv(&kv.ok_or_else(|| ctx.not_found(name))?)?.value()?;
    Ok(crate::response::json(
        StatusCode::OK,
        &scale_of(ctx, &object),
    ))
}

async fn update_scale(ctx: &Ctx, method: &Method, body: Bytes) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?.to_string();
    let paths = scale_paths(ctx);
    let patch_type = if *method == Method::PATCH {
        Some(crate::patching::PatchType::from_content_type(
            ctx,
            ctx.content_type.as_deref(),
        )?)
    } else {
        None
    };
    let patch = match patch_type {
        Some(t) => Some(crate::patching::parse_patch(t, &body)?),
        None => None,
    };
    let dry_run = ctx.query.dry_run()?;
    let (value, _) = write::guaranteed_update(ctx, &name, dry_run, |current| {
        let scale = scale_of(ctx, current);
        let desired = match (&patch, patch_type) {
            (Some(patch), Some(crate::patching::PatchType::Json)) => {
                keelson_apimachinery::patch::json_patch(&scale, patch)
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?
            }
            (Some(patch), Some(_)) => keelson_apimachinery::patch::merge_patch(&scale, patch),
            _ => crate::codec::decode_object(ctx.content_type.as_deref(), &body)?,
        };
        if let Some(rv) = desired
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && Some(rv) != current["metadata"]["resourceVersion"].as_str()
        {
            return Err(ctx.conflict(&name));
        }
        let replicas = desired
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if replicas < 0 {
            return Err(ApiError::Invalid {
                group: "autoscaling".into(),
                kind: "Scale".into(),
                name: name.clone(),
                causes: vec![FieldCause {
                    reason: "FieldValueInvalid".into(),
                    message: format!(
                        "Invalid value: {replicas}: must be greater than or equal to 0"
                    ),
                    field: "spec.replicas".into(),
                }],
            });
        }
        let mut new = current.clone();
        set_pointer(&mut new, &paths.spec, json!(replicas));
        let generation = current["metadata"]["generation"].as_i64().unwrap_or(1);
        if current.pointer(&paths.spec) != Some(&json!(replicas)) {
            new["metadata"]["generation"] = json!(generation + 1);
        }
        crate::strategy::track_managed_fields(ctx, Some(current), &mut new, "Update")?;
        Ok(Mutation::Write(new))
    })
    .await?;
    Ok(crate::response::json(
        StatusCode::OK,
        &scale_of(ctx, &value),
    ))
}

fn set_pointer(obj: &mut Value, pointer: &str, value: Value) {
    let mut target = obj;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for part in &parts[..parts.len() - 1] {
        if !target.get(*part).is_some_and(Value::is_object) {
            target[*part] = json!({});
        }
        target = &mut target[*part];
    }
    target[parts[parts.len() - 1]] = value;
}

/// pods/binding: assign a pod to a node, once.
async fn bind(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?.to_string();
    let binding = crate::codec::decode_object(ctx.content_type.as_deref(), &body)?;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if node.is_empty() {
        return Err(ApiError::Invalid {
            group: String::new(),
            kind: "Binding".into(),
            name: name.clone(),
            causes: vec![FieldCause {
                reason: "FieldValueRequired".into(),
                message: "Required value".into(),
                field: "target.name".into(),
            }],
        });
    }
    let dry_run = ctx.query.dry_run()?;
    write::guaranteed_update(ctx, &name, dry_run, |current| {
        if current["metadata"].get("deletionTimestamp").is_some() {
            return Err(ApiError::Conflict {
                group: String::new(),
                resource: "pods".into(),
                name: name.clone(),
                reason: "pod is being deleted, cannot be assigned to a host".into(),
            });
        }
        if let Some(existing) = current
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(ApiError::Conflict {
                group: String::new(),
                resource: "pods".into(),
                name: name.clone(),
                reason: format!("pod {name} is already assigned to node \"{existing}\""),
            });
        }
        let mut new = current.clone();
        new["spec"]["nodeName"] = json!(node);
        let condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                               "lastTransitionTime": write::now_rfc3339()});
        let conditions = new["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut conditions: Vec<Value> = conditions
            .into_iter()
            .filter(|c| c["type"] != "PodScheduled")
            .collect();
        conditions.push(condition);
        new["status"]["conditions"] = json!(conditions);
        Ok(Mutation::Write(new))
    })
    .await?;
    Ok(crate::response::json(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}

/// pods/eviction: a deletion that respects PodDisruptionBudgets.
async fn evict(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?.to_string();
    let eviction = if body.is_empty() {
        json!({})
    } else {
        crate::codec::decode_object(ctx.content_type.as_deref(), &body)?
    };
    let options = eviction.get("deleteOptions").cloned().unwrap_or(json!({}));
    crate::disruption::evict(ctx, &name, options).await?;
    Ok(crate::response::json(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}

/// Logs, exec, attach, port-forward and proxy are served by the node agent running the pod.
async fn node_stream(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?;
    if ctx.resource.info.kind == "Pod" {
        let key = crate::object::storage_key("", "pods", ctx.namespace(), name);
        let pod = ctx
            .server
            .cache
            .get("", "pods", &key)
            .ok_or_else(|| ctx.not_found(name))?
            .value()?;
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if node.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "pod {name} does not have a host assigned"
            )));
        }
        return Err(ApiError::ServiceUnavailable(format!(
            "no node agent endpoint is registered for node {node:?}; pod {name} cannot be reached"
        )));
    }
    Err(ApiError::ServiceUnavailable(format!(
        "{} {name:?} has no reachable proxy endpoint",
        ctx.resource.info.kind
    )))
}
