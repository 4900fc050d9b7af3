//! The Job, CronJob, TTL-after-finished controllers against a real control plane. The tests
//! play the kubelet: they finish pods by writing their status through pods/status.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, Pod};
use keelson_e2e::ControlPlane;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const NS: &str = "default";

/// Poll `check` until it returns `Some`, or fail after `timeout` naming `what`.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn job(name: &str, spec: Value) -> Job {
    let mut full = json!({
        "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox"}],
        }},
    });
    for (k, v) in spec.as_object().unwrap() {
        full[k] = v.clone();
    }
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": full})).unwrap()
}

/// Act as the kubelet: the pod's container exits with `code`.
async fn finish(pods: &Api<Pod>, name: &str, code: i32) -> anyhow::Result<()> {
    let phase = if code == 0 { "Succeeded" } else { "Failed" };
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let status = json!({"status": {
        "phase": phase,
        "containerStatuses": [{
            "name": "main", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
                                     "startedAt": now, "finishedAt": now}},
        }],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .with_context(|| format!("finishing pod {name}"))?;
    Ok(())
}

/// The job's pods that have not finished.
async fn running_pods(pods: &Api<Pod>, job: &str) -> anyhow::Result<Vec<Pod>> {
    let selector = format!("batch.kubernetes.io/job-name={job}");
    let list = pods.list(&ListParams::default().labels(&selector)).await?;
    Ok(list
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .collect())
}

fn condition<'a>(
    job: &'a Job,
    type_: &str,
) -> Option<&'a k8s_openapi::api::batch::v1::JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_ && c.status == "True")
}

async fn wait_condition(
    jobs: &Api<Job>,
    name: &str,
    type_: &str,
    timeout: Duration,
) -> anyhow::Result<Job> {
    wait_for(
        &format!("job {name} condition {type_}"),
        timeout,
        || async {
            let job = jobs.get(name).await?;
            Ok(condition(&job, type_).is_some().then_some(job))
        },
    )
    .await
}

async fn event_reasons(client: &Client, name: &str) -> anyhow::Result<Vec<String>> {
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let list = events.list(&ListParams::default()).await?;
    Ok(list
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .filter_map(|e| e.reason)
        .collect())
}

#[tokio::test]
async fn job_runs_to_completion_with_bounded_parallelism() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job("work", json!({"completions": 4, "parallelism": 2})),
    )
    .await?;
    let mut finished = 0;
    while finished < 4 {
        let running = wait_for("running pods", Duration::from_secs(30), || async {
            let running = running_pods(&pods, "work").await?;
            Ok((!running.is_empty()).then_some(running))
        })
        .await?;
        assert!(
            running.len() <= 2,
            "parallelism 2 exceeded: {}",
            running.len()
        );
        let pod = &running[0];
        let labels = pod.labels();
        assert_eq!(labels["batch.kubernetes.io/job-name"], "work");
        assert_eq!(labels["job-name"], "work");
        assert!(labels.contains_key("batch.kubernetes.io/controller-uid"));
        assert!(
            pod.finalizers()
                .iter()
                .any(|f| f == "batch.kubernetes.io/job-tracking")
        );
        assert!(pod.name_any().starts_with("work-"));
        finish(&pods, &pod.name_any(), 0).await?;
        finished += 1;
    }
    let done = wait_condition(&jobs, "work", "Complete", Duration::from_secs(30)).await?;
    let status = done.status.clone().unwrap();
    assert_eq!(status.succeeded, Some(4));
    assert_eq!(status.active, None);
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    let met = condition(&done, "SuccessCriteriaMet").context("SuccessCriteriaMet")?;
    assert_eq!(met.reason.as_deref(), Some("CompletionsReached"));
    // Counted pods are released from the tracking finalizer.
    wait_for("finalizers removed", Duration::from_secs(10), || async {
        let list = pods
            .list(&ListParams::default().labels("job-name=work"))
            .await?;
        Ok(list
            .items
            .iter()
            .all(|p| p.finalizers().is_empty())
            .then_some(()))
    })
    .await?;
    let list = pods
        .list(&ListParams::default().labels("job-name=work"))
        .await?;
    assert_eq!(list.items.len(), 4, "no pod was created twice");
    let reasons = event_reasons(&client, "work").await?;
    assert!(
        reasons.iter().filter(|r| *r == "SuccessfulCreate").count() >= 4,
        "{reasons:?}"
    );
    assert!(reasons.contains(&"Completed".to_string()), "{reasons:?}");
    Ok(())
}

#[tokio::test]
async fn indexed_job_gives_each_pod_its_index() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let spec = json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"});
    jobs.create(&PostParams::default(), &job("idx", spec))
        .await?;
    let running = wait_for("three indexed pods", Duration::from_secs(30), || async {
        let running = running_pods(&pods, "idx").await?;
        Ok((running.len() == 3).then_some(running))
    })
    .await?;
    let mut seen = Vec::new();
    for pod in &running {
        let index = pod.annotations()["batch.kubernetes.io/job-completion-index"].clone();
        assert_eq!(
            pod.labels()["batch.kubernetes.io/job-completion-index"],
            index
        );
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(
            spec.hostname.as_deref(),
            Some(format!("idx-{index}").as_str())
        );
        let env = spec.containers[0].env.as_ref().unwrap();
        assert!(env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX"));
        assert!(pod.name_any().starts_with(&format!("idx-{index}-")));
        seen.push(index);
    }
    seen.sort();
    assert_eq!(seen, ["0", "1", "2"]);
    for pod in &running {
        finish(&pods, &pod.name_any(), 0).await?;
    }
    let done = wait_condition(&jobs, "idx", "Complete", Duration::from_secs(30)).await?;
    let status = done.status.unwrap();
    assert_eq!(status.completed_indexes.as_deref(), Some("0-2"));
    assert_eq!(status.succeeded, Some(3));
    Ok(())
}

#[tokio::test]
async fn failing_job_backs_off_then_hits_backoff_limit() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job("flaky", json!({"backoffLimit": 1})),
    )
    .await?;
    let mut failed_at = None;
    for attempt in 0..2 {
        let running = wait_for("a pod to fail", Duration::from_secs(40), || async {
            let running = running_pods(&pods, "flaky").await?;
            Ok(running.into_iter().next())
        })
        .await?;
        if let Some(at) = failed_at {
            let waited = Instant::now().duration_since(at);
            assert!(
                waited >= Duration::from_secs(9),
                "replacement after {waited:?}, not after the 10 s back-off"
            );
        }
        finish(&pods, &running.name_any(), 1).await?;
        failed_at = Some(Instant::now());
        if attempt == 0 {
            let job = jobs.get("flaky").await?;
            assert!(condition(&job, "Failed").is_none());
        }
    }
    let failed = wait_condition(&jobs, "flaky", "Failed", Duration::from_secs(30)).await?;
    let cond = condition(&failed, "Failed").unwrap();
    assert_eq!(cond.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        cond.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
    assert!(condition(&failed, "FailureTarget").is_some());
    assert_eq!(failed.status.as_ref().unwrap().failed, Some(2));
    let reasons = event_reasons(&client, "flaky").await?;
    assert!(
        reasons.contains(&"BackoffLimitExceeded".to_string()),
        "{reasons:?}"
    );
    Ok(())
}

#[tokio::test]
async fn active_deadline_fails_the_job_and_removes_its_pods() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job(
            "slow",
            json!({"activeDeadlineSeconds": 3, "parallelism": 2, "completions": 2}),
        ),
    )
    .await?;
    let failed = wait_condition(&jobs, "slow", "Failed", Duration::from_secs(30)).await?;
    assert_eq!(
        condition(&failed, "Failed").unwrap().reason.as_deref(),
        Some("DeadlineExceeded")
    );
    wait_for("pods gone", Duration::from_secs(10), || async {
        let list = pods
            .list(&ListParams::default().labels("job-name=slow"))
            .await?;
        Ok(list.items.is_empty().then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn pod_failure_policy_fails_the_job_on_an_exit_code() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let spec = json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}}
    ]}});
    jobs.create(&PostParams::default(), &job("fatal", spec))
        .await?;
    let pod = wait_for("a pod", Duration::from_secs(30), || async {
        Ok(running_pods(&pods, "fatal").await?.into_iter().next())
    })
    .await?;
    finish(&pods, &pod.name_any(), 42).await?;
    let failed = wait_condition(&jobs, "fatal", "Failed", Duration::from_secs(30)).await?;
    let cond = condition(&failed, "Failed").unwrap();
    assert_eq!(cond.reason.as_deref(), Some("PodFailurePolicy"));
    let expected = format!(
        "Container main for pod {NS}/{} failed with exit code 42 matching FailJob rule at index 0",
        pod.name_any()
    );
    assert_eq!(cond.message.as_deref(), Some(expected.as_str()));
    Ok(())
}

#[tokio::test]
async fn ttl_after_finished_deletes_the_job() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job("brief", json!({"ttlSecondsAfterFinished": 2})),
    )
    .await?;
    let pod = wait_for("a pod", Duration::from_secs(30), || async {
        Ok(running_pods(&pods, "brief").await?.into_iter().next())
    })
    .await?;
    finish(&pods, &pod.name_any(), 0).await?;
    let done = wait_condition(&jobs, "brief", "Complete", Duration::from_secs(30)).await?;
    let completed_at = Instant::now();
    assert!(done.metadata.deletion_timestamp.is_none());
    wait_for("the job to be deleted", Duration::from_secs(30), || async {
        Ok(jobs.get_opt("brief").await?.is_none().then_some(()))
    })
    .await?;
    assert!(
        completed_at.elapsed() >= Duration::from_secs(1),
        "deleted before its TTL"
    );
    Ok(())
}

#[tokio::test]
async fn cron_job_fires_on_schedule_with_forbid_and_history_limits() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), NS);
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let cron_job: CronJob = serde_json::from_value(json!({
        "metadata": {"name": "tick"},
        "spec": {
            "schedule": "* * * * *",
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox"}],
            }}}},
        },
    }))?;
    cron_jobs.create(&PostParams::default(), &cron_job).await?;

    let first = wait_for(
        "the first scheduled job",
        Duration::from_secs(70),
        || async {
            Ok(jobs
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .next())
        },
    )
    .await?;
    let scheduled = first.annotations()["batch.kubernetes.io/cronjob-scheduled-timestamp"].clone();
    let at: jiff::Timestamp = scheduled.parse()?;
    assert!(scheduled.ends_with('Z'), "{scheduled}");
    assert_eq!(first.name_any(), format!("tick-{}", at.as_second() / 60));
    let owner = &first.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("CronJob", Some(true))
    );
    let status = cron_jobs.get("tick").await?.status.unwrap();
    assert_eq!(
        status.active.unwrap()[0].name.as_deref(),
        Some(first.name_any().as_str())
    );
    assert_eq!(status.last_schedule_time.unwrap().0, at);

    // While the first job runs, the next minute is skipped (Forbid).
    wait_for("the Forbid event", Duration::from_secs(70), || async {
        let reasons = event_reasons(&client, "tick").await?;
        Ok(reasons
            .contains(&"JobAlreadyActive".to_string())
            .then_some(()))
    })
    .await?;
    assert_eq!(jobs.list(&ListParams::default()).await?.items.len(), 1);

    // Once it completes, the skipped run starts, and the history keeps one successful job.
    let pod = wait_for("the first job's pod", Duration::from_secs(30), || async {
        Ok(running_pods(&pods, &first.name_any())
            .await?
            .into_iter()
            .next())
    })
    .await?;
    finish(&pods, &pod.name_any(), 0).await?;
    let second = wait_for("the second job", Duration::from_secs(30), || async {
        let list = jobs.list(&ListParams::default()).await?.items;
        Ok(list.into_iter().find(|j| j.name_any() != first.name_any()))
    })
    .await?;
    let pod = wait_for("the second job's pod", Duration::from_secs(30), || async {
        Ok(running_pods(&pods, &second.name_any())
            .await?
            .into_iter()
            .next())
    })
    .await?;
    finish(&pods, &pod.name_any(), 0).await?;
    wait_for("the first job pruned", Duration::from_secs(30), || async {
        Ok(jobs
            .get_opt(&first.name_any())
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    let status = cron_jobs.get("tick").await?.status.unwrap();
    assert!(status.last_successful_time.is_some());
    let reasons = event_reasons(&client, "tick").await?;
    for reason in ["SuccessfulCreate", "SawCompletedJob", "SuccessfulDelete"] {
        assert!(
            reasons.contains(&reason.to_string()),
            "{reason} missing from {reasons:?}"
        );
    }
    Ok(())
}
