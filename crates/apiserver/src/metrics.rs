//! Prometheus metrics for /metrics.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use http::{Method, StatusCode};

/// Upper bounds (seconds) of the request latency histogram, as upstream's coarse buckets.
const BUCKETS: &[f64] = &[
    0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<(Vec<u64>, f64, u64)>,
}

impl Metrics {
    pub fn observe(&self, method: &Method, status: StatusCode, elapsed: Duration) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((method.to_string(), status.as_u16()))
            .or_default() += 1;
        let mut latency = self.latency.lock().expect("metrics lock");
        if latency.0.is_empty() {
            latency.0 = vec![0; BUCKETS.len()];
        }
        let seconds = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                latency.0[i] += 1;
            }
        }
        latency.1 += seconds;
        latency.2 += 1;
    }

    pub fn render(&self, objects: &[(String, String, usize)], revision: i64) -> String {
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Counter of apiserver requests by method and HTTP code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((method, code), count) in self.requests.lock().expect("metrics lock").iter() {
            out.push_str(&format!(
                "apiserver_request_total{{verb=\"{method}\",code=\"{code}\"}} {count}\n"
            ));
        }
        let latency = self.latency.lock().expect("metrics lock");
        out.push_str(
            "# HELP apiserver_request_duration_seconds Response latency distribution in seconds.\n",
        );
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let count = latency.0.get(i).copied().unwrap_or(0);
            out.push_str(&format!(
                "apiserver_request_duration_seconds_bucket{{le=\"{bound}\"}} {count}\n"
            ));
        }
        out.push_str(&format!(
            "apiserver_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n",
            latency.2
        ));
        out.push_str(&format!(
            "apiserver_request_duration_seconds_sum {}\n",
            latency.1
        ));
        out.push_str(&format!(
            "apiserver_request_duration_seconds_count {}\n",
            latency.2
        ));
        out.push_str("# HELP apiserver_storage_objects Number of stored objects per resource.\n");
        out.push_str("# TYPE apiserver_storage_objects gauge\n");
        for (group, resource, count) in objects {
            let name = if group.is_empty() {
                resource.clone()
            } else {
                format!("{resource}.{group}")
            };
            out.push_str(&format!(
                "apiserver_storage_objects{{resource=\"{name}\"}} {count}\n"
            ));
        }
        out.push_str("# HELP keelson_store_revision Revision the watch cache reflects.\n");
        out.push_str("# TYPE keelson_store_revision gauge\n");
        out.push_str(&format!("keelson_store_revision {revision}\n"));
        if let Some(rss) = resident_bytes() {
            out.push_str("# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
            out.push_str("# TYPE process_resident_memory_bytes gauge\n");
            out.push_str(&format!("process_resident_memory_bytes {rss}\n"));
        }
        out
    }
}

/// Resident set size from /proc (Linux only).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
