//! One cluster's supervision loop: launch, wait for `/readyz`, watch, restart with back-off.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::Child;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{
    FIRST_BACKOFF, Inner, MAX_BACKOFF, Outcome, POLL, READY_TIMEOUT, STABLE_AFTER, STOP_GRACE,
};
use crate::model::{ClusterStatus, ISSUE_UNREACHABLE};
use crate::{probe, process};

pub(super) async fn run_cluster(
    inner: Arc<Inner>,
    name: String,
    stop: CancellationToken,
    restart: Arc<Notify>,
) {
    let dir = inner.cluster_dir(&name);
    let mut backoff = FIRST_BACKOFF;
    let mut failures = 0u32;
    while !stop.is_cancelled() {
        let record = match inner.records.get(&name).await {
            Ok(Some((record, _))) => record,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(cluster = %name, %error, "reading the cluster record");
                if !pause(&stop, &mut backoff).await {
                    return;
                }
                continue;
            }
        };
        if matches!(
            record.status,
            ClusterStatus::Deleting | ClusterStatus::Failed
        ) {
            return;
        }
        // An ACTIVE cluster whose control plane is (re)starting, e.g. after a service restart,
        // says so until it answers again.
        if record.status == ClusterStatus::Active
            && !record
                .health_issues
                .iter()
                .any(|i| i.code == ISSUE_UNREACHABLE)
        {
            inner
                .mark_unreachable(&name, "The control plane is starting.".into())
                .await;
        }
        let mut child = match inner.launch(&record, &dir).await {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(cluster = %name, %error, "starting the control plane");
                inner
                    .mark_unreachable(
                        &name,
                        format!("The control plane could not be started: {error}"),
                    )
                    .await;
                failures += 1;
                if inner.give_up(&name, &record, failures).await
                    || !pause(&stop, &mut backoff).await
                {
                    return;
                }
                continue;
            }
        };
        let outcome = tokio::select! {
            _ = stop.cancelled() => Outcome::Stop,
            _ = restart.notified() => Outcome::Restart,
            outcome = wait_ready(&mut child, record.port, &dir) => outcome,
        };
        match outcome {
            Outcome::Ready => {}
            Outcome::Stop => return process::terminate(&mut child, STOP_GRACE).await,
            Outcome::Restart => {
                process::terminate(&mut child, STOP_GRACE).await;
                continue;
            }
            Outcome::Exited(why) => {
                process::terminate(&mut child, STOP_GRACE).await;
                tracing::warn!(cluster = %name, why, "control plane did not become ready");
                inner
                    .mark_unreachable(&name, format!("The control plane is restarting: {why}"))
                    .await;
                failures += 1;
                if inner.give_up(&name, &record, failures).await
                    || !pause(&stop, &mut backoff).await
                {
                    return;
                }
                continue;
            }
        }
        failures = 0;
        inner.mark_ready(&name, &dir).await;
        tracing::info!(cluster = %name, port = record.port, "control plane ready");
        let ready_at = Instant::now();
        let outcome = tokio::select! {
            _ = stop.cancelled() => Outcome::Stop,
            _ = restart.notified() => Outcome::Restart,
            status = child.wait() => Outcome::Exited(match status {
                Ok(status) => format!("the process exited ({status})"),
                Err(error) => format!("waiting for the process failed: {error}"),
            }),
        };
        match outcome {
            Outcome::Stop => return process::terminate(&mut child, STOP_GRACE).await,
            Outcome::Restart => {
                process::terminate(&mut child, STOP_GRACE).await;
                backoff = FIRST_BACKOFF;
            }
            Outcome::Exited(why) => {
                tracing::warn!(cluster = %name, why, "control plane exited; restarting");
                inner
                    .mark_unreachable(&name, format!("The control plane is restarting: {why}"))
                    .await;
                if ready_at.elapsed() >= STABLE_AFTER {
                    backoff = FIRST_BACKOFF;
                }
                if !pause(&stop, &mut backoff).await {
                    return;
                }
            }
            Outcome::Ready => unreachable!("only the readiness wait yields Ready"),
        }
    }
}

/// Sleeps for the back-off (doubling it for next time); false when stopped meanwhile.
async fn pause(stop: &CancellationToken, backoff: &mut Duration) -> bool {
    let wait = *backoff;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(wait) => true,
    }
}

async fn wait_ready(child: &mut Child, port: u16, dir: &Path) -> Outcome {
    let started = Instant::now();
    let ca_file = probe::ca_path(dir);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Outcome::Exited(format!("the process exited ({status})")),
            Err(error) => {
                return Outcome::Exited(format!("waiting for the process failed: {error}"));
            }
            Ok(None) => {}
        }
        // Read afresh each time: the first read may race the control plane writing it.
        let ca = std::fs::read_to_string(&ca_file)
            .ok()
            .filter(|pem| !pem.is_empty());
        // The control plane writes its admin kubeconfig just after it starts answering;
        // waiting for both means "ACTIVE" finds the cluster fully started.
        if let Some(pem) = &ca
            && dir.join("admin.kubeconfig").exists()
            && probe::ready(port, pem).await
        {
            return Outcome::Ready;
        }
        if started.elapsed() > READY_TIMEOUT {
            return Outcome::Exited(format!("not ready after {READY_TIMEOUT:?}"));
        }
        tokio::time::sleep(POLL).await;
    }
}
