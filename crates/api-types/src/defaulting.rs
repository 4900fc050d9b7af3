//! Upstream's defaults for the fields people use (the `SetDefaults_*` functions and the
//! defaulting done by registry strategies), applied to objects in wire JSON form.

use serde_json::{Map, Value, json};

use crate::GroupVersionKind;

/// Set `obj[key]` to `value` when absent or null.
fn default(obj: &mut Value, key: &str, value: Value) {
    if let Some(map) = obj.as_object_mut() {
        let entry = map.entry(key.to_string()).or_insert(Value::Null);
        if entry.is_null() {
            *entry = value;
        }
    }
}

fn object<'a>(obj: &'a mut Value, key: &str) -> &'a mut Value {
    default(obj, key, json!({}));
    &mut obj[key]
}

fn each<'a>(obj: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    obj.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

pub fn apply_defaults(gvk: &GroupVersionKind, obj: &mut Value) {
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("", "Pod") => pod_spec(object(obj, "spec")),
        ("", "PodTemplate") => pod_template(object(obj, "template")),
        ("", "ReplicationController") => {
            let spec = object(obj, "spec");
            default(spec, "replicas", json!(1));
            default(spec, "minReadySeconds", json!(0));
            pod_template(object(spec, "template"));
        }
        ("apps", "Deployment") => {
            let spec = object(obj, "spec");
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            let strategy = object(spec, "strategy");
            default(strategy, "type", json!("RollingUpdate"));
            if strategy["type"] == "RollingUpdate" {
                let rolling = object(strategy, "rollingUpdate");
                default(rolling, "maxUnavailable", json!("25%"));
                default(rolling, "maxSurge", json!("25%"));
            }
            pod_template(object(spec, "template"));
        }
        ("apps", "ReplicaSet") => {
            let spec = object(obj, "spec");
            default(spec, "replicas", json!(1));
            pod_template(object(spec, "template"));
        }
        ("apps", "StatefulSet") => {
            let spec = object(obj, "spec");
            default(spec, "replicas", json!(1));
            default(spec, "podManagementPolicy", json!("OrderedReady"));
            default(spec, "revisionHistoryLimit", json!(10));
            let strategy = object(spec, "updateStrategy");
            default(strategy, "type", json!("RollingUpdate"));
            if strategy["type"] == "RollingUpdate" {
                default(object(strategy, "rollingUpdate"), "partition", json!(0));
            }
            let retention = object(spec, "persistentVolumeClaimRetentionPolicy");
            default(retention, "whenDeleted", json!("Retain"));
            default(retention, "whenScaled", json!("Retain"));
            for claim in each(spec, "volumeClaimTemplates") {
                default(object(claim, "spec"), "volumeMode", json!("Filesystem"));
            }
            pod_template(object(spec, "template"));
        }
        ("apps", "DaemonSet") => {
            let spec = object(obj, "spec");
            default(spec, "revisionHistoryLimit", json!(10));
            let strategy = object(spec, "updateStrategy");
            default(strategy, "type", json!("RollingUpdate"));
            if strategy["type"] == "RollingUpdate" {
                let rolling = object(strategy, "rollingUpdate");
                default(rolling, "maxUnavailable", json!(1));
                default(rolling, "maxSurge", json!(0));
            }
            pod_template(object(spec, "template"));
        }
        ("batch", "Job") => job_spec(obj),
        ("batch", "CronJob") => {
            let spec = object(obj, "spec");
            default(spec, "concurrencyPolicy", json!("Allow"));
            default(spec, "suspend", json!(false));
            default(spec, "successfulJobsHistoryLimit", json!(3));
            default(spec, "failedJobsHistoryLimit", json!(1));
            let job_spec = object(object(spec, "jobTemplate"), "spec");
            job_defaults(job_spec);
            pod_template(object(job_spec, "template"));
        }
        ("", "Service") => service_spec(object(obj, "spec")),
        ("", "Secret") => secret(obj),
        ("", "PersistentVolumeClaim") => {
            default(object(obj, "spec"), "volumeMode", json!("Filesystem"))
        }
        ("", "PersistentVolume") => {
            let spec = object(obj, "spec");
            default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
            default(spec, "volumeMode", json!("Filesystem"));
        }
        ("", "Endpoints") => {
            for subset in each(obj, "subsets") {
                for port in each(subset, "ports") {
                    default(port, "protocol", json!("TCP"));
                }
            }
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            for port in each(obj, "ports") {
                default(port, "protocol", json!("TCP"));
            }
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            default(obj, "preemptionPolicy", json!("PreemptLowerPriority"))
        }
        ("policy", "PodDisruptionBudget") => {}
        ("autoscaling", "HorizontalPodAutoscaler") if gvk.version == "v1" => {
            default(object(obj, "spec"), "minReplicas", json!(1));
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let spec = object(obj, "spec");
            default(spec, "minReplicas", json!(1));
            if spec.get("metrics").is_none_or(Value::is_null) {
                spec["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]);
            }
        }
        ("networking.k8s.io", "Ingress") => {
            for rule in each(object(obj, "spec"), "rules") {
                if let Some(http) = rule.get_mut("http") {
                    for path in each(http, "paths") {
                        default(path, "pathType", json!("ImplementationSpecific"));
                    }
                }
            }
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            let spec = object(obj, "spec");
            if spec.get("policyTypes").is_none_or(Value::is_null) {
                let mut types = vec![json!("Ingress")];
                if spec.get("egress").is_some_and(|e| !e.is_null()) {
                    types.push(json!("Egress"));
                }
                spec["policyTypes"] = Value::Array(types);
            }
        }
        ("storage.k8s.io", "StorageClass") => {
            default(obj, "reclaimPolicy", json!("Delete"));
            default(obj, "volumeBindingMode", json!("Immediate"));
        }
        _ => {}
    }
}

fn job_defaults(spec: &mut Value) {
    default(spec, "completions", json!(1));
    default(spec, "parallelism", json!(1));
    default(spec, "backoffLimit", json!(6));
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    default(spec, "manualSelector", Value::Null);
    if spec.get("podFailurePolicy").is_some_and(|p| !p.is_null()) {
        default(spec, "podReplacementPolicy", json!("Failed"));
    } else {
        default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    }
    if let Some(map) = spec.as_object_mut()
        && map.get("manualSelector").is_some_and(Value::is_null)
    {
        map.remove("manualSelector");
    }
}

/// Jobs get a generated selector and matching template labels keyed by their uid, as
/// upstream's job strategy does (unless `manualSelector` is set).
fn job_spec(obj: &mut Value) {
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string);
    let spec = object(obj, "spec");
    job_defaults(spec);
    let manual = spec.get("manualSelector").and_then(Value::as_bool) == Some(true);
    if let (false, Some(uid), Some(name)) = (manual, uid, name)
        && spec.get("selector").is_none_or(Value::is_null)
    {
        spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
        let labels = object(object(object(spec, "template"), "metadata"), "labels");
        for (k, v) in [
            ("batch.kubernetes.io/controller-uid", uid.as_str()),
            ("batch.kubernetes.io/job-name", name.as_str()),
            ("controller-uid", uid.as_str()),
            ("job-name", name.as_str()),
        ] {
            default(labels, k, json!(v));
        }
    }
    pod_template(object(spec, "template"));
}

fn pod_template(template: &mut Value) {
    pod_spec(object(template, "spec"));
}

/// Pod spec defaults (also applied inside every workload's template).
pub fn pod_spec(spec: &mut Value) {
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "securityContext", json!({}));
    default(spec, "enableServiceLinks", json!(true));
    for key in ["containers", "initContainers"] {
        for container in each(spec, key) {
            container_defaults(container);
        }
    }
    for volume in each(spec, "volumes") {
        for (kind, mode_key) in [
            ("configMap", "defaultMode"),
            ("secret", "defaultMode"),
            ("downwardAPI", "defaultMode"),
            ("projected", "defaultMode"),
        ] {
            if let Some(source) = volume.get_mut(kind).filter(|v| v.is_object()) {
                default(source, mode_key, json!(420));
            }
        }
        if let Some(empty) = volume.get_mut("emptyDir")
            && empty.is_null()
        {
            *empty = json!({});
        }
        if let Some(host) = volume.get_mut("hostPath").filter(|v| v.is_object()) {
            default(host, "type", json!(""));
        }
    }
}

fn container_defaults(container: &mut Value) {
    let image = container
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let policy = if image_uses_latest(&image) {
        "Always"
    } else {
        "IfNotPresent"
    };
    default(container, "imagePullPolicy", json!(policy));
    default(
        container,
        "terminationMessagePath",
        json!("/dev/termination-log"),
    );
    default(container, "terminationMessagePolicy", json!("File"));
    default(container, "resources", json!({}));
    // Limits without requests: requests default to the limits.
    let limits = container.pointer("/resources/limits").cloned();
    if let Some(Value::Object(limits)) = limits {
        let requests = object(object(container, "resources"), "requests");
        for (name, quantity) in limits {
            default(requests, &name, quantity);
        }
    }
    for port in each(container, "ports") {
        default(port, "protocol", json!("TCP"));
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = container.get_mut(probe).filter(|v| v.is_object()) {
            default(p, "timeoutSeconds", json!(1));
            default(p, "periodSeconds", json!(10));
            default(p, "successThreshold", json!(1));
            default(p, "failureThreshold", json!(3));
            if let Some(http) = p.get_mut("httpGet").filter(|v| v.is_object()) {
                default(http, "path", json!("/"));
                default(http, "scheme", json!("HTTP"));
            }
        }
    }
}

fn image_uses_latest(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

fn service_spec(spec: &mut Value) {
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    if spec["type"] != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if matches!(spec["type"].as_str(), Some("NodePort" | "LoadBalancer")) {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if spec["sessionAffinity"] == "ClientIP" {
        default(
            object(object(spec, "sessionAffinityConfig"), "clientIP"),
            "timeoutSeconds",
            json!(10800),
        );
    }
    for port in each(spec, "ports") {
        default(port, "protocol", json!("TCP"));
        if let Some(p) = port.get("port").cloned() {
            default(port, "targetPort", p);
        }
    }
}

/// `stringData` is write-only: it is merged into base64 `data` and dropped.
fn secret(obj: &mut Value) {
    default(obj, "type", json!("Opaque"));
    let Some(Value::Object(string_data)) = obj.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    use base64::Engine;
    let data = object(obj, "data");
    let map: &mut Map<String, Value> = data.as_object_mut().expect("data is an object");
    for (key, value) in string_data {
        let text = value.as_str().unwrap_or_default();
        map.insert(
            key,
            json!(base64::engine::general_purpose::STANDARD.encode(text)),
        );
    }
}

/// The pod's QoS class, as upstream computes it.
pub fn pod_qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any_set = false;
    let mut guaranteed = !containers.is_empty();
    for container in &containers {
        let requests = container
            .pointer("/resources/requests")
            .and_then(Value::as_object);
        let limits = container
            .pointer("/resources/limits")
            .and_then(Value::as_object);
        let relevant = |m: Option<&Map<String, Value>>| {
            m.map(|m| {
                m.iter()
                    .filter(|(k, _)| *k == "cpu" || *k == "memory")
                    .count()
            })
            .unwrap_or(0)
        };
        if relevant(requests) > 0 || relevant(limits) > 0 {
            any_set = true;
        }
        let Some(limits) = limits else {
            guaranteed = false;
            continue;
        };
        for resource in ["cpu", "memory"] {
            let limit = limits.get(resource);
            let request = requests.and_then(|r| r.get(resource)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    if !any_set {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gvk(group: &str, kind: &str) -> GroupVersionKind {
        GroupVersionKind::new(group, "v1", kind)
    }

    #[test]
    fn deployment_defaults_match_upstream() {
        let mut d = json!({"spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
        apply_defaults(&gvk("apps", "Deployment"), &mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
    }

    #[test]
    fn pull_policy_follows_tag() {
        assert!(image_uses_latest("busybox"));
        assert!(image_uses_latest("registry:5000/busybox:latest"));
        assert!(image_uses_latest("registry:5000/busybox"));
        assert!(!image_uses_latest("registry:5000/busybox:1"));
        assert!(!image_uses_latest("busybox:1.36"));
        assert!(!image_uses_latest("busybox@sha256:abc"));
    }

    #[test]
    fn secret_string_data_becomes_data() {
        let mut s = json!({"stringData": {"password": "hunter2"}});
        apply_defaults(&gvk("", "Secret"), &mut s);
        assert_eq!(s["data"]["password"], "aHVudGVyMg==");
        assert!(s.get("stringData").is_none());
        assert_eq!(s["type"], "Opaque");
    }

    #[test]
    fn service_target_port_defaults_to_port() {
        let mut s = json!({"spec": {"ports": [{"port": 80}]}});
        apply_defaults(&gvk("", "Service"), &mut s);
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(s["spec"]["type"], "ClusterIP");
    }

    #[test]
    fn job_gets_generated_selector() {
        let mut j = json!({"metadata": {"name": "j", "uid": "u1"}, "spec": {"template": {"spec": {"containers": [], "restartPolicy": "Never"}}}});
        apply_defaults(&gvk("batch", "Job"), &mut j);
        assert_eq!(
            j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            "u1"
        );
        assert_eq!(j["spec"]["template"]["metadata"]["labels"]["job-name"], "j");
        assert_eq!(j["spec"]["backoffLimit"], 6);
    }

    #[test]
    fn qos_classes() {
        let best = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(pod_qos_class(&best), "BestEffort");
        let guaranteed = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(pod_qos_class(&guaranteed), "Guaranteed");
        let burstable =
            json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert_eq!(pod_qos_class(&burstable), "Burstable");
    }
}
