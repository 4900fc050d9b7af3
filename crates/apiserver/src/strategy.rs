//! Per-kind write rules (upstream's "strategies"): what a create resets, what an update may
//! change, when generation moves, how deletion is deferred, and validation.

use serde_json::{Value, json};

use crate::handler::Ctx;
use crate::request::FieldValidation;
use crate::status::{ApiError, FieldCause};

fn kind(ctx: &Ctx) -> (&str, &str) {
    (
        ctx.resource.info.group.as_str(),
        ctx.resource.info.kind.as_str(),
    )
}

/// Kinds that track `metadata.generation`: anything with a spec, every custom resource, and
/// EndpointSlices (whose endpoints are their spec, as upstream's strategy treats them).
fn tracks_generation(ctx: &Ctx, obj: &Value) -> bool {
    ctx.resource.custom.is_some()
        || obj.get("spec").is_some()
        || kind(ctx) == ("discovery.k8s.io", "EndpointSlice")
}

pub fn prepare_for_create(ctx: &Ctx, obj: &mut Value) -> Result<(), ApiError> {
    if tracks_generation(ctx, obj) {
        obj["metadata"]["generation"] = json!(1);
    } else if let Some(meta) = obj["metadata"].as_object_mut() {
        meta.remove("generation");
    }
    match kind(ctx) {
        ("", "Namespace") => {
            obj["status"] = json!({"phase": "Active"});
            if obj.pointer("/spec/finalizers").is_none() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
        }
        ("", "Pod") => {
            let qos = keelson_api_types::defaulting::pod_qos_class(obj);
            obj["status"] = json!({"phase": "Pending", "qosClass": qos});
        }
        ("", "Node") | ("certificates.k8s.io", "CertificateSigningRequest") => {}
        ("apps", "DaemonSet") => {
            obj["status"] = json!({});
            set_daemon_set_template_generation(obj, 1);
        }
        _ if ctx.resource.has_status() => {
            if ctx.resource.custom.is_some() {
                if let Some(o) = obj.as_object_mut() {
                    o.remove("status");
                }
            } else {
                obj["status"] = json!({});
            }
        }
        _ => {}
    }
    apply_defaults(ctx, obj);
    Ok(())
}

fn apply_defaults(ctx: &Ctx, obj: &mut Value) {
    match &ctx.resource.custom {
        Some(custom) => {
            if let Some(schema) = &custom.schema {
                keelson_openapi::schema::apply_defaults(schema, obj);
            }
        }
        None => keelson_api_types::defaulting::apply_defaults(&ctx.resource.info.gvk(), obj),
    }
}

/// Upstream's DaemonSet strategy counts template changes in this annotation; the controller
/// copies it into the `pod-template-generation` label of the pods it creates.
const DAEMON_SET_TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

fn daemon_set_template_generation(obj: &Value) -> i64 {
    obj["metadata"]["annotations"][DAEMON_SET_TEMPLATE_GENERATION]
        .as_str()
        .and_then(|g| g.parse().ok())
        .unwrap_or(1)
}

fn set_daemon_set_template_generation(obj: &mut Value, generation: i64) {
    if !obj["metadata"]["annotations"].is_object() {
        obj["metadata"]["annotations"] = json!({});
    }
    obj["metadata"]["annotations"][DAEMON_SET_TEMPLATE_GENERATION] = json!(generation.to_string());
}

/// Merge a client's new state with the stored one as the addressed (sub)resource allows.
pub fn prepare_for_update(
    ctx: &Ctx,
    current: &Value,
    mut new: Value,
    subresource: Option<&str>,
) -> Result<Value, ApiError> {
    if subresource == Some("status") {
        let mut merged = current.clone();
        merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
        if merged["status"].is_null()
            && let Some(o) = merged.as_object_mut()
        {
            o.remove("status");
        }
        keep_client_precondition(&new, &mut merged);
        track_managed_fields(ctx, Some(current), &mut merged, "Update")?;
        return Ok(merged);
    }
    // Server-owned metadata cannot be changed by clients.
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match current["metadata"].get(field) {
            Some(v) => new["metadata"][field] = v.clone(),
            None => {
                if let Some(meta) = new["metadata"].as_object_mut() {
                    meta.remove(field);
                }
            }
        }
    }
    if ctx.resource.has_status() && subresource.is_none() {
        match current.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    if kind(ctx) == ("apps", "DaemonSet") && subresource.is_none() {
        let generation = daemon_set_template_generation(current);
        let changed = current.pointer("/spec/template") != new.pointer("/spec/template");
        set_daemon_set_template_generation(&mut new, generation + i64::from(changed));
    }
    if kind(ctx) == ("", "Namespace") && subresource != Some("finalize") {
        new["spec"] = current.get("spec").cloned().unwrap_or(json!({}));
        new["status"] = current.get("status").cloned().unwrap_or(json!({}));
    }
    if subresource == Some("finalize") {
        let mut merged = current.clone();
        merged["spec"]["finalizers"] = new
            .pointer("/spec/finalizers")
            .cloned()
            .unwrap_or(json!([]));
        keep_client_precondition(&new, &mut merged);
        return Ok(merged);
    }
    if current["metadata"].get("deletionTimestamp").is_some() {
        let old = crate::write::finalizers(current);
        let added: Vec<String> = crate::write::finalizers(&new)
            .into_iter()
            .filter(|f| !old.contains(f))
            .collect();
        if !added.is_empty() {
            return Err(ApiError::Invalid {
                group: ctx.resource.info.group.clone(),
                kind: ctx.resource.info.kind.clone(),
                name: current["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                causes: vec![FieldCause {
                    reason: "FieldValueForbidden".into(),
                    message: format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                    ),
                    field: "metadata.finalizers".into(),
                }],
            });
        }
    }
    if tracks_generation(ctx, &new) {
        let generation = current["metadata"]["generation"].as_i64().unwrap_or(1);
        let changed = spec_of(current) != spec_of(&new);
        new["metadata"]["generation"] = json!(if changed { generation + 1 } else { generation });
    }
    apply_defaults(ctx, &mut new);
    track_managed_fields(ctx, Some(current), &mut new, "Update")?;
    Ok(new)
}

/// A state built from the stored object carries the stored resourceVersion; put back the
/// client's (or none), so that only the client's value acts as a precondition.
fn keep_client_precondition(client: &Value, merged: &mut Value) {
    match client.pointer("/metadata/resourceVersion") {
        Some(rv) => merged["metadata"]["resourceVersion"] = rv.clone(),
        None => {
            if let Some(meta) = merged["metadata"].as_object_mut() {
                meta.remove("resourceVersion");
            }
        }
    }
}

/// Everything but metadata and status: a change here is a new generation.
fn spec_of(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(o) = obj.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
    }
    obj
}

/// Record which manager changed which fields (skipped when the client sends no fieldManager
/// and upstream would derive one from the user agent: we use the user agent's first word).
pub fn track_managed_fields(
    ctx: &Ctx,
    current: Option<&Value>,
    new: &mut Value,
    operation: &str,
) -> Result<(), ApiError> {
    if operation != "Update" {
        return Ok(());
    }
    let manager = ctx.field_manager()?;
    let subresource = ctx
        .info
        .subresource
        .as_deref()
        .filter(|s| *s == "status" || *s == "scale");
    let builtin = keelson_apimachinery::apply::BuiltinListMeta;
    let custom = ctx
        .resource
        .custom
        .as_ref()
        .and_then(|c| c.schema.clone())
        .map(keelson_apimachinery::apply::CrdListMeta::from_schema);
    let meta: &dyn keelson_apimachinery::apply::ListMeta = match &custom {
        Some(custom) => custom,
        None => &builtin,
    };
    *new = keelson_apimachinery::apply::update_managed_fields(
        current,
        new,
        &manager,
        keelson_apimachinery::apply::Operation::Update,
        subresource,
        meta,
        &crate::write::now_rfc3339(),
    );
    Ok(())
}

/// Unknown-field handling per `fieldValidation`: Strict rejects, Warn warns, Ignore drops.
pub fn check_unknown_fields(
    ctx: &Ctx,
    obj: &mut Value,
    warnings: &mut Vec<String>,
) -> Result<(), ApiError> {
    let mode = ctx.query.field_validation()?;
    let info = &ctx.resource.info;
    let unknown: Vec<String> = match &ctx.resource.custom {
        Some(custom) => match &custom.schema {
            Some(schema) => keelson_openapi::schema::prune(schema, obj),
            None => Vec::new(),
        },
        None => keelson_openapi::unknown_fields(&info.group, &info.version, &info.kind, obj),
    };
    if unknown.is_empty() {
        return Ok(());
    }
    match mode {
        FieldValidation::Strict => Err(ApiError::BadRequest(format!(
            "strict decoding error: {}",
            unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        FieldValidation::Warn => {
            warnings.extend(
                unknown
                    .into_iter()
                    .map(|f| format!("unknown field \"{f}\"")),
            );
            Ok(())
        }
        FieldValidation::Ignore => Ok(()),
    }
}

pub fn validate(
    ctx: &Ctx,
    obj: &Value,
    old: Option<&Value>,
    _warnings: &mut Vec<String>,
) -> Result<(), ApiError> {
    let info = &ctx.resource.info;
    let mut causes: Vec<FieldCause> =
        keelson_api_types::validation::validate(&info.gvk(), obj, old)
            .into_iter()
            .map(|e| FieldCause {
                reason: e.reason.to_string(),
                message: e.message,
                field: e.field,
            })
            .collect();
    if let Some(schema) = ctx.resource.custom.as_ref().and_then(|c| c.schema.as_ref()) {
        causes.extend(
            keelson_openapi::schema::validate(schema, obj)
                .into_iter()
                .map(|e| FieldCause {
                    reason: e.reason.to_string(),
                    message: e.message,
                    field: e.field,
                }),
        );
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::Invalid {
        group: info.group.clone(),
        kind: info.kind.clone(),
        name: obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        causes,
    })
}

/// Seconds a deletion waits before the object disappears (pods on nodes only).
pub fn grace_period(ctx: &Ctx, obj: &Value, requested: Option<i64>) -> i64 {
    if kind(ctx) != ("", "Pod") {
        return 0;
    }
    let unscheduled = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    let finished = matches!(
        obj.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if unscheduled || finished {
        return 0;
    }
    requested.unwrap_or_else(|| {
        obj.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30)
    })
}

pub fn on_deletion_marked(ctx: &Ctx, obj: &mut Value) {
    if kind(ctx) == ("", "Namespace") {
        obj["status"]["phase"] = json!("Terminating");
    }
}

pub fn allows_create_on_update(ctx: &Ctx) -> bool {
    matches!(
        (
            ctx.resource.info.group.as_str(),
            ctx.resource.info.plural.as_str()
        ),
        ("", "endpoints" | "events" | "limitranges")
            | ("coordination.k8s.io", "leases")
            | ("events.k8s.io", "events")
            | ("rbac.authorization.k8s.io", _)
            | ("discovery.k8s.io", "endpointslices")
    )
}

/// Finalizers that keep an object marked for deletion alive: `metadata.finalizers`, plus a
/// namespace's `spec.finalizers` (emptied through the finalize subresource).
pub fn pending_finalizers(ctx: &Ctx, obj: &Value) -> Vec<String> {
    let mut pending = crate::write::finalizers(obj);
    if kind(ctx) == ("", "Namespace") {
        pending.extend(
            obj.pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
    }
    pending
}
