//! get, list and watch, served from the watch cache.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::{BufMut, BytesMut};
use http::{Response, StatusCode};
use keelson_apimachinery::selectors::{FieldSelector, LabelSelector};
use serde_json::{Value, json};

use crate::codec::Representation;
use crate::handler::Ctx;
use crate::object::CachedObject;
use crate::object::{decode_kv, storage_key, storage_prefix};
use crate::response::{self, Body};
use crate::status::ApiError;
use crate::table;

/// How long a consistent read waits for the cache to catch up with the store.
const CONSISTENT_READ_WAIT: Duration = Duration::from_secs(3);

/// Parsed label and field selectors of a list or watch.
pub struct Selectors {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Selectors {
    pub fn parse(ctx: &Ctx) -> Result<Selectors, ApiError> {
        let labels = match ctx.query.get("labelSelector") {
            Some(s) => {
                Some(LabelSelector::parse(s).map_err(|e| ApiError::BadRequest(e.to_string()))?)
            }
            None => None,
        };
        let fields = match ctx.query.get("fieldSelector") {
            Some(s) => {
                let selector =
                    FieldSelector::parse(s).map_err(|e| ApiError::BadRequest(e.to_string()))?;
                let (group, kind) = (&ctx.resource.info.group, &ctx.resource.info.kind);
                for field in selector.fields() {
                    if !crate::fields::is_selectable(group, kind, field) {
                        return Err(ApiError::BadRequest(format!(
                            "field label not supported: {field}"
                        )));
                    }
                }
                Some(selector)
            }
            None => None,
        };
        Ok(Selectors { labels, fields })
    }

    pub fn is_everything(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    pub fn matches(&self, object: &CachedObject) -> bool {
        if let Some(labels) = &self.labels
            && !labels.matches(&object.labels)
        {
            return false;
        }
        if let Some(fields) = &self.fields
            && !fields.matches(|field| object.field(field).map(str::to_string))
        {
            return false;
        }
        true
    }
}

fn parse_resource_version(ctx: &Ctx) -> Result<Option<i64>, ApiError> {
    match ctx.query.get("resourceVersion") {
        None => Ok(None),
        Some(rv) => rv
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}"))),
    }
}

/// Wait until the cache reflects at least `revision` (the store's current revision when
/// `None`), so that reads served from it are as fresh as upstream's consistent reads.
async fn catch_up(ctx: &Ctx, revision: Option<i64>) -> Result<(), ApiError> {
    let target = match revision {
        Some(r) => r,
        None => ctx.server.store.current_revision().await?,
    };
    if ctx.server.cache.revision() >= target {
        return Ok(());
    }
    if ctx
        .server
        .cache
        .wait_for(target, CONSISTENT_READ_WAIT)
        .await
    {
        Ok(())
    } else {
        Err(ApiError::Timeout(format!(
            "Too large resource version: {target}, current: {}",
            ctx.server.cache.revision()
        )))
    }
}

pub async fn get(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?;
    match parse_resource_version(ctx)? {
        None => catch_up(ctx, None).await?,
        Some(0) => {}
        Some(rv) => catch_up(ctx, Some(rv)).await?,
    }
    let info = &ctx.resource.info;
    let key = storage_key(&info.group, &info.plural, ctx.namespace(), name);
    let object = ctx
        .server
        .cache
        .get(&info.group, &info.plural, &key)
        .ok_or_else(|| ctx.not_found(name))?;
    match ctx.representation {
        Representation::Table => {
            let value = ctx.convert(object.value()?);
            let t = table::build(ctx, &[value], object.resource_version, None, true)?;
            Ok(table::response(&t))
        }
        Representation::PartialObjectMetadata | Representation::PartialObjectMetadataList => {
            Ok(response::json(
                StatusCode::OK,
                &partial_metadata(&ctx.convert(object.value()?)),
            ))
        }
        Representation::Object => Ok(ctx.object_response(StatusCode::OK, &object)),
    }
}

pub fn partial_metadata(value: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": value.get("metadata").cloned().unwrap_or(json!({}))})
}

/// A continue token: the revision of the first page and the last key returned.
fn encode_continue(revision: i64, last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&json!({"v": "keelson/v1", "rv": revision, "start": last_key}))
            .unwrap_or_default(),
    )
}

fn decode_continue(token: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::BadRequest("continue key is not valid: invalid token".into());
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = value["rv"].as_i64().ok_or_else(bad)?;
    let start = value["start"].as_str().ok_or_else(bad)?.to_string();
    Ok((rv, start))
}

pub async fn list(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let selectors = Selectors::parse(ctx)?;
    let info = &ctx.resource.info;
    let prefix = storage_prefix(&info.group, &info.plural, ctx.namespace());
    let limit = ctx.query.parse_int::<usize>("limit")?.filter(|l| *l > 0);
    let rv = parse_resource_version(ctx)?;
    let rv_match = ctx.query.get("resourceVersionMatch");
    let continue_token = ctx.query.get("continue");
    if continue_token.is_some() && rv.is_some_and(|r| r != 0) {
        return Err(ApiError::BadRequest(
            "specifying resource version is not allowed when using continue".into(),
        ));
    }
    match (rv_match, rv) {
        (Some(_), None) => {
            return Err(ApiError::BadRequest(
                "resourceVersionMatch is forbidden unless resourceVersion is provided".into(),
            ));
        }
        (Some("Exact"), Some(0)) => {
            return Err(ApiError::BadRequest(
                "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"".into(),
            ));
        }
        (Some(m), _) if m != "Exact" && m != "NotOlderThan" => {
            return Err(ApiError::BadRequest(format!(
                "invalid resourceVersionMatch: {m:?}"
            )));
        }
        _ => {}
    }

    let (items, revision, next) = if let Some(token) = continue_token {
        let (revision, start) = decode_continue(token)?;
        page_from_store(ctx, &prefix, &selectors, revision, Some(start), limit).await?
    } else if rv_match == Some("Exact") {
        page_from_store(
            ctx,
            &prefix,
            &selectors,
            rv.unwrap_or_default(),
            None,
            limit,
        )
        .await?
    } else {
        match rv {
            None => catch_up(ctx, None).await?,
            Some(0) => {}
            Some(r) => catch_up(ctx, Some(r)).await?,
        }
        let (all, revision) = ctx.server.cache.list(&info.group, &info.plural, &prefix);
        // Upstream ignores limits on resourceVersion=0 lists served from its cache.
        let limit = if rv == Some(0) { None } else { limit };
        let mut items = Vec::new();
        let mut next = None;
        for object in all {
            if !selectors.matches(&object) {
                continue;
            }
            if let Some(limit) = limit
                && items.len() == limit
            {
                next = Some(encode_continue(
                    revision,
                    &items
                        .last()
                        .map(|o: &Arc<CachedObject>| o.key.clone())
                        .unwrap_or_default(),
                ));
                break;
            }
            items.push(object);
        }
        (items, revision, next)
    };
    render_list(ctx, &items, revision, next)
}

/// One page read from the store at an exact revision (continuations and Exact lists).
async fn page_from_store(
    ctx: &Ctx,
    prefix: &str,
    selectors: &Selectors,
    revision: i64,
    after_key: Option<String>,
    limit: Option<usize>,
) -> Result<(Vec<Arc<CachedObject>>, i64, Option<String>), ApiError> {
    let end = prefix_end(prefix);
    let mut start = match &after_key {
        Some(key) => format!("{key}\0"),
        None => prefix.to_string(),
    };
    let mut items = Vec::new();
    loop {
        let want = limit.map(|l| (l - items.len()).max(1) * 2).unwrap_or(0);
        let response = ctx
            .server
            .store
            .range(keelson_store::RangeRequest {
                start: start.clone(),
                end: Some(end.clone()),
                prefix: false,
                revision: Some(revision),
                limit: if want == 0 { None } else { Some(want) },
                keys_only: false,
            })
            .await
            .map_err(|e| match e {
                keelson_store::StoreError::Compacted { .. } => ApiError::Expired {
                    message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
                    continue_token: Some(encode_continue(-1, after_key.as_deref().unwrap_or(prefix))),
                },
                other => other.into(),
            })?;
        let more = response.more;
        for kv in &response.kvs {
            start = format!("{}\0", kv.key);
            let object = decode_kv(kv)?;
            if !selectors.matches(&object) {
                continue;
            }
            if let Some(limit) = limit
                && items.len() == limit
            {
                let last = items
                    .last()
                    .map(|o: &Arc<CachedObject>| o.key.clone())
                    .unwrap_or_default();
                return Ok((items, revision, Some(encode_continue(revision, &last))));
            }
            items.push(object);
        }
        if !more {
            return Ok((items, revision, None));
        }
    }
}

/// The smallest key greater than every key with this prefix.
fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0x7f {
            bytes.push(last + 1);
            return String::from_utf8(bytes).unwrap_or_default();
        }
    }
    String::new()
}

fn render_list(
    ctx: &Ctx,
    items: &[Arc<CachedObject>],
    revision: i64,
    next: Option<String>,
) -> Result<Response<Body>, ApiError> {
    let info = &ctx.resource.info;
    match ctx.representation {
        Representation::Table => {
            let values = items
                .iter()
                .map(|o| o.value().map(|v| ctx.convert(v)))
                .collect::<Result<Vec<_>, _>>()?;
            let t = table::build(ctx, &values, revision, next, true)?;
            Ok(table::response(&t))
        }
        Representation::PartialObjectMetadata | Representation::PartialObjectMetadataList => {
            let values = items
                .iter()
                .map(|o| o.value().map(|v| partial_metadata(&ctx.convert(v))))
                .collect::<Result<Vec<_>, _>>()?;
            let mut metadata = json!({"resourceVersion": revision.to_string()});
            if let Some(next) = next {
                metadata["continue"] = json!(next);
            }
            Ok(response::json(
                StatusCode::OK,
                &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "items": values}),
            ))
        }
        Representation::Object => {
            // Splice the cached JSON of each item: no per-item parse or serialization.
            let api_version = info.api_version();
            let mut out = BytesMut::with_capacity(
                128 + items.iter().map(|o| o.json.len() + 1).sum::<usize>(),
            );
            out.put_slice(b"{\"kind\":");
            out.put_slice(
                serde_json::to_string(&info.list_kind())
                    .unwrap_or_default()
                    .as_bytes(),
            );
            out.put_slice(b",\"apiVersion\":");
            out.put_slice(
                serde_json::to_string(&api_version)
                    .unwrap_or_default()
                    .as_bytes(),
            );
            let mut metadata = json!({"resourceVersion": revision.to_string()});
            if let Some(next) = next {
                metadata["continue"] = json!(next);
            }
            out.put_slice(b",\"metadata\":");
            out.put_slice(&serde_json::to_vec(&metadata).unwrap_or_default());
            out.put_slice(b",\"items\":[");
            for (i, object) in items.iter().enumerate() {
                if i > 0 {
                    out.put_u8(b',');
                }
                if object.api_version == api_version {
                    out.put_slice(&object.json);
                } else {
                    out.put_slice(
                        &serde_json::to_vec(&ctx.convert(object.value()?)).unwrap_or_default(),
                    );
                }
            }
            out.put_slice(b"]}");
            Ok(response::bytes_response(
                StatusCode::OK,
                "application/json",
                out.freeze(),
            ))
        }
    }
}

pub use crate::watch::watch;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(42, "/registry/core/pods/default/p1");
        assert_eq!(
            decode_continue(&token).unwrap(),
            (42, "/registry/core/pods/default/p1".to_string())
        );
        assert!(decode_continue("!!!").is_err());
    }

    #[test]
    fn prefix_end_is_exclusive_bound() {
        assert_eq!(prefix_end("/registry/core/pods/"), "/registry/core/pods0");
    }
}
