//! Printers of cluster-level and networking kinds: RBAC, coordination, discovery, networking,
//! storage, scheduling and certificates.

use serde_json::{Value, json};

use super::format::{age, array, label_selector, name, or_none, text};
use super::{AGE, NAME, Printer, col, int_col};

pub(super) fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    Some(match (group, kind) {
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => &ROLE,
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => &ROLE_BINDING,
        ("coordination.k8s.io", "Lease") => &LEASE,
        ("discovery.k8s.io", "EndpointSlice") => &ENDPOINT_SLICE,
        ("networking.k8s.io", "Ingress") => &INGRESS,
        ("networking.k8s.io", "IngressClass") => &INGRESS_CLASS,
        ("networking.k8s.io", "NetworkPolicy") => &NETWORK_POLICY,
        ("storage.k8s.io", "StorageClass") => &STORAGE_CLASS,
        ("scheduling.k8s.io", "PriorityClass") => &PRIORITY_CLASS,
        ("certificates.k8s.io", "CertificateSigningRequest") => &CSR,
        _ => return None,
    })
}

const ROLE: Printer = Printer {
    columns: &[NAME, ("Created At", "date", "", 0, "")],
    cells: |role, _| {
        vec![
            name(role),
            role.pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(Value::Null),
        ]
    },
};

const ROLE_BINDING: Printer = Printer {
    columns: &[
        NAME,
        col("Role", 0),
        AGE,
        col("Users", 1),
        col("Groups", 1),
        col("ServiceAccounts", 1),
    ],
    cells: |binding, now| {
        let subjects = |kind: &str| {
            array(binding, "/subjects")
                .iter()
                .filter(|s| s["kind"] == kind)
                .map(|s| match (kind, s["namespace"].as_str()) {
                    ("ServiceAccount", Some(ns)) => {
                        format!("{ns}/{}", s["name"].as_str().unwrap_or_default())
                    }
                    _ => s["name"].as_str().unwrap_or_default().to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        vec![
            name(binding),
            json!(format!(
                "{}/{}",
                text(binding, "/roleRef/kind"),
                text(binding, "/roleRef/name")
            )),
            age(binding, now),
            json!(subjects("User")),
            json!(subjects("Group")),
            json!(subjects("ServiceAccount")),
        ]
    },
};

const LEASE: Printer = Printer {
    columns: &[NAME, col("Holder", 0), AGE],
    cells: |lease, now| {
        vec![
            name(lease),
            json!(text(lease, "/spec/holderIdentity")),
            age(lease, now),
        ]
    },
};

const ENDPOINT_SLICE: Printer = Printer {
    columns: &[
        NAME,
        col("AddressType", 0),
        col("Ports", 0),
        col("Endpoints", 0),
        AGE,
    ],
    cells: |slice, now| {
        let ports: Vec<String> = array(slice, "/ports")
            .iter()
            .map(|p| {
                p["port"]
                    .as_i64()
                    .map_or("<unset>".into(), |p| p.to_string())
            })
            .collect();
        let addresses: Vec<&str> = array(slice, "/endpoints")
            .iter()
            .flat_map(|e| array(e, "/addresses").iter().filter_map(Value::as_str))
            .collect();
        let shown = if addresses.len() > 3 {
            format!(
                "{} + {} more...",
                addresses[..3].join(","),
                addresses.len() - 3
            )
        } else {
            addresses.join(",")
        };
        vec![
            name(slice),
            json!(text(slice, "/addressType")),
            or_unset(ports.join(",")),
            or_unset(shown),
            age(slice, now),
        ]
    },
};

fn or_unset(value: String) -> Value {
    json!(if value.is_empty() {
        "<unset>".to_string()
    } else {
        value
    })
}

const INGRESS: Printer = Printer {
    columns: &[
        NAME,
        col("Class", 0),
        col("Hosts", 0),
        col("Address", 0),
        col("Ports", 0),
        AGE,
    ],
    cells: |ingress, now| {
        let hosts: Vec<&str> = array(ingress, "/spec/rules")
            .iter()
            .filter_map(|r| r["host"].as_str())
            .collect();
        let addresses: Vec<&str> = array(ingress, "/status/loadBalancer/ingress")
            .iter()
            .filter_map(|i| i["ip"].as_str().or_else(|| i["hostname"].as_str()))
            .collect();
        let ports = if array(ingress, "/spec/tls").is_empty() {
            "80"
        } else {
            "80, 443"
        };
        vec![
            name(ingress),
            or_none(text(ingress, "/spec/ingressClassName")),
            json!(if hosts.is_empty() {
                "*".to_string()
            } else {
                hosts.join(",")
            }),
            json!(addresses.join(",")),
            json!(ports),
            age(ingress, now),
        ]
    },
};

const INGRESS_CLASS: Printer = Printer {
    columns: &[NAME, col("Controller", 0), col("Parameters", 0), AGE],
    cells: |class, now| {
        let parameters = match text(class, "/spec/parameters/name") {
            n if n.is_empty() => "<none>".to_string(),
            n => format!("{}/{n}", text(class, "/spec/parameters/kind")),
        };
        vec![
            name(class),
            json!(text(class, "/spec/controller")),
            json!(parameters),
            age(class, now),
        ]
    },
};

const NETWORK_POLICY: Printer = Printer {
    columns: &[NAME, col("Pod-Selector", 0), AGE],
    cells: |policy, now| {
        let selector = label_selector(policy.pointer("/spec/podSelector"));
        vec![
            name(policy),
            json!(if selector == "<none>" {
                String::new()
            } else {
                selector
            }),
            age(policy, now),
        ]
    },
};

const STORAGE_CLASS: Printer = Printer {
    columns: &[
        NAME,
        col("Provisioner", 0),
        col("ReclaimPolicy", 0),
        col("VolumeBindingMode", 0),
        ("AllowVolumeExpansion", "boolean", "", 0, ""),
        AGE,
    ],
    cells: |class, now| {
        let mut shown = name(class);
        let default = class
            .pointer("/metadata/annotations/storageclass.kubernetes.io~1is-default-class")
            .and_then(Value::as_str)
            == Some("true");
        if default {
            shown = json!(format!("{} (default)", shown.as_str().unwrap_or_default()));
        }
        let or = |pointer: &str, fallback: &str| match text(class, pointer) {
            s if s.is_empty() => fallback.to_string(),
            s => s,
        };
        vec![
            shown,
            json!(text(class, "/provisioner")),
            json!(or("/reclaimPolicy", "Delete")),
            json!(or("/volumeBindingMode", "Immediate")),
            json!(class["allowVolumeExpansion"].as_bool().unwrap_or(false)),
            age(class, now),
        ]
    },
};

const PRIORITY_CLASS: Printer = Printer {
    columns: &[
        NAME,
        int_col("Value"),
        ("Global-Default", "boolean", "", 0, ""),
        AGE,
        col("PreemptionPolicy", 1),
    ],
    cells: |class, now| {
        vec![
            name(class),
            json!(class["value"].as_i64().unwrap_or(0)),
            json!(class["globalDefault"].as_bool().unwrap_or(false)),
            age(class, now),
            json!(match text(class, "/preemptionPolicy") {
                s if s.is_empty() => "PreemptLowerPriority".to_string(),
                s => s,
            }),
        ]
    },
};

const CSR: Printer = Printer {
    columns: &[
        NAME,
        AGE,
        col("SignerName", 0),
        col("Requestor", 0),
        col("RequestedDuration", 0),
        col("Condition", 0),
    ],
    cells: |csr, now| {
        let mut conditions: Vec<String> = array(csr, "/status/conditions")
            .iter()
            .filter_map(|c| c["type"].as_str().map(str::to_string))
            .collect();
        if !array(csr, "/status/certificate").is_empty()
            || csr
                .pointer("/status/certificate")
                .is_some_and(Value::is_string)
        {
            conditions.push("Issued".into());
        }
        let duration = csr
            .pointer("/spec/expirationSeconds")
            .and_then(Value::as_i64)
            .map_or("<none>".to_string(), super::human_duration);
        vec![
            name(csr),
            age(csr, now),
            json!(text(csr, "/spec/signerName")),
            json!(text(csr, "/spec/username")),
            json!(duration),
            json!(if conditions.is_empty() {
                "Pending".to_string()
            } else {
                conditions.join(",")
            }),
        ]
    },
};
