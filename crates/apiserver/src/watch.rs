//! Watch streams: one JSON event per line, served from the watch cache.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::cache::{Change, ChangeKind};
use crate::codec::Representation;
use crate::handler::Ctx;
use crate::object::CachedObject;
use crate::object::storage_prefix;
use crate::read::Selectors;
use crate::response::Body;
use crate::status::ApiError;
use crate::table;

/// Bookmarks let watchers resume from a recent revision after a reconnect.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

struct WatchPlan {
    selectors: Selectors,
    prefix: String,
    bookmarks: bool,
    initial_end_bookmark: bool,
    timeout: Duration,
}

pub async fn watch(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let info = &ctx.resource.info;
    let selectors = Selectors::parse(ctx)?;
    let prefix = storage_prefix(&info.group, &info.plural, ctx.namespace());
    let resource_version = match ctx.query.get("resourceVersion") {
        None => None,
        Some(rv) => Some(
            rv.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?,
        ),
    };
    let send_initial = ctx.query.flag("sendInitialEvents");
    let bookmarks = ctx.query.flag("allowWatchBookmarks");
    if send_initial && (!bookmarks || ctx.query.get("resourceVersionMatch") != Some("NotOlderThan"))
    {
        return Err(ApiError::Invalid {
            group: "meta.k8s.io".into(),
            kind: "ListOptions".into(),
            name: String::new(),
            causes: vec![crate::status::FieldCause {
                reason: "FieldValueForbidden".into(),
                message: "sendInitialEvents requires setting allowWatchBookmarks=true and resourceVersionMatch=NotOlderThan".into(),
                field: "sendInitialEvents".into(),
            }],
        });
    }
    let timeout = match ctx.query.parse_int::<u64>("timeoutSeconds")? {
        Some(seconds) => Duration::from_secs(seconds),
        None => Duration::from_secs(rand::rng().random_range(1800..3600)),
    };

    let cache = &ctx.server.cache;
    let (initial, after) = match resource_version {
        Some(rv) if rv != 0 && !send_initial => (Vec::new(), rv),
        Some(rv) if rv != 0 => {
            cache.wait_for(rv, Duration::from_secs(3)).await;
            let (items, revision) = cache.list(&info.group, &info.plural, &prefix);
            (items, revision)
        }
        _ => {
            let (items, revision) = cache.list(&info.group, &info.plural, &prefix);
            (items, revision)
        }
    };
    let content_type = if ctx.representation == Representation::Table {
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    } else {
        "application/json"
    };
    let (sender, receiver) = mpsc::channel::<Bytes>(64);
    let plan = WatchPlan {
        selectors,
        prefix,
        bookmarks,
        initial_end_bookmark: send_initial,
        timeout,
    };
    let subscription = cache.subscribe(&info.group, &info.plural, after);
    let ctx = ctx.clone();
    let shutdown = ctx.server.shutdown.clone();
    let tasks = ctx.server.tasks.clone();
    tasks.spawn(async move {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = stream_events(&ctx, plan, initial, after, subscription, sender) => {}
        }
    });
    let body = StreamBody::new(
        tokio_stream_from(receiver).map(|b| Ok::<_, std::convert::Infallible>(Frame::data(b))),
    );
    let mut response = Response::new(BodyExt::boxed(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    Ok(response)
}

fn tokio_stream_from(mut receiver: mpsc::Receiver<Bytes>) -> impl futures::Stream<Item = Bytes> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

async fn stream_events(
    ctx: &Ctx,
    plan: WatchPlan,
    initial: Vec<Arc<CachedObject>>,
    after: i64,
    subscription: Result<crate::cache::Subscription, ApiError>,
    sender: mpsc::Sender<Bytes>,
) {
    let mut writer = EventWriter {
        ctx,
        sender,
        wrote_columns: false,
    };
    let mut subscription = match subscription {
        Ok(s) => s,
        Err(err) => {
            let _ = writer.error(&err).await;
            return;
        }
    };
    for object in initial {
        if plan.selectors.matches(&object) && !writer.object("ADDED", &object).await {
            return;
        }
    }
    let mut last_revision = after;
    if plan.initial_end_bookmark && !writer.bookmark(last_revision, true).await {
        return;
    }
    for change in std::mem::take(&mut subscription.backlog) {
        if !deliver(&mut writer, &plan, &change).await {
            return;
        }
        last_revision = change.revision;
    }
    let deadline = tokio::time::sleep(plan.timeout);
    tokio::pin!(deadline);
    let mut bookmark_timer = tokio::time::interval(BOOKMARK_INTERVAL);
    bookmark_timer.tick().await;
    loop {
        tokio::select! {
            _ = &mut deadline => return,
            _ = writer.sender.closed() => return,
            _ = bookmark_timer.tick(), if plan.bookmarks => {
                let revision = ctx.server.cache.revision().max(last_revision);
                if !writer.bookmark(revision, false).await {
                    return;
                }
            }
            change = subscription.live.recv() => match change {
                Ok(change) => {
                    if change.revision <= last_revision {
                        continue;
                    }
                    last_revision = change.revision;
                    if !deliver(&mut writer, &plan, &change).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let _ = writer
                        .error(&ApiError::Expired {
                            message: format!("too old resource version: {last_revision}"),
                            continue_token: None,
                        })
                        .await;
                    return;
                }
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// Send one change, translated for the watcher's selectors (an object that stops matching is
/// seen as deleted, one that starts matching as added).
async fn deliver(writer: &mut EventWriter<'_>, plan: &WatchPlan, change: &Change) -> bool {
    if !change.object.key.starts_with(&plan.prefix) {
        return true;
    }
    let now = plan.selectors.matches(&change.object);
    let before = change
        .previous
        .as_ref()
        .is_some_and(|p| plan.selectors.matches(p));
    let kind = match change.kind {
        ChangeKind::Added if now => "ADDED",
        ChangeKind::Modified if now && before => "MODIFIED",
        ChangeKind::Modified if now => "ADDED",
        ChangeKind::Modified if before => "DELETED",
        ChangeKind::Deleted if before || (plan.selectors.is_everything()) => "DELETED",
        _ => return true,
    };
    writer.object(kind, &change.object).await
}

struct EventWriter<'a> {
    ctx: &'a Ctx,
    sender: mpsc::Sender<Bytes>,
    wrote_columns: bool,
}

impl EventWriter<'_> {
    async fn send(&mut self, bytes: Bytes) -> bool {
        self.sender.send(bytes).await.is_ok()
    }

    async fn object(&mut self, kind: &str, object: &CachedObject) -> bool {
        let mut out = BytesMut::with_capacity(object.json.len() + 32);
        out.put_slice(b"{\"type\":\"");
        out.put_slice(kind.as_bytes());
        out.put_slice(b"\",\"object\":");
        match self.ctx.representation {
            Representation::Table => {
                let Ok(value) = object.value() else {
                    return true;
                };
                let value = self.ctx.convert(value);
                let Ok(t) = table::build(
                    self.ctx,
                    &[value],
                    object.resource_version,
                    None,
                    !self.wrote_columns,
                ) else {
                    return true;
                };
                self.wrote_columns = true;
                out.put_slice(&serde_json::to_vec(&t).unwrap_or_default());
            }
            Representation::PartialObjectMetadata | Representation::PartialObjectMetadataList => {
                let Ok(value) = object.value() else {
                    return true;
                };
                out.put_slice(
                    &serde_json::to_vec(&crate::read::partial_metadata(&self.ctx.convert(value)))
                        .unwrap_or_default(),
                );
            }
            Representation::Object => {
                if object.api_version == self.ctx.resource.info.api_version() {
                    out.put_slice(&object.json);
                } else {
                    let Ok(value) = object.value() else {
                        return true;
                    };
                    out.put_slice(
                        &serde_json::to_vec(&self.ctx.convert(value)).unwrap_or_default(),
                    );
                }
            }
        }
        out.put_slice(b"}\n");
        self.send(out.freeze()).await
    }

    async fn bookmark(&mut self, revision: i64, initial_events_end: bool) -> bool {
        let info = &self.ctx.resource.info;
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object: Value =
            json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": metadata});
        let line = json!({"type": "BOOKMARK", "object": object});
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        self.send(Bytes::from(bytes)).await
    }

    async fn error(&mut self, err: &ApiError) -> bool {
        let line = json!({"type": "ERROR", "object": err.to_status()});
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        self.send(Bytes::from(bytes)).await
    }
}
