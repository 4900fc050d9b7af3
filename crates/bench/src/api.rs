//! The single-object and list workloads over the Kubernetes API: ConfigMaps of ~1 KB.

use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use rand::Rng;

use crate::BenchError;
use crate::client::{Conn, json_str};
use crate::driver::Worker;

/// ~1 KB of data per ConfigMap, as in the issue.
const PAYLOAD: &str = concat!(
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd",
);

pub fn configmap_json(
    namespace: &str,
    name: &str,
    resource_version: Option<&str>,
    round: u64,
) -> Bytes {
    let rv = resource_version
        .map(|rv| format!(r#","resourceVersion":"{rv}""#))
        .unwrap_or_default();
    Bytes::from(format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"{namespace}"{rv}}},"data":{{"round":"{round}","payload":"{PAYLOAD}"}}}}"#
    ))
}

pub fn configmaps_path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/configmaps")
}

/// Create a namespace; an existing one is fine (the bench may reuse a data dir in development).
pub async fn ensure_namespace(conn: &Conn, name: &str) -> Result<(), BenchError> {
    let body =
        format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{name}"}}}}"#);
    match conn
        .call(Method::POST, "/api/v1/namespaces", Some(Bytes::from(body)))
        .await
    {
        Ok(_) => Ok(()),
        Err(BenchError::Status { status: 409, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates ConfigMaps named `{prefix}-{seq}`; remembers each one's resourceVersion so the update
/// phase can do conditional PUTs on objects this client owns.
pub struct Creator {
    pub conn: Conn,
    pub namespace: Arc<str>,
    pub prefix: Arc<str>,
    pub created: Vec<(String, String)>,
}

impl Worker for Creator {
    async fn step(&mut self, seq: u64) -> Result<(), BenchError> {
        let name = format!("{}-{seq}", self.prefix);
        let path = configmaps_path(&self.namespace);
        let body = self
            .conn
            .call(
                Method::POST,
                &path,
                Some(configmap_json(&self.namespace, &name, None, 0)),
            )
            .await?;
        let rv = json_str(&body, &["metadata", "resourceVersion"], &path)?;
        self.created.push((name, rv));
        Ok(())
    }
}

/// GETs random objects out of everything created so far.
pub struct Getter {
    pub conn: Conn,
    pub namespace: Arc<str>,
    pub names: Arc<Vec<String>>,
}

impl Worker for Getter {
    async fn step(&mut self, _seq: u64) -> Result<(), BenchError> {
        let i = rand::rng().random_range(0..self.names.len());
        let path = format!("{}/{}", configmaps_path(&self.namespace), self.names[i]);
        self.conn.call(Method::GET, &path, None).await.map(drop)
    }
}

/// PUTs its own objects round-robin, each conditional on the resourceVersion it last saw, so a
/// 409 would be a server bug rather than contention between clients.
pub struct Updater {
    pub conn: Conn,
    pub namespace: Arc<str>,
    pub owned: Vec<(String, String)>,
    pub next: usize,
}

impl Worker for Updater {
    async fn step(&mut self, seq: u64) -> Result<(), BenchError> {
        if self.owned.is_empty() {
            return Err(BenchError::Invalid("updater owns no objects".into()));
        }
        let i = self.next % self.owned.len();
        self.next += 1;
        let (name, rv) = &self.owned[i];
        let path = format!("{}/{name}", configmaps_path(&self.namespace));
        let body = configmap_json(&self.namespace, name, Some(rv), seq + 1);
        let response = self.conn.call(Method::PUT, &path, Some(body)).await?;
        self.owned[i].1 = json_str(&response, &["metadata", "resourceVersion"], &path)?;
        Ok(())
    }
}

/// Full lists (no limit), streamed and discarded by the client.
pub struct Lister {
    pub conn: Conn,
    pub namespace: Arc<str>,
}

impl Worker for Lister {
    async fn step(&mut self, _seq: u64) -> Result<(), BenchError> {
        self.conn
            .call_drain(Method::GET, &configmaps_path(&self.namespace))
            .await
            .map(drop)
    }
}

/// A whole paginated walk (`limit=N`, following `continue`) is one operation.
pub struct PagedLister {
    pub conn: Conn,
    pub namespace: Arc<str>,
    pub limit: usize,
}

impl Worker for PagedLister {
    async fn step(&mut self, _seq: u64) -> Result<(), BenchError> {
        paged_count(&self.conn, &self.namespace, self.limit)
            .await
            .map(drop)
    }
}

#[derive(serde::Deserialize)]
struct ListPage {
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct ListMeta {
    #[serde(rename = "continue", default)]
    continue_: Option<String>,
}

/// Walk every page; returns the number of items seen.
pub async fn paged_count(conn: &Conn, namespace: &str, limit: usize) -> Result<usize, BenchError> {
    let base = configmaps_path(namespace);
    let mut token: Option<String> = None;
    let mut items = 0;
    loop {
        let path = match &token {
            None => format!("{base}?limit={limit}"),
            Some(t) => format!("{base}?limit={limit}&continue={}", encode_query(t)),
        };
        let body = conn.call(Method::GET, &path, None).await?;
        let page: ListPage = serde_json::from_slice(&body).map_err(|e| BenchError::Decode {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        items += page.items.len();
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => return Ok(items),
        }
    }
}

/// Percent-encode a continue token for a query string (they are base64, so `+/=` matter).
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Number of items in a full list, to check a populated namespace.
pub async fn count_items(conn: &Conn, namespace: &str) -> Result<usize, BenchError> {
    let path = configmaps_path(namespace);
    let body = conn.call(Method::GET, &path, None).await?;
    let page: ListPage = serde_json::from_slice(&body).map_err(|e| BenchError::Decode {
        path,
        reason: e.to_string(),
    })?;
    Ok(page.items.len())
}

/// Small valid Pods for the restart-with-many-pods measurement.
pub struct PodCreator {
    pub conn: Conn,
    pub namespace: Arc<str>,
}

impl Worker for PodCreator {
    async fn step(&mut self, seq: u64) -> Result<(), BenchError> {
        let ns = &self.namespace;
        let body = format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"pod-{seq}","namespace":"{ns}","labels":{{"app":"bench"}}}},"spec":{{"containers":[{{"name":"c","image":"registry.example/bench:1"}}]}}}}"#
        );
        self.conn
            .call(
                Method::POST,
                &format!("/api/v1/namespaces/{ns}/pods"),
                Some(Bytes::from(body)),
            )
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configmap_is_about_one_kilobyte_and_valid_json() {
        let body = configmap_json("ns", "cm-1", Some("42"), 7);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["metadata"]["resourceVersion"], "42");
        assert_eq!(v["data"]["round"], "7");
        assert!((1000..1300).contains(&body.len()), "{}", body.len());
        let v: serde_json::Value =
            serde_json::from_slice(&configmap_json("ns", "x", None, 0)).unwrap();
        assert!(v["metadata"].get("resourceVersion").is_none());
    }

    #[test]
    fn query_encoding() {
        assert_eq!(encode_query("eyJ+/="), "eyJ%2B%2F%3D");
        assert_eq!(encode_query("a-b_c.d~"), "a-b_c.d~");
    }
}
