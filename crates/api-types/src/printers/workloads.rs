//! Printers of workload kinds: apps, batch, autoscaling and policy.

use serde_json::{Value, json};

use super::format::{
    age, age_since, array, containers_and_images, int, label_selector, labels, name, or_none, text,
    unix_seconds,
};
use super::{AGE, Column, NAME, Printer, col, human_duration, int_col};

pub(super) fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    Some(match (group, kind) {
        ("apps", "Deployment") => &DEPLOYMENT,
        ("apps", "ReplicaSet") => &REPLICA_SET,
        ("apps", "StatefulSet") => &STATEFUL_SET,
        ("apps", "DaemonSet") => &DAEMON_SET,
        ("apps", "ControllerRevision") => &CONTROLLER_REVISION,
        ("batch", "Job") => &JOB,
        ("batch", "CronJob") => &CRON_JOB,
        ("autoscaling", "HorizontalPodAutoscaler") => &HPA,
        ("policy", "PodDisruptionBudget") => &PDB,
        _ => return None,
    })
}

const WIDE: [Column; 3] = [col("Containers", 1), col("Images", 1), col("Selector", 1)];

/// The `-o wide` cells every controller printer ends with.
fn wide_cells(object: &Value) -> [Value; 3] {
    let (containers, images) = containers_and_images(object.pointer("/spec/template/spec"));
    [
        containers,
        images,
        json!(label_selector(object.pointer("/spec/selector"))),
    ]
}

const DEPLOYMENT: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", 0),
        int_col("Up-to-date"),
        int_col("Available"),
        AGE,
        WIDE[0],
        WIDE[1],
        WIDE[2],
    ],
    cells: |d, now| {
        let mut cells = vec![
            name(d),
            json!(format!(
                "{}/{}",
                int(d, "/status/readyReplicas"),
                d.pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
            )),
            json!(int(d, "/status/updatedReplicas")),
            json!(int(d, "/status/availableReplicas")),
            age(d, now),
        ];
        cells.extend(wide_cells(d));
        cells
    },
};

const REPLICA_SET: Printer = Printer {
    columns: &[
        NAME,
        int_col("Desired"),
        int_col("Current"),
        int_col("Ready"),
        AGE,
        WIDE[0],
        WIDE[1],
        WIDE[2],
    ],
    cells: |rs, now| {
        let mut cells = vec![
            name(rs),
            json!(
                rs.pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
            ),
            json!(int(rs, "/status/replicas")),
            json!(int(rs, "/status/readyReplicas")),
            age(rs, now),
        ];
        cells.extend(wide_cells(rs));
        cells
    },
};

const STATEFUL_SET: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", 0),
        AGE,
        col("Containers", 1),
        col("Images", 1),
    ],
    cells: |s, now| {
        let (containers, images) = containers_and_images(s.pointer("/spec/template/spec"));
        vec![
            name(s),
            json!(format!(
                "{}/{}",
                int(s, "/status/readyReplicas"),
                s.pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
            )),
            age(s, now),
            containers,
            images,
        ]
    },
};

const DAEMON_SET: Printer = Printer {
    columns: &[
        NAME,
        int_col("Desired"),
        int_col("Current"),
        int_col("Ready"),
        int_col("Up-to-date"),
        int_col("Available"),
        col("Node Selector", 0),
        AGE,
        WIDE[0],
        WIDE[1],
        WIDE[2],
    ],
    cells: |ds, now| {
        let mut cells = vec![
            name(ds),
            json!(int(ds, "/status/desiredNumberScheduled")),
            json!(int(ds, "/status/currentNumberScheduled")),
            json!(int(ds, "/status/numberReady")),
            json!(int(ds, "/status/updatedNumberScheduled")),
            json!(int(ds, "/status/numberAvailable")),
            or_none(labels(ds.pointer("/spec/template/spec/nodeSelector"))),
            age(ds, now),
        ];
        cells.extend(wide_cells(ds));
        cells
    },
};

const CONTROLLER_REVISION: Printer = Printer {
    columns: &[NAME, col("Controller", 0), int_col("Revision"), AGE],
    cells: |cr, now| {
        let owner = array(cr, "/metadata/ownerReferences")
            .iter()
            .find(|o| o["controller"].as_bool() == Some(true));
        let controller = owner.map_or_else(
            || "<none>".to_string(),
            |o| {
                let group = o["apiVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .split('/')
                    .rev()
                    .nth(1)
                    .unwrap_or_default();
                let kind = o["kind"].as_str().unwrap_or_default().to_lowercase();
                let resource = if group.is_empty() {
                    kind
                } else {
                    format!("{kind}.{group}")
                };
                format!("{resource}/{}", o["name"].as_str().unwrap_or_default())
            },
        );
        vec![
            name(cr),
            json!(controller),
            json!(int(cr, "/revision")),
            age(cr, now),
        ]
    },
};

fn has_condition(object: &Value, condition: &str) -> bool {
    array(object, "/status/conditions")
        .iter()
        .any(|c| c["type"] == condition && c["status"] == "True")
}

const JOB: Printer = Printer {
    columns: &[
        NAME,
        col("Status", 0),
        col("Completions", 0),
        col("Duration", 0),
        AGE,
        WIDE[0],
        WIDE[1],
        WIDE[2],
    ],
    cells: |job, now| {
        let completions = match job.pointer("/spec/completions").and_then(Value::as_i64) {
            Some(n) => format!("{}/{n}", int(job, "/status/succeeded")),
            None => {
                let parallelism = job
                    .pointer("/spec/parallelism")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                if parallelism > 1 {
                    format!("{}/1 of {parallelism}", int(job, "/status/succeeded"))
                } else {
                    format!("{}/1", int(job, "/status/succeeded"))
                }
            }
        };
        let status = if has_condition(job, "Complete") {
            "Complete"
        } else if has_condition(job, "Failed") {
            "Failed"
        } else if job
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
        {
            "Terminating"
        } else if has_condition(job, "Suspended") {
            "Suspended"
        } else if has_condition(job, "FailureTarget") {
            "FailureTarget"
        } else if has_condition(job, "SuccessCriteriaMet") {
            "SuccessCriteriaMet"
        } else {
            "Running"
        };
        let start = job
            .pointer("/status/startTime")
            .and_then(Value::as_str)
            .and_then(unix_seconds);
        let end = job
            .pointer("/status/completionTime")
            .and_then(Value::as_str)
            .and_then(unix_seconds);
        let duration = match (start, end) {
            (Some(s), Some(e)) => human_duration(e - s),
            (Some(s), None) => human_duration(now - s),
            _ => String::new(),
        };
        let mut cells = vec![
            name(job),
            json!(status),
            json!(completions),
            json!(duration),
            age(job, now),
        ];
        cells.extend(wide_cells(job));
        cells
    },
};

const CRON_JOB: Printer = Printer {
    columns: &[
        NAME,
        col("Schedule", 0),
        col("Timezone", 0),
        ("Suspend", "boolean", "", 0, ""),
        int_col("Active"),
        col("Last Schedule", 0),
        AGE,
        WIDE[0],
        WIDE[1],
        WIDE[2],
    ],
    cells: |cj, now| {
        let last = cj
            .pointer("/status/lastScheduleTime")
            .and_then(Value::as_str);
        let (containers, images) =
            containers_and_images(cj.pointer("/spec/jobTemplate/spec/template/spec"));
        vec![
            name(cj),
            json!(text(cj, "/spec/schedule")),
            or_none(text(cj, "/spec/timeZone")),
            json!(
                cj.pointer("/spec/suspend")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            ),
            json!(array(cj, "/status/active").len()),
            json!(if last.is_some() {
                age_since(last, now)
            } else {
                "<none>".into()
            }),
            age(cj, now),
            containers,
            images,
            json!(label_selector(
                cj.pointer("/spec/jobTemplate/spec/selector")
            )),
        ]
    },
};

const HPA: Printer = Printer {
    columns: &[
        NAME,
        col("Reference", 0),
        col("Targets", 0),
        col("MinPods", 0),
        int_col("MaxPods"),
        int_col("Replicas"),
        AGE,
    ],
    cells: |hpa, now| {
        let reference = format!(
            "{}/{}",
            text(hpa, "/spec/scaleTargetRef/kind"),
            text(hpa, "/spec/scaleTargetRef/name")
        );
        let targets = hpa_targets(hpa);
        vec![
            name(hpa),
            json!(reference),
            json!(targets),
            json!(
                hpa.pointer("/spec/minReplicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
                    .to_string()
            ),
            json!(int(hpa, "/spec/maxReplicas")),
            json!(int(hpa, "/status/currentReplicas")),
            age(hpa, now),
        ]
    },
};

/// `cpu: 40%/80%` style targets; v1 objects carry a single CPU percentage instead of metrics.
fn hpa_targets(hpa: &Value) -> String {
    if let Some(target) = hpa
        .pointer("/spec/targetCPUUtilizationPercentage")
        .and_then(Value::as_i64)
    {
        let current = hpa
            .pointer("/status/currentCPUUtilizationPercentage")
            .and_then(Value::as_i64)
            .map_or("<unknown>".to_string(), |c| format!("{c}%"));
        return format!("cpu: {current}/{target}%");
    }
    let metrics = array(hpa, "/spec/metrics");
    if metrics.is_empty() {
        return "<none>".into();
    }
    metrics
        .iter()
        .map(|metric| match metric["type"].as_str() {
            Some("Resource") => {
                let resource = metric
                    .pointer("/resource/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let target = metric
                    .pointer("/resource/target/averageUtilization")
                    .map_or_else(
                        || text(metric, "/resource/target/averageValue"),
                        |u| format!("{u}%"),
                    );
                format!("{resource}: <unknown>/{target}")
            }
            _ => "<unknown>/<unknown>".to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

const PDB: Printer = Printer {
    columns: &[
        NAME,
        col("Min Available", 0),
        col("Max Unavailable", 0),
        int_col("Allowed Disruptions"),
        AGE,
    ],
    cells: |pdb, now| {
        let or_na = |pointer: &str| match pdb.pointer(pointer) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => "N/A".into(),
        };
        vec![
            name(pdb),
            json!(or_na("/spec/minAvailable")),
            json!(or_na("/spec/maxUnavailable")),
            json!(int(pdb, "/status/disruptionsAllowed")),
            age(pdb, now),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_show_ready_over_desired_and_wide_columns() {
        let d = json!({"metadata": {"name": "web"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let cells = (DEPLOYMENT.cells)(&d, 0);
        assert_eq!(cells[1], "2/3");
        assert_eq!(cells[2], 3);
        assert_eq!(cells[5], "nginx");
        assert_eq!(cells[6], "nginx:1");
        assert_eq!(cells[7], "app=web");
    }

    #[test]
    fn jobs_report_completion_and_duration() {
        let job = json!({"metadata": {"name": "pi"}, "spec": {"completions": 1},
            "status": {"succeeded": 1, "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:07Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}});
        let cells = (JOB.cells)(&job, 0);
        assert_eq!(cells[1], "Complete");
        assert_eq!(cells[2], "1/1");
        assert_eq!(cells[3], "7s");
    }
}
