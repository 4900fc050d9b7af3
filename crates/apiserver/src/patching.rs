//! The four patch formats, dispatched on Content-Type.

use bytes::Bytes;
use serde_json::Value;

use crate::handler::Ctx;
use crate::status::{ApiError, FieldCause};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ctx: &Ctx, content_type: Option<&str>) -> Result<PatchType, ApiError> {
        let media = content_type
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        let patch_type = match media {
            "application/json-patch+json" => PatchType::Json,
            "application/merge-patch+json" => PatchType::Merge,
            "application/strategic-merge-patch+json" => PatchType::Strategic,
            "application/apply-patch+yaml" | "application/apply-patch+json" => PatchType::Apply,
            other => {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{} (got {other:?})",
                    if ctx.resource.custom.is_none() {
                        ", application/strategic-merge-patch+json"
                    } else {
                        ""
                    }
                )));
            }
        };
        if patch_type == PatchType::Strategic && ctx.resource.custom.is_some() {
            return Err(ApiError::UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".into(),
            ));
        }
        Ok(patch_type)
    }
}

pub fn parse_patch(patch_type: PatchType, body: &Bytes) -> Result<Value, ApiError> {
    let value: Value = match patch_type {
        PatchType::Apply => serde_yaml::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?,
        _ => serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?,
    };
    match (patch_type, &value) {
        (PatchType::Json, Value::Array(_)) => Ok(value),
        (PatchType::Json, _) => Err(ApiError::BadRequest(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch".into(),
        )),
        (_, Value::Object(_)) => Ok(value),
        _ => Err(ApiError::BadRequest(
            "the patch must be a JSON object".into(),
        )),
    }
}

fn patch_failed(ctx: &Ctx, message: String) -> ApiError {
    ApiError::Invalid {
        group: ctx.resource.info.group.clone(),
        kind: ctx.resource.info.kind.clone(),
        name: ctx.info.name.clone().unwrap_or_default(),
        causes: vec![FieldCause {
            reason: "FieldValueInvalid".into(),
            message,
            field: "patch".into(),
        }],
    }
}

pub fn apply_patch(
    ctx: &Ctx,
    patch_type: PatchType,
    current: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    use keelson_apimachinery::patch;
    let info = &ctx.resource.info;
    let mut current = current.clone();
    // The stored resourceVersion is not a precondition unless the patch itself names one.
    if let Some(meta) = current.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    match patch_type {
        PatchType::Json => {
            patch::json_patch(&current, patch).map_err(|e| patch_failed(ctx, e.to_string()))
        }
        PatchType::Merge => Ok(patch::merge_patch(&current, patch)),
        PatchType::Strategic => {
            let meta = patch::BuiltinPatchMeta::new(&info.group, &info.kind);
            patch::strategic_merge_patch(&current, patch, &meta)
                .map_err(|e| ApiError::BadRequest(e.to_string()))
        }
        PatchType::Apply => {
            let manager = ctx
                .query
                .field_manager()?
                .ok_or_else(|| ApiError::Invalid {
                    group: "meta.k8s.io".into(),
                    kind: "PatchOptions".into(),
                    name: String::new(),
                    causes: vec![FieldCause {
                        reason: "FieldValueRequired".into(),
                        message: "Required value: is required for apply patch".into(),
                        field: "fieldManager".into(),
                    }],
                })?;
            let list_meta = list_meta(ctx);
            let force = ctx.query.flag("force");
            keelson_apimachinery::apply::apply(
                Some(&current),
                patch,
                &manager,
                force,
                list_meta.as_ref(),
                &crate::write::now_rfc3339(),
            )
            .map_err(|e| apply_error(ctx, &current, e))
        }
    }
}

fn list_meta(ctx: &Ctx) -> Box<dyn keelson_apimachinery::apply::ListMeta> {
    use keelson_apimachinery::apply;
    match ctx.resource.custom.as_ref().and_then(|c| c.schema.as_ref()) {
        Some(schema) => Box::new(apply::CrdListMeta::from_schema(schema.clone())),
        None => Box::new(apply::BuiltinListMeta),
    }
}

fn apply_error(
    ctx: &Ctx,
    current: &Value,
    err: keelson_apimachinery::apply::ApplyError,
) -> ApiError {
    use keelson_apimachinery::apply::ApplyError;
    match err {
        ApplyError::Conflicts(conflicts) => ApiError::ApplyConflict {
            group: ctx.resource.info.group.clone(),
            kind: ctx.resource.info.kind.clone(),
            name: current["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            message: keelson_apimachinery::apply::conflict_message(&conflicts),
            causes: keelson_apimachinery::apply::conflict_causes(&conflicts)
                .into_iter()
                .map(|c| FieldCause {
                    reason: c.reason.into(),
                    message: c.message,
                    field: c.field,
                })
                .collect(),
        },
        other => ApiError::BadRequest(other.to_string()),
    }
}

/// The object an apply creates when nothing exists yet.
pub fn apply_create(ctx: &Ctx, patch: &Value) -> Result<Value, ApiError> {
    let manager = ctx.query.field_manager()?.unwrap_or_default();
    let list_meta = list_meta(ctx);
    keelson_apimachinery::apply::apply(
        None,
        patch,
        &manager,
        ctx.query.flag("force"),
        list_meta.as_ref(),
        &crate::write::now_rfc3339(),
    )
    .map_err(|e| apply_error(ctx, patch, e))
}
