//! Printers of core/v1 kinds.

use serde_json::{Value, json};

use super::format::{age, age_since, array, int, labels, name, or_none, text};
use super::{AGE, NAME, Printer, col, int_col};

pub(super) fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    Some(match (group, kind) {
        ("", "Pod") => &POD,
        ("", "Namespace") => &NAMESPACE,
        ("", "Node") => &NODE,
        ("", "Service") => &SERVICE,
        ("", "Endpoints") => &ENDPOINTS,
        ("", "ConfigMap") => &CONFIG_MAP,
        ("", "Secret") => &SECRET,
        ("", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("", "Event") | ("events.k8s.io", "Event") => &EVENT,
        ("", "PersistentVolumeClaim") => &PVC,
        ("", "PersistentVolume") => &PV,
        ("", "ReplicationController") => &REPLICATION_CONTROLLER,
        ("", "ResourceQuota") => &RESOURCE_QUOTA,
        ("", "PodTemplate") => &POD_TEMPLATE,
        _ => return None,
    })
}

const POD: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", 0),
        col("Status", 0),
        col("Restarts", 0),
        AGE,
        col("IP", 1),
        col("Node", 1),
        col("Nominated Node", 1),
        col("Readiness Gates", 1),
    ],
    cells: pod_cells,
};

fn pod_cells(pod: &Value, now: i64) -> Vec<Value> {
    let total = array(pod, "/spec/containers").len();
    let statuses = array(pod, "/status/containerStatuses");
    let ready = statuses
        .iter()
        .filter(|s| s["ready"].as_bool() == Some(true))
        .count();
    let restarts: i64 = statuses
        .iter()
        .map(|s| s["restartCount"].as_i64().unwrap_or(0))
        .sum();
    let last_restart = statuses
        .iter()
        .filter_map(|s| {
            s.pointer("/lastState/terminated/finishedAt")
                .and_then(Value::as_str)
        })
        .max()
        .map(|t| age_since(Some(t), now));
    let restarts = match last_restart {
        Some(ago) if restarts > 0 => format!("{restarts} ({ago} ago)"),
        _ => restarts.to_string(),
    };
    let gates = array(pod, "/spec/readinessGates");
    let gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = array(pod, "/status/conditions");
        let true_gates = gates
            .iter()
            .filter(|g| {
                conditions.iter().any(|c| {
                    c["type"] == g["conditionType"] && c["status"].as_str() == Some("True")
                })
            })
            .count();
        format!("{true_gates}/{}", gates.len())
    };
    vec![
        name(pod),
        json!(format!("{ready}/{total}")),
        json!(pod_status(pod)),
        json!(restarts),
        age(pod, now),
        or_none(text(pod, "/status/podIP")),
        or_none(text(pod, "/spec/nodeName")),
        or_none(text(pod, "/status/nominatedNodeName")),
        json!(gates),
    ]
}

/// The STATUS column: the phase, refined by container states as upstream's printPod does.
fn pod_status(pod: &Value) -> String {
    let mut reason = text(pod, "/status/phase");
    if let Some(r) = pod.pointer("/status/reason").and_then(Value::as_str) {
        reason = r.to_string();
    }
    let init_total = array(pod, "/spec/initContainers").len();
    let mut initializing = false;
    for (i, status) in array(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        if let Some(terminated) = status.pointer("/state/terminated") {
            if terminated["exitCode"].as_i64() == Some(0) {
                continue;
            }
            reason = match terminated["reason"].as_str() {
                Some(r) if !r.is_empty() => format!("Init:{r}"),
                _ => match terminated["signal"].as_i64() {
                    Some(signal) if signal != 0 => format!("Init:Signal:{signal}"),
                    _ => format!(
                        "Init:ExitCode:{}",
                        terminated["exitCode"].as_i64().unwrap_or(0)
                    ),
                },
            };
        } else if let Some(waiting) = status
            .pointer("/state/waiting")
            .and_then(|w| w["reason"].as_str())
            && !waiting.is_empty()
            && waiting != "PodInitializing"
        {
            reason = format!("Init:{waiting}");
        } else {
            reason = format!("Init:{i}/{init_total}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut has_running = false;
        for status in array(pod, "/status/containerStatuses").iter().rev() {
            if let Some(waiting) = status
                .pointer("/state/waiting/reason")
                .and_then(Value::as_str)
            {
                reason = waiting.to_string();
            } else if let Some(terminated) = status.pointer("/state/terminated") {
                reason = match terminated["reason"].as_str() {
                    Some(r) if !r.is_empty() => r.to_string(),
                    _ => match terminated["signal"].as_i64() {
                        Some(signal) if signal != 0 => format!("Signal:{signal}"),
                        _ => format!("ExitCode:{}", terminated["exitCode"].as_i64().unwrap_or(0)),
                    },
                };
            } else if status["ready"].as_bool() == Some(true)
                && status.pointer("/state/running").is_some()
            {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
        && reason != "NodeLost"
    {
        reason = "Terminating".into();
    }
    if reason.is_empty() {
        "Pending".into()
    } else {
        reason
    }
}

const NAMESPACE: Printer = Printer {
    columns: &[NAME, col("Status", 0), AGE],
    cells: |ns, now| vec![name(ns), json!(text(ns, "/status/phase")), age(ns, now)],
};

const NODE: Printer = Printer {
    columns: &[
        NAME,
        col("Status", 0),
        col("Roles", 0),
        AGE,
        col("Version", 0),
        col("Internal-IP", 1),
        col("External-IP", 1),
        col("OS-Image", 1),
        col("Kernel-Version", 1),
        col("Container-Runtime", 1),
    ],
    cells: node_cells,
};

fn node_cells(node: &Value, now: i64) -> Vec<Value> {
    let ready = array(node, "/status/conditions")
        .iter()
        .find(|c| c["type"] == "Ready");
    let mut status = match ready.and_then(|c| c["status"].as_str()) {
        Some("True") => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<&str> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let address = |kind: &str| {
        array(node, "/status/addresses")
            .iter()
            .find(|a| a["type"] == kind)
            .and_then(|a| a["address"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    vec![
        name(node),
        json!(status),
        or_none(roles.join(",")),
        age(node, now),
        json!(text(node, "/status/nodeInfo/kubeletVersion")),
        or_none(address("InternalIP")),
        or_none(address("ExternalIP")),
        json!(or_unknown(text(node, "/status/nodeInfo/osImage"))),
        json!(or_unknown(text(node, "/status/nodeInfo/kernelVersion"))),
        json!(or_unknown(text(
            node,
            "/status/nodeInfo/containerRuntimeVersion"
        ))),
    ]
}

fn or_unknown(value: String) -> String {
    if value.is_empty() {
        "<unknown>".into()
    } else {
        value
    }
}

const SERVICE: Printer = Printer {
    columns: &[
        NAME,
        col("Type", 0),
        col("Cluster-IP", 0),
        col("External-IP", 0),
        col("Port(s)", 0),
        AGE,
        col("Selector", 1),
    ],
    cells: service_cells,
};

fn service_cells(svc: &Value, now: i64) -> Vec<Value> {
    let service_type = text(svc, "/spec/type");
    let service_type = if service_type.is_empty() {
        "ClusterIP".to_string()
    } else {
        service_type
    };
    let mut external: Vec<String> = array(svc, "/spec/externalIPs")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let ingress: Vec<String> = array(svc, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|i| {
            i["ip"]
                .as_str()
                .or_else(|| i["hostname"].as_str())
                .map(str::to_string)
        })
        .collect();
    let external = match service_type.as_str() {
        "ExternalName" => text(svc, "/spec/externalName"),
        "LoadBalancer" if ingress.is_empty() && external.is_empty() => "<pending>".to_string(),
        "LoadBalancer" => {
            external.extend(ingress);
            external.join(",")
        }
        _ if external.is_empty() => "<none>".to_string(),
        _ => external.join(","),
    };
    let ports: Vec<String> = array(svc, "/spec/ports")
        .iter()
        .map(|p| {
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(node_port) if node_port != 0 => {
                    format!("{}:{node_port}/{protocol}", p["port"])
                }
                _ => format!("{}/{protocol}", p["port"]),
            }
        })
        .collect();
    vec![
        name(svc),
        json!(service_type),
        or_none(text(svc, "/spec/clusterIP")),
        json!(external),
        or_none(ports.join(",")),
        age(svc, now),
        json!(match labels(svc.pointer("/spec/selector")) {
            s if s.is_empty() => "<none>".to_string(),
            s => s,
        }),
    ]
}

const ENDPOINTS: Printer = Printer {
    columns: &[NAME, col("Endpoints", 0), AGE],
    cells: endpoints_cells,
};

fn endpoints_cells(ep: &Value, now: i64) -> Vec<Value> {
    let mut addresses = Vec::new();
    for subset in array(ep, "/subsets") {
        let ports: Vec<i64> = array(subset, "/ports")
            .iter()
            .filter_map(|p| p["port"].as_i64())
            .collect();
        for address in array(subset, "/addresses") {
            let ip = address["ip"].as_str().unwrap_or_default();
            if ports.is_empty() {
                addresses.push(ip.to_string());
            }
            addresses.extend(ports.iter().map(|port| format!("{ip}:{port}")));
        }
    }
    let shown = if addresses.len() > 3 {
        format!(
            "{} + {} more...",
            addresses[..3].join(","),
            addresses.len() - 3
        )
    } else {
        addresses.join(",")
    };
    vec![name(ep), or_none(shown), age(ep, now)]
}

fn map_len(object: &Value, pointer: &str) -> usize {
    object
        .pointer(pointer)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

const CONFIG_MAP: Printer = Printer {
    columns: &[NAME, int_col("Data"), AGE],
    cells: |cm, now| {
        vec![
            name(cm),
            json!(map_len(cm, "/data") + map_len(cm, "/binaryData")),
            age(cm, now),
        ]
    },
};

const SECRET: Printer = Printer {
    columns: &[NAME, col("Type", 0), int_col("Data"), AGE],
    cells: |s, now| {
        vec![
            name(s),
            json!(text(s, "/type")),
            json!(map_len(s, "/data")),
            age(s, now),
        ]
    },
};

const SERVICE_ACCOUNT: Printer = Printer {
    columns: &[NAME, int_col("Secrets"), AGE],
    cells: |sa, now| vec![name(sa), json!(array(sa, "/secrets").len()), age(sa, now)],
};

const EVENT: Printer = Printer {
    columns: &[
        col("Last Seen", 0),
        col("Type", 0),
        col("Reason", 0),
        col("Object", 0),
        col("Subobject", 1),
        col("Source", 1),
        col("Message", 0),
        col("First Seen", 1),
        ("Count", "integer", "", 1, ""),
        ("Name", "string", "name", 1, ""),
    ],
    cells: event_cells,
};

/// Core and events.k8s.io Events print alike; the latter names its fields differently.
fn event_cells(event: &Value, now: i64) -> Vec<Value> {
    let pick = |paths: &[&str]| {
        paths
            .iter()
            .map(|p| text(event, p))
            .find(|s| !s.is_empty())
            .unwrap_or_default()
    };
    let last = pick(&[
        "/series/lastObservedTime",
        "/lastTimestamp",
        "/deprecatedLastTimestamp",
        "/eventTime",
        "/metadata/creationTimestamp",
    ]);
    let first = pick(&[
        "/firstTimestamp",
        "/deprecatedFirstTimestamp",
        "/eventTime",
        "/metadata/creationTimestamp",
    ]);
    let object = if event.get("regarding").is_some() {
        "/regarding"
    } else {
        "/involvedObject"
    };
    let kind = text(event, &format!("{object}/kind")).to_lowercase();
    let source = pick(&[
        "/source/component",
        "/reportingController",
        "/deprecatedSource/component",
    ]);
    let count = [
        int(event, "/series/count"),
        int(event, "/count"),
        int(event, "/deprecatedCount"),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    vec![
        json!(age_since(
            Some(&last).filter(|s| !s.is_empty()).map(String::as_str),
            now
        )),
        json!(text(event, "/type")),
        json!(text(event, "/reason")),
        json!(format!("{kind}/{}", text(event, &format!("{object}/name")))),
        json!(text(event, &format!("{object}/fieldPath"))),
        json!(source),
        json!(pick(&["/message", "/note"])),
        json!(age_since(
            Some(&first).filter(|s| !s.is_empty()).map(String::as_str),
            now
        )),
        json!(count.max(1)),
        name(event),
    ]
}

fn access_modes(object: &Value, pointer: &str) -> String {
    array(object, pointer)
        .iter()
        .filter_map(Value::as_str)
        .map(|m| match m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",")
}

const PVC: Printer = Printer {
    columns: &[
        NAME,
        col("Status", 0),
        col("Volume", 0),
        col("Capacity", 0),
        col("Access Modes", 0),
        col("StorageClass", 0),
        col("VolumeAttributesClass", 0),
        AGE,
        col("VolumeMode", 1),
    ],
    cells: |pvc, now| {
        vec![
            name(pvc),
            json!(text(pvc, "/status/phase")),
            json!(text(pvc, "/spec/volumeName")),
            json!(text(pvc, "/status/capacity/storage")),
            json!(access_modes(pvc, "/status/accessModes")),
            json!(text(pvc, "/spec/storageClassName")),
            json!(or_unset(text(pvc, "/spec/volumeAttributesClassName"))),
            age(pvc, now),
            json!(text(pvc, "/spec/volumeMode")),
        ]
    },
};

fn or_unset(value: String) -> String {
    if value.is_empty() {
        "<unset>".into()
    } else {
        value
    }
}

const PV: Printer = Printer {
    columns: &[
        NAME,
        col("Capacity", 0),
        col("Access Modes", 0),
        col("Reclaim Policy", 0),
        col("Status", 0),
        col("Claim", 0),
        col("StorageClass", 0),
        col("VolumeAttributesClass", 0),
        col("Reason", 0),
        AGE,
        col("VolumeMode", 1),
    ],
    cells: |pv, now| {
        let claim = match text(pv, "/spec/claimRef/name") {
            n if n.is_empty() => String::new(),
            n => format!("{}/{n}", text(pv, "/spec/claimRef/namespace")),
        };
        vec![
            name(pv),
            json!(text(pv, "/spec/capacity/storage")),
            json!(access_modes(pv, "/spec/accessModes")),
            json!(text(pv, "/spec/persistentVolumeReclaimPolicy")),
            json!(text(pv, "/status/phase")),
            json!(claim),
            json!(text(pv, "/spec/storageClassName")),
            json!(or_unset(text(pv, "/spec/volumeAttributesClassName"))),
            json!(text(pv, "/status/reason")),
            age(pv, now),
            json!(text(pv, "/spec/volumeMode")),
        ]
    },
};

const REPLICATION_CONTROLLER: Printer = Printer {
    columns: &[
        NAME,
        int_col("Desired"),
        int_col("Current"),
        int_col("Ready"),
        AGE,
        col("Containers", 1),
        col("Images", 1),
        col("Selector", 1),
    ],
    cells: |rc, now| {
        let (containers, images) =
            super::format::containers_and_images(rc.pointer("/spec/template/spec"));
        vec![
            name(rc),
            json!(int(rc, "/spec/replicas")),
            json!(int(rc, "/status/replicas")),
            json!(int(rc, "/status/readyReplicas")),
            age(rc, now),
            containers,
            images,
            or_none(labels(rc.pointer("/spec/selector"))),
        ]
    },
};

const RESOURCE_QUOTA: Printer = Printer {
    columns: &[NAME, AGE, col("Request", 0), col("Limit", 0)],
    cells: |quota, now| {
        let mut request = Vec::new();
        let mut limit = Vec::new();
        if let Some(hard) = quota.pointer("/status/hard").and_then(Value::as_object) {
            let mut keys: Vec<&String> = hard.keys().collect();
            keys.sort();
            for key in keys {
                let used = quota
                    .pointer(&format!("/status/used/{}", key.replace('/', "~1")))
                    .and_then(Value::as_str)
                    .unwrap_or("0");
                let entry = format!("{key}: {used}/{}", hard[key].as_str().unwrap_or_default());
                if key.starts_with("limits.") {
                    limit.push(entry)
                } else {
                    request.push(entry)
                }
            }
        }
        vec![
            name(quota),
            age(quota, now),
            json!(request.join(", ")),
            json!(limit.join(", ")),
        ]
    },
};

const POD_TEMPLATE: Printer = Printer {
    columns: &[
        ("Template", "string", "name", 0, ""),
        col("Containers", 0),
        col("Images", 0),
        col("Pod Labels", 0),
    ],
    cells: |template, _| {
        let (containers, images) =
            super::format::containers_and_images(template.pointer("/template/spec"));
        vec![
            name(template),
            containers,
            images,
            or_none(labels(template.pointer("/template/metadata/labels"))),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_rows_show_readiness_status_and_restarts() {
        let pod = json!({
            "metadata": {"name": "web", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"finishedAt": "2026-01-01T00:09:00Z"}}}]}
        });
        let now = super::super::format::unix_seconds("2026-01-01T00:10:00Z").unwrap();
        let cells = pod_cells(&pod, now);
        assert_eq!(cells[1], "1/2");
        assert_eq!(cells[2], "CrashLoopBackOff");
        assert_eq!(cells[3], "2 (60s ago)");
        assert_eq!(cells[4], "10m");
        assert_eq!(cells[5], "10.0.0.5");
        assert_eq!(cells[6], "n1");
    }

    #[test]
    fn terminating_pods_say_so() {
        let pod = json!({"metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"},
                         "status": {"phase": "Running"}});
        assert_eq!(pod_status(&pod), "Terminating");
        assert_eq!(pod_status(&json!({"metadata": {"name": "p"}})), "Pending");
    }

    #[test]
    fn services_print_ports_and_pending_load_balancers() {
        let svc = json!({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10",
            "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}], "selector": {"app": "web"}}});
        let cells = service_cells(&svc, 0);
        assert_eq!(cells[3], "<pending>");
        assert_eq!(cells[4], "80:30080/TCP");
        assert_eq!(cells[6], "app=web");
    }
}
