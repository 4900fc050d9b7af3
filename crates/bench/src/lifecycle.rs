//! Start-up and memory: time from spawn to ready on an empty data dir, idle RSS, and time to
//! ready after a restart with many Pods stored.

use std::sync::Arc;
use std::time::Duration;

use crate::BenchError;
use crate::api::PodCreator;
use crate::client::Pool;
use crate::driver::{Limit, drive};
use crate::process::{ControlPlane, ControlPlaneSpec};
use crate::report::{Metric, Op, Report, Row, Scalar};

/// How long the server sits idle before its RSS is read: long enough for start-up buffers to be
/// released, as in the issue ("idle for 2 s").
const IDLE: Duration = Duration::from_secs(2);

/// Start on an empty data dir; record start-to-ready and idle RSS.
pub async fn start_empty(
    spec: &ControlPlaneSpec,
    store: &str,
    scalars: &mut Vec<Scalar>,
) -> Result<ControlPlane, BenchError> {
    let cp = spec.start(Duration::from_secs(60)).await?;
    scalars.push(Scalar {
        store: store.into(),
        metric: Metric::ReadyEmpty,
        value: cp.ready_after.as_secs_f64(),
        verdict: None,
    });
    tokio::time::sleep(IDLE).await;
    scalars.push(Scalar {
        store: store.into(),
        metric: Metric::IdleRss,
        value: cp.rss_bytes()? as f64,
        verdict: None,
    });
    Ok(cp)
}

/// Fill the store with `pods` Pods through the API (`clients` parallel clients; the create rate
/// at that scale is a row of its own), stop with SIGTERM, start again and time it to ready.
/// Returns the restarted control plane.
pub async fn restart_with_pods(
    cp: ControlPlane,
    spec: &ControlPlaneSpec,
    store: &str,
    pods: usize,
    clients: usize,
    clients_per_connection: usize,
    report: &mut Report,
) -> Result<ControlPlane, BenchError> {
    {
        let pool = Pool::open(&cp.endpoint, clients.div_ceil(clients_per_connection)).await?;
        crate::api::ensure_namespace(&pool.conn(0), "bench-pods").await?;
        let namespace: Arc<str> = "bench-pods".into();
        let workers = (0..clients)
            .map(|i| PodCreator {
                conn: pool.conn(i),
                namespace: namespace.clone(),
            })
            .collect();
        let (mut sample, _) = drive(workers, Limit::Count(pods as u64)).await?;
        let summary = sample.summarize();
        let note = sample
            .first_error
            .clone()
            .map(|e| format!("first error: {}", short(&e)))
            .unwrap_or_default();
        report.rows.push(Row {
            store: store.into(),
            op: Op::CreatePods { pods },
            clients,
            summary,
            note,
            verdicts: vec![],
        });
    }
    cp.stop(Duration::from_secs(60)).await?;
    let cp = spec.start(Duration::from_secs(300)).await?;
    report.scalars.push(Scalar {
        store: store.into(),
        metric: Metric::ReadyRestart { pods },
        value: cp.ready_after.as_secs_f64(),
        verdict: None,
    });
    tokio::time::sleep(IDLE).await;
    report.scalars.push(Scalar {
        store: store.into(),
        metric: Metric::RssAfterRestart { pods },
        value: cp.rss_bytes()? as f64,
        verdict: None,
    });
    Ok(cp)
}

/// An error message short enough for a table cell.
pub fn short(e: &str) -> String {
    let one_line = e.replace(['\n', '|'], " ");
    if one_line.chars().count() > 120 {
        one_line.chars().take(120).collect::<String>() + "…"
    } else {
        one_line
    }
}
