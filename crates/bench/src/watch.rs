//! Watch fan-out: W watch streams (HTTP/2 streams spread over a few connections) on one
//! namespace's ConfigMaps; a writer updates an object whose data carries the send time; every
//! watcher records, for every event, how long after the send it arrived.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use http::Method;
use http_body_util::BodyExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::BenchError;
use crate::api::configmaps_path;
use crate::client::{Conn, Endpoint, Pool, json_str};
use crate::stats::Sample;

/// Watch streams per HTTP/2 connection: below the usual server limit of concurrent streams
/// (hyper's default is 200), so opening watchers never queues behind that limit.
const WATCHERS_PER_CONNECTION: usize = 100;
const MARKER: &[u8] = br#""sent":""#;

pub struct FanoutResult {
    pub sample: Sample,
    pub watchers: usize,
    pub established: usize,
    pub events_sent: usize,
    /// Deliveries expected (events × established watchers) and received.
    pub expected: u64,
    pub delivered: u64,
}

fn object(namespace: &str, rv: Option<&str>, sent_ns: u128) -> bytes::Bytes {
    let rv = rv
        .map(|rv| format!(r#","resourceVersion":"{rv}""#))
        .unwrap_or_default();
    bytes::Bytes::from(format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"fanout","namespace":"{namespace}"{rv}}},"data":{{"sent":"{sent_ns}"}}}}"#
    ))
}

/// Run the fan-out: `events` updates spaced `interval` apart.
pub async fn fanout(
    endpoint: &Endpoint,
    writer: &Conn,
    namespace: &str,
    watchers: usize,
    events: usize,
    interval: Duration,
) -> Result<FanoutResult, BenchError> {
    // One clock for sender and receivers: they are in this process.
    let epoch = Instant::now();
    let base = configmaps_path(namespace);
    let created = writer
        .call(Method::POST, &base, Some(object(namespace, None, 0)))
        .await?;
    let mut rv = json_str(&created, &["metadata", "resourceVersion"], &base)?;

    let pool = Pool::open(endpoint, watchers.div_ceil(WATCHERS_PER_CONNECTION)).await?;
    let cancel = CancellationToken::new();
    let established = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    let watch_path = format!("{base}?watch=true&resourceVersion={rv}");
    for i in 0..watchers {
        let (conn, path, cancel) = (pool.conn(i), watch_path.clone(), cancel.clone());
        let (established, delivered) = (established.clone(), delivered.clone());
        tasks.spawn(watch_one(conn, path, epoch, cancel, established, delivered));
    }
    // All streams must be open before the first event, or late watchers would skew delivery.
    let deadline = Instant::now() + Duration::from_secs(60);
    while established.load(Ordering::Relaxed) < watchers && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open = established.load(Ordering::Relaxed);
    if open < watchers {
        tracing::warn!(open, watchers, "not every watch stream opened within 60 s");
    }
    // Let the server finish registering the last watchers (headers can precede registration).
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    for k in 0..events {
        let target = started + interval * k as u32;
        tokio::time::sleep_until(target.into()).await;
        let sent = epoch.elapsed().as_nanos();
        let body = writer
            .call(
                Method::PUT,
                &format!("{base}/fanout"),
                Some(object(namespace, Some(&rv), sent)),
            )
            .await?;
        rv = json_str(&body, &["metadata", "resourceVersion"], &base)?;
    }
    let expected = (events * open) as u64;
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let wall = started.elapsed();
    // Each watcher returns what it saw when cancelled.
    cancel.cancel();
    let mut sample = Sample {
        wall,
        ..Default::default()
    };
    while let Some(r) = tasks.join_next().await {
        match r? {
            Ok(s) => sample.latencies.extend(s.latencies),
            Err(e) => {
                sample.errors += 1;
                sample.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    drop(pool);
    Ok(FanoutResult {
        delivered: sample.latencies.len() as u64,
        sample,
        watchers,
        established: open,
        events_sent: events,
        expected,
    })
}

async fn watch_one(
    conn: Conn,
    path: String,
    epoch: Instant,
    cancel: CancellationToken,
    established: Arc<AtomicUsize>,
    delivered: Arc<AtomicU64>,
) -> Result<Sample, BenchError> {
    let mut sample = Sample::default();
    let response = tokio::select! {
        r = conn.send(Method::GET, &path, None) => r?,
        _ = cancel.cancelled() => return Ok(sample),
    };
    let status = response.status();
    if !status.is_success() {
        return Err(BenchError::Status {
            method: "GET".into(),
            path,
            status: status.as_u16(),
            body: String::new(),
        });
    }
    established.fetch_add(1, Ordering::Relaxed);
    let mut body = response.into_body();
    let mut buf = BytesMut::new();
    loop {
        let frame = tokio::select! {
            f = body.frame() => f,
            _ = cancel.cancelled() => break,
        };
        let Some(frame) = frame else { break };
        // Timestamp on arrival, before any parsing, so client-side decoding is not counted.
        let now = epoch.elapsed().as_nanos();
        if let Ok(data) = frame?.into_data() {
            buf.extend_from_slice(&data);
            for sent in take_sent_times(&mut buf) {
                if sent > 0 {
                    sample
                        .latencies
                        .push(Duration::from_nanos(now.saturating_sub(sent) as u64));
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    Ok(sample)
}

/// Pull every complete `"sent":"<nanos>"` out of the buffered stream, leaving any incomplete
/// tail. A byte search rather than JSON decoding: 1,000 watchers decoding every event would put
/// the bench's own CPU into the measured latency, and it does not depend on how events are framed.
pub fn take_sent_times(buf: &mut BytesMut) -> Vec<u128> {
    let mut out = Vec::new();
    loop {
        let Some(at) = find(buf, MARKER) else {
            // Keep a possible partial marker at the end.
            let keep = MARKER.len().min(buf.len());
            buf.advance(buf.len() - keep);
            return out;
        };
        let digits = &buf[at + MARKER.len()..];
        let Some(end) = digits.iter().position(|&b| b == b'"') else {
            buf.advance(at);
            return out;
        };
        if let Some(n) = std::str::from_utf8(&digits[..end])
            .ok()
            .and_then(|t| t.parse().ok())
        {
            out.push(n);
        }
        buf.advance(at + MARKER.len() + end + 1);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_times_across_frames() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(
            br#"{"type":"MODIFIED","object":{"data":{"sent":"123"},"f:sent":{}}}
{"type":"MODIFIED","object":{"data":{"se"#,
        );
        assert_eq!(take_sent_times(&mut buf), vec![123]);
        buf.extend_from_slice(br#"nt":"45"#);
        assert_eq!(take_sent_times(&mut buf), Vec::<u128>::new());
        buf.extend_from_slice(br#"6"}}}{"type":"MODIFIED","object":{"data":{"sent":"7"}}}"#);
        assert_eq!(take_sent_times(&mut buf), vec![456, 7]);
        assert!(buf.len() <= MARKER.len());
    }
}
