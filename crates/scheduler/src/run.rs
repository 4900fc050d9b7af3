//! The running scheduler: leader election, informers, the scheduling loop, and asynchronous
//! binding with bounded concurrency.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::informers::{self, Shared, lock};
use crate::model::Pod;
use crate::state::{Decision, Preemption, State};
use crate::writer::{Writer, is_gone};

/// Bindings in flight at once.
const BIND_CONCURRENCY: usize = 256;
/// How often pods that failed long ago are looked at again.
const UNSCHEDULABLE_FLUSH: Duration = Duration::from_secs(30);
/// Scheduling cycles between yields to the runtime.
const CYCLES_PER_YIELD: u32 = 64;

/// Run the scheduler while this instance holds the `kube-system/kube-scheduler` Lease, until
/// `shutdown`.
pub async fn run(client: kube::Client, identity: String, shutdown: CancellationToken) {
    let elector = keelson_controllers::leader::LeaderElector::new(
        client.clone(),
        "kube-system",
        "kube-scheduler",
        identity.clone(),
    );
    loop {
        let Some(leadership) = elector.acquire(&shutdown).await else {
            return;
        };
        tracing::info!("scheduler became leader");
        let work = CancellationToken::new();
        let task = tokio::spawn(run_leading(client.clone(), identity.clone(), work.clone()));
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = leadership.lost.cancelled() => tracing::warn!("scheduler lost leadership"),
        }
        work.cancel();
        let _ = task.await;
        leadership.release().await;
        if shutdown.is_cancelled() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Schedule until `shutdown`, without leader election (the caller guarantees one instance).
pub async fn run_leading(client: kube::Client, identity: String, shutdown: CancellationToken) {
    run_named(client, identity, crate::SCHEDULER_NAME.into(), shutdown).await
}

/// Like [`run_leading`], for the pods whose spec.schedulerName is `scheduler_name` (a second
/// profile, as upstream's; the benchmark uses one so a running default scheduler ignores them).
pub async fn run_named(
    client: kube::Client,
    identity: String,
    scheduler_name: String,
    shutdown: CancellationToken,
) {
    let tasks = TaskTracker::new();
    let mut state = State::default();
    state.scheduler_name = scheduler_name.clone();
    let shared: Shared = Arc::new(Mutex::new(state));
    let wake = Arc::new(Notify::new());
    let synced = informers::start(&client, &shared, &wake, &tasks, &shutdown);
    for mut rx in synced {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = rx.wait_for(|done| *done) => {}
        }
    }
    if !shutdown.is_cancelled() {
        tracing::info!("scheduler caches synced");
        let writer = Writer::start(client, identity, scheduler_name, &tasks, shutdown.clone());
        schedule_loop(&shared, &wake, &writer, &tasks, &shutdown).await;
    }
    tasks.close();
    tasks.wait().await;
}

async fn schedule_loop(
    shared: &Shared,
    wake: &Arc<Notify>,
    writer: &Writer,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) {
    let binds = Arc::new(Semaphore::new(BIND_CONCURRENCY));
    let mut last_unschedulable_flush = Instant::now();
    let mut cycles = 0u32;
    while !shutdown.is_cancelled() {
        // Take a bind permit before the cycle, so a slow API server slows scheduling down
        // instead of piling up assumed pods.
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return,
            permit = binds.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let now = Instant::now();
        let (decision, next_backoff) = {
            let mut state = lock(shared);
            for pod in std::mem::take(&mut state.gated_to_report) {
                let writer = writer.clone();
                tasks.spawn(async move { report_gated(&writer, pod).await });
            }
            let next_backoff = state.queue.flush_backoff(now);
            if now.duration_since(last_unschedulable_flush) >= UNSCHEDULABLE_FLUSH {
                state.queue.flush_unschedulable(now);
                last_unschedulable_flush = now;
            }
            (state.schedule_next(now), next_backoff)
        };
        match decision {
            None => {
                drop(permit);
                let until = next_backoff.unwrap_or(now + Duration::from_secs(1));
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep_until(until.into()) => {}
                }
            }
            Some(Decision::Bind { pod, node }) => {
                let writer = writer.clone();
                let shared = shared.clone();
                let wake = wake.clone();
                tasks.spawn(async move {
                    bind(&writer, &shared, pod, node).await;
                    drop(permit);
                    wake.notify_one();
                });
            }
            Some(Decision::Unschedulable {
                pod,
                message,
                preemption,
            }) => {
                drop(permit);
                let writer = writer.clone();
                tasks.spawn(async move {
                    report_unschedulable(&writer, pod, message, preemption).await
                });
            }
        }
        cycles += 1;
        if cycles.is_multiple_of(CYCLES_PER_YIELD) {
            tokio::task::yield_now().await;
        }
    }
}

async fn bind(writer: &Writer, shared: &Shared, pod: Pod, node: String) {
    match writer.bind(&pod, &node).await {
        Ok(()) => writer.event(
            &pod,
            "Normal",
            "Scheduled",
            "Binding",
            format!(
                "Successfully assigned {}/{} to {node}",
                pod.namespace, pod.name
            ),
        ),
        Err(err) => {
            tracing::debug!(pod = %pod.key(), %node, %err, "binding failed");
            let gone = is_gone(&err);
            lock(shared).binding_failed(pod.clone(), gone, Instant::now());
            if !gone {
                writer.event(
                    &pod,
                    "Warning",
                    "FailedScheduling",
                    "Scheduling",
                    format!("running Bind plugin \"DefaultBinder\": {err}"),
                );
            }
        }
    }
}

async fn report_gated(writer: &Writer, pod: Pod) {
    let message = "Scheduling is blocked due to non-empty scheduling gates";
    if let Err(err) = writer
        .mark_unschedulable(&pod, "SchedulingGated", message, None)
        .await
        && !is_gone(&err)
    {
        tracing::debug!(pod = %pod.key(), %err, "updating the PodScheduled condition failed");
    }
}

async fn report_unschedulable(
    writer: &Writer,
    pod: Pod,
    message: String,
    preemption: Option<Preemption>,
) {
    writer.event(
        &pod,
        "Warning",
        "FailedScheduling",
        "Scheduling",
        message.clone(),
    );
    let nominated = preemption.as_ref().map(|p| p.node.as_str());
    if let Err(err) = writer
        .mark_unschedulable(&pod, "Unschedulable", &message, nominated)
        .await
        && !is_gone(&err)
    {
        tracing::debug!(pod = %pod.key(), %err, "updating the PodScheduled condition failed");
    }
    let Some(preemption) = preemption else { return };
    for other in &preemption.denominated {
        if let Err(err) = writer.set_nominated_node(other, "").await {
            tracing::debug!(pod = %other.key(), %err, "clearing a nomination failed");
        }
    }
    for victim in &preemption.victims {
        writer.event(
            victim,
            "Normal",
            "Preempted",
            "Preempting",
            format!("Preempted by pod {} on node {}", pod.uid, preemption.node),
        );
        if let Err(err) = writer.evict(victim).await {
            tracing::warn!(victim = %victim.key(), %err, "evicting a preemption victim failed");
        }
    }
}
