//! create, update, patch, delete and deletecollection, with upstream's metadata rules,
//! optimistic concurrency, finalizers and dry run.

use bytes::Bytes;
use http::{Response, StatusCode};
use keelson_store::StoreError;
use serde_json::{Map, Value, json};

use crate::codec;
use crate::handler::Ctx;
use crate::object::{decode_value, encode_for_store, storage_key, with_resource_version};
use crate::response::{self, Body};
use crate::status::{ApiError, FieldCause};
use crate::strategy;

/// How often an unconditional update retries after losing a race.
const MAX_UPDATE_ATTEMPTS: usize = 16;

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Check apiVersion/kind of a body against the resource, filling them in when absent.
fn check_type(ctx: &Ctx, obj: &mut Value) -> Result<(), ApiError> {
    let info = &ctx.resource.info;
    let expected_version = info.api_version();
    if let Some(kind) = obj.get("kind").and_then(Value::as_str)
        && kind != info.kind
    {
        return Err(ApiError::BadRequest(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            info.kind
        )));
    }
    match obj.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != expected_version => {
            return Err(ApiError::BadRequest(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )));
        }
        _ => {}
    }
    obj["apiVersion"] = json!(expected_version);
    obj["kind"] = json!(info.kind);
    Ok(())
}

fn check_namespace(ctx: &Ctx, obj: &mut Value) -> Result<(), ApiError> {
    if !ctx.resource.info.namespaced() {
        meta_mut(obj).remove("namespace");
        return Ok(());
    }
    let url_ns = ctx.namespace().unwrap_or_default().to_string();
    match meta_str(obj, "namespace") {
        Some(ns) if ns != url_ns => Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        )),
        _ => {
            meta_mut(obj).insert("namespace".into(), json!(url_ns));
            Ok(())
        }
    }
}

/// Refuse creation in a namespace that does not exist or is being deleted.
fn check_namespace_lifecycle(ctx: &Ctx) -> Result<(), ApiError> {
    let Some(ns) = ctx.namespace() else {
        return Ok(());
    };
    let key = storage_key("", "namespaces", None, ns);
    let Some(namespace) = ctx.server.cache.get("", "namespaces", &key) else {
        return Err(ApiError::NotFound {
            group: String::new(),
            resource: "namespaces".into(),
            name: ns.into(),
        });
    };
    // The server sets phase Terminating together with deletionTimestamp, and the phase is a
    // selectable field the cache already holds: no need to parse the namespace per create.
    if namespace.field("status.phase") == Some("Terminating") {
        return Err(ApiError::NamespaceTerminating {
            namespace: ns.into(),
            message: format!(
                "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                ctx.resource.info.plural,
                ctx.info.name.clone().unwrap_or_default()
            ),
        });
    }
    Ok(())
}

pub(crate) fn random_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn invalid(ctx: &Ctx, name: &str, causes: Vec<FieldCause>) -> ApiError {
    ApiError::Invalid {
        group: ctx.resource.info.group.clone(),
        kind: ctx.resource.info.kind.clone(),
        name: name.to_string(),
        causes,
    }
}

/// Decode a body and run the field validation the client asked for.
pub fn decode_body(ctx: &Ctx, body: &Bytes, warnings: &mut Vec<String>) -> Result<Value, ApiError> {
    let mut obj = codec::decode_object(ctx.content_type.as_deref(), body)?;
    strategy::check_unknown_fields(ctx, &mut obj, warnings)?;
    Ok(obj)
}

pub async fn create(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let mut warnings = Vec::new();
    let mut obj = decode_body(ctx, &body, &mut warnings)?;
    check_type(ctx, &mut obj)?;
    check_namespace(ctx, &mut obj)?;
    if ctx.info.name.is_some() && ctx.info.subresource.is_none() {
        return Err(ApiError::MethodNotAllowed);
    }
    let created = create_object(ctx, obj, ctx.query.dry_run()?, &mut warnings).await?;
    Ok(response::with_warnings(
        ctx.value_response(StatusCode::CREATED, &created),
        &warnings,
    ))
}

/// Everything a create does after decoding; also used by apply-creates and create-on-update.
pub async fn create_object(
    ctx: &Ctx,
    mut obj: Value,
    dry_run: bool,
    warnings: &mut Vec<String>,
) -> Result<Value, ApiError> {
    let name = match (meta_str(&obj, "name"), meta_str(&obj, "generateName")) {
        (Some(name), _) => name.to_string(),
        (None, Some(prefix)) => {
            let prefix = prefix.to_string();
            format!("{prefix}{}", random_suffix())
        }
        (None, None) => {
            return Err(invalid(
                ctx,
                "",
                vec![FieldCause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value: name or generateName is required".into(),
                    field: "metadata.name".into(),
                }],
            ));
        }
    };
    check_namespace_lifecycle(ctx)?;
    {
        let meta = meta_mut(&mut obj);
        meta.insert("name".into(), json!(name));
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.remove("resourceVersion");
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        meta.remove("selfLink");
    }
    strategy::prepare_for_create(ctx, &mut obj)?;
    let reservation = crate::admission::admit_create(ctx, &mut obj, dry_run).await?;
    match store_new(ctx, obj, name, dry_run, warnings).await {
        Ok(created) => {
            reservation.keep();
            Ok(created)
        }
        Err(err) => {
            reservation.release().await;
            Err(err)
        }
    }
}

/// Validate and store an admitted new object.
async fn store_new(
    ctx: &Ctx,
    mut obj: Value,
    name: String,
    dry_run: bool,
    warnings: &mut Vec<String>,
) -> Result<Value, ApiError> {
    strategy::validate(ctx, &obj, None, warnings)?;
    crate::admission::validate_create(ctx, &obj, dry_run).await?;
    strategy::track_managed_fields(ctx, None, &mut obj, "Update")?;
    let info = &ctx.resource.info;
    let key = storage_key(&info.group, &info.plural, ctx.namespace(), &name);
    if dry_run {
        if ctx
            .server
            .cache
            .get(&info.group, &info.plural, &key)
            .is_some()
        {
            return Err(ApiError::AlreadyExists {
                group: info.group.clone(),
                resource: info.plural.clone(),
                name,
            });
        }
        return Ok(obj);
    }
    match ctx
        .server
        .store
        .create(&key, encode_for_store(&obj), None)
        .await
    {
        Ok(kv) => Ok(with_resource_version(obj, kv.mod_revision)),
        Err(StoreError::AlreadyExists { .. }) => Err(ApiError::AlreadyExists {
            group: info.group.clone(),
            resource: info.plural.clone(),
            name,
        }),
        Err(err) => Err(err.into()),
    }
}

/// Outcome of one read-modify-write attempt.
pub enum Mutation {
    /// Write this new state (a no-op write is detected and skipped, as upstream does).
    Write(Value),
}

/// Upstream's GuaranteedUpdate: read, mutate, compare-and-swap, retry on races unless the
/// caller pinned a resourceVersion. Removing the last finalizer of an object being deleted
/// deletes it.
pub async fn guaranteed_update(
    ctx: &Ctx,
    name: &str,
    dry_run: bool,
    mut mutate: impl FnMut(&Value) -> Result<Mutation, ApiError>,
) -> Result<(Value, bool), ApiError> {
    let info = &ctx.resource.info;
    let key = storage_key(&info.group, &info.plural, ctx.namespace(), name);
    for _ in 0..MAX_UPDATE_ATTEMPTS {
        let (kv, _) = ctx.server.store.get(&key, None).await?;
        let Some(kv) = kv else {
            return Err(ctx.not_found(name));
        };
        let current = decode_value(&kv)?;
        let Mutation::Write(mut new) = mutate(&current)?;
        if let Some(pinned) = meta_str(&new, "resourceVersion")
            && pinned != kv.mod_revision.to_string()
        {
            return Err(ctx.conflict(name));
        }
        if meta_str(&new, "deletionTimestamp").is_some()
            && strategy::pending_finalizers(ctx, &new).is_empty()
            && !dry_run
        {
            match cas_delete(ctx, &key, kv.mod_revision, name).await? {
                Some(revision) => return Ok((with_resource_version(new, revision), true)),
                None => continue,
            }
        }
        meta_mut(&mut new).remove("resourceVersion");
        let mut comparable = current.clone();
        meta_mut(&mut comparable).remove("resourceVersion");
        if strip_volatile(&comparable) == strip_volatile(&new) {
            return Ok((current, false));
        }
        if dry_run {
            return Ok((new, true));
        }
        // The client's resourceVersion (if any) matched what we read; losing a race after that
        // is ours to retry.
        match cas_update(ctx, &key, &new, kv.mod_revision, name).await? {
            Some(revision) => return Ok((with_resource_version(new, revision), true)),
            None => continue,
        }
    }
    Err(ctx.conflict(name))
}

/// Replace `key` if it is still at `expected`: the revision written, or `None` when another
/// writer got there first and the caller should read again and retry.
async fn cas_update(
    ctx: &Ctx,
    key: &str,
    value: &Value,
    expected: i64,
    name: &str,
) -> Result<Option<i64>, ApiError> {
    let written = ctx
        .server
        .store
        .update(key, encode_for_store(value), expected, None)
        .await;
    cas_outcome(ctx, name, written.map(|kv| kv.mod_revision))
}

/// Delete `key` if it is still at `expected`, as [`cas_update`].
async fn cas_delete(
    ctx: &Ctx,
    key: &str,
    expected: i64,
    name: &str,
) -> Result<Option<i64>, ApiError> {
    let deleted = ctx.server.store.delete(key, Some(expected)).await;
    if let Ok((kv, _)) = &deleted
        && ctx.resource.info.group.is_empty()
        && ctx.resource.info.plural == "services"
    {
        crate::admission::released_on_delete(ctx, &decode_value(kv)?).await;
    }
    cas_outcome(ctx, name, deleted.map(|(_, revision)| revision))
}

fn cas_outcome(
    ctx: &Ctx,
    name: &str,
    result: Result<i64, StoreError>,
) -> Result<Option<i64>, ApiError> {
    match result {
        Ok(revision) => Ok(Some(revision)),
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(StoreError::NotFound) => Err(ctx.not_found(name)),
        Err(err) => Err(err.into()),
    }
}

/// managedFields timestamps change on every write; equality ignores them.
fn strip_volatile(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(fields) = obj
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
    {
        for entry in fields {
            if let Some(entry) = entry.as_object_mut() {
                entry.remove("time");
            }
        }
    }
    obj
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub async fn update(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?.to_string();
    let mut warnings = Vec::new();
    let mut obj = decode_body(ctx, &body, &mut warnings)?;
    check_type(ctx, &mut obj)?;
    check_namespace(ctx, &mut obj)?;
    match meta_str(&obj, "name") {
        Some(body_name) if body_name != name => {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        None => {
            meta_mut(&mut obj).insert("name".into(), json!(name));
        }
        _ => {}
    }
    let dry_run = ctx.query.dry_run()?;
    let subresource = ctx.info.subresource.clone();
    let result = guaranteed_update(ctx, &name, dry_run, |current| {
        let new = strategy::prepare_for_update(ctx, current, obj.clone(), subresource.as_deref())?;
        strategy::validate(ctx, &new, Some(current), &mut Vec::new())?;
        Ok(Mutation::Write(new))
    })
    .await;
    match result {
        Ok((value, _)) => Ok(response::with_warnings(
            ctx.value_response(StatusCode::OK, &value),
            &warnings,
        )),
        Err(ApiError::NotFound { .. })
            if strategy::allows_create_on_update(ctx) && subresource.is_none() =>
        {
            let created = create_object(ctx, obj, dry_run, &mut warnings).await?;
            Ok(response::with_warnings(
                ctx.value_response(StatusCode::CREATED, &created),
                &warnings,
            ))
        }
        Err(err) => Err(err),
    }
}

pub async fn patch(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    if body.len() > codec::MAX_BODY_BYTES {
        return Err(ApiError::TooLarge);
    }
    let name = ctx.name()?.to_string();
    let dry_run = ctx.query.dry_run()?;
    let patch_type =
        crate::patching::PatchType::from_content_type(ctx, ctx.content_type.as_deref())?;
    let patch = crate::patching::parse_patch(patch_type, &body)?;
    let subresource = ctx.info.subresource.clone();
    let mut warnings = Vec::new();
    let result = guaranteed_update(ctx, &name, dry_run, |current| {
        let mut patched = crate::patching::apply_patch(ctx, patch_type, current, &patch)?;
        strategy::check_unknown_fields(ctx, &mut patched, &mut warnings)?;
        check_type(ctx, &mut patched)?;
        let new = strategy::prepare_for_update(ctx, current, patched, subresource.as_deref())?;
        strategy::validate(ctx, &new, Some(current), &mut Vec::new())?;
        Ok(Mutation::Write(new))
    })
    .await;
    match result {
        Ok((value, _)) => Ok(response::with_warnings(
            ctx.value_response(StatusCode::OK, &value),
            &warnings,
        )),
        Err(ApiError::NotFound { .. })
            if patch_type == crate::patching::PatchType::Apply && subresource.is_none() =>
        {
            let mut obj = crate::patching::apply_create(ctx, &patch)?;
            strategy::check_unknown_fields(ctx, &mut obj, &mut warnings)?;
            check_type(ctx, &mut obj)?;
            check_namespace(ctx, &mut obj)?;
            meta_mut(&mut obj).insert("name".into(), json!(name));
            let created = create_object(ctx, obj, dry_run, &mut warnings).await?;
            Ok(response::with_warnings(
                ctx.value_response(StatusCode::CREATED, &created),
                &warnings,
            ))
        }
        Err(err) => Err(err),
    }
}

/// DeleteOptions from the body (JSON or protobuf) and the query.
#[derive(Default)]
struct DeleteOptions {
    grace_period: Option<i64>,
    propagation: Option<String>,
    precondition_uid: Option<String>,
    precondition_rv: Option<String>,
    dry_run: bool,
}

fn delete_options(ctx: &Ctx, body: &Bytes) -> Result<DeleteOptions, ApiError> {
    let mut options = DeleteOptions {
        dry_run: ctx.query.dry_run()?,
        ..Default::default()
    };
    if !body.is_empty() {
        let value = codec::decode_object(ctx.content_type.as_deref(), body)?;
        options.grace_period = value.get("gracePeriodSeconds").and_then(Value::as_i64);
        options.propagation = value
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string);
        if value.get("orphanDependents").and_then(Value::as_bool) == Some(true)
            && options.propagation.is_none()
        {
            options.propagation = Some("Orphan".into());
        }
        options.precondition_uid = value
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        options.precondition_rv = value
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(values) = value.get("dryRun").and_then(Value::as_array)
            && values.iter().any(|v| v == "All")
        {
            options.dry_run = true;
        }
    }
    if let Some(grace) = ctx.query.parse_int::<i64>("gracePeriodSeconds")? {
        options.grace_period = Some(grace);
    }
    if let Some(policy) = ctx.query.get("propagationPolicy") {
        options.propagation = Some(policy.to_string());
    }
    if ctx.query.flag("orphanDependents") && options.propagation.is_none() {
        options.propagation = Some("Orphan".into());
    }
    match options.propagation.as_deref() {
        None | Some("Background" | "Foreground" | "Orphan") => Ok(options),
        Some(other) => Err(ApiError::BadRequest(format!(
            "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
        ))),
    }
}

pub async fn delete(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?.to_string();
    let options = delete_options(ctx, &body)?;
    let (value, deleted) = delete_object(ctx, &name, &options).await?;
    let status = if deleted {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(ctx.value_response(status, &value))
}

/// Delete one object: immediately, or by marking it (deletionTimestamp) when finalizers or a
/// grace period defer the removal. Returns the object and whether it is gone.
async fn delete_object(
    ctx: &Ctx,
    name: &str,
    options: &DeleteOptions,
) -> Result<(Value, bool), ApiError> {
    let info = ctx.resource.info.clone();
    let key = storage_key(&info.group, &info.plural, ctx.namespace(), name);
    for _ in 0..MAX_UPDATE_ATTEMPTS {
        let (kv, _) = ctx.server.store.get(&key, None).await?;
        let Some(kv) = kv else {
            return Err(ctx.not_found(name));
        };
        let current = decode_value(&kv)?;
        if let Some(uid) = &options.precondition_uid
            && meta_str(&current, "uid") != Some(uid.as_str())
        {
            return Err(ApiError::Conflict {
                group: info.group.clone(),
                resource: info.plural.clone(),
                name: name.into(),
                reason: format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&current, "uid").unwrap_or_default()
                ),
            });
        }
        if let Some(rv) = &options.precondition_rv
            && *rv != kv.mod_revision.to_string()
        {
            return Err(ApiError::Conflict {
                group: info.group.clone(),
                resource: info.plural.clone(),
                name: name.into(),
                reason: format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    kv.mod_revision
                ),
            });
        }
        let mut marked = current.clone();
        let mut finalizer_list = finalizers(&current);
        let pending_spec_finalizers =
            strategy::pending_finalizers(ctx, &current).len() > finalizer_list.len();
        match options.propagation.as_deref() {
            Some("Foreground") if !finalizer_list.iter().any(|f| f == "foregroundDeletion") => {
                finalizer_list.retain(|f| f != "orphan");
                finalizer_list.push("foregroundDeletion".into());
            }
            Some("Orphan") if !finalizer_list.iter().any(|f| f == "orphan") => {
                finalizer_list.retain(|f| f != "foregroundDeletion");
                finalizer_list.push("orphan".into());
            }
            _ => {}
        }
        let grace = strategy::grace_period(ctx, &current, options.grace_period);
        let already_marked = meta_str(&current, "deletionTimestamp").is_some();
        let defer = !finalizer_list.is_empty() || grace > 0 || pending_spec_finalizers;
        if !defer {
            if options.dry_run {
                return Ok((current, true));
            }
            match cas_delete(ctx, &key, kv.mod_revision, name).await? {
                Some(revision) => return Ok((with_resource_version(current, revision), true)),
                None => continue,
            }
        }
        {
            let meta = meta_mut(&mut marked);
            if !finalizer_list.is_empty() {
                meta.insert("finalizers".into(), json!(finalizer_list));
            }
            if !already_marked {
                let at = chrono::Utc::now() + chrono::Duration::seconds(grace.max(0));
                meta.insert(
                    "deletionTimestamp".into(),
                    json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                );
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace.max(0)));
            } else if grace >= 0
                && meta
                    .get("deletionGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .is_some_and(|g| grace < g)
            {
                // A shorter grace period shortens an ongoing graceful deletion.
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
            }
        }
        strategy::on_deletion_marked(ctx, &mut marked);
        if marked == current {
            return Ok((current, false));
        }
        if options.dry_run {
            return Ok((marked, false));
        }
        meta_mut(&mut marked).remove("resourceVersion");
        match cas_update(ctx, &key, &marked, kv.mod_revision, name).await? {
            Some(revision) => return Ok((with_resource_version(marked, revision), false)),
            None => continue,
        }
    }
    Err(ctx.conflict(name))
}

pub async fn delete_collection(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let options = delete_options(ctx, &body)?;
    let selectors = crate::read::Selectors::parse(ctx)?;
    let info = &ctx.resource.info;
    let prefix = crate::object::storage_prefix(&info.group, &info.plural, ctx.namespace());
    let (objects, revision) = ctx.server.cache.list(&info.group, &info.plural, &prefix);
    let mut items = Vec::new();
    for object in objects.iter().filter(|o| selectors.matches(o)) {
        let mut scoped = ctx.clone();
        scoped.info.namespace = object.namespace.clone();
        match delete_object(&scoped, &object.name, &options).await {
            Ok((value, _)) => items.push(ctx.convert(value)),
            Err(ApiError::NotFound { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(response::json(
        StatusCode::OK,
        &json!({"kind": info.list_kind(), "apiVersion": info.api_version(), "metadata": {"resourceVersion": revision.to_string()}, "items": items}),
    ))
}
