//! Bodies encoded with k8s-pb (prost types generated independently from the same upstream
//! .proto files), decoded and compared with the JSON upstream's serializer produces for them.

mod common;

use std::collections::BTreeMap;

use common::envelope;
use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::authentication::v1 as authn;
use k8s_pb::api::authorization::v1 as authz;
use k8s_pb::api::certificates::v1 as certs;
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::policy::v1 as policy;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use keelson_proto::decode_object;
use serde_json::json;

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn map<V>(pairs: &[(&str, V)]) -> BTreeMap<String, V>
where
    V: Clone,
{
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn meta_named(name: &str) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: s(name),
        ..Default::default()
    })
}

fn quantity(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

#[test]
fn configmap_with_data_and_binary_data() {
    let cm = core::ConfigMap {
        metadata: meta_named("cfg"),
        data: map(&[("a", "b".to_owned()), ("c", String::new())]),
        binary_data: map(&[("bin", vec![0u8, 1, 0xff])]),
        immutable: Some(false),
    };
    assert_eq!(
        decode_object(&envelope("v1", "ConfigMap", &cm)).unwrap(),
        json!({
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "cfg", "creationTimestamp": null},
            // immutable is a *bool: set to false it stays.
            "immutable": false,
            "data": {"a": "b", "c": ""},
            "binaryData": {"bin": "AAH/"}
        })
    );
}

#[test]
fn secret_data_is_base64() {
    let secret = core::Secret {
        metadata: Some(meta::ObjectMeta {
            name: s("creds"),
            namespace: s("prod"),
            ..Default::default()
        }),
        data: map(&[("password", b"hunter2".to_vec())]),
        r#type: s("Opaque"),
        ..Default::default()
    };
    assert_eq!(
        decode_object(&envelope("v1", "Secret", &secret)).unwrap(),
        json!({
            "kind": "Secret", "apiVersion": "v1",
            "metadata": {"name": "creds", "namespace": "prod", "creationTimestamp": null},
            "data": {"password": "aHVudGVyMg=="},
            "type": "Opaque"
        })
    );
}

#[test]
fn namespace_and_metadata_fields() {
    let ns = core::Namespace {
        metadata: Some(meta::ObjectMeta {
            name: s("team-a"),
            labels: map(&[("env", "prod".to_owned())]),
            annotations: map(&[("owner", "alice".to_owned())]),
            creation_timestamp: Some(meta::Time {
                seconds: Some(1_700_000_000),
                nanos: Some(5),
            }),
            // A non-pointer int64 with omitempty: zero is dropped.
            generation: Some(0),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        decode_object(&envelope("v1", "Namespace", &ns)).unwrap(),
        json!({
            "kind": "Namespace", "apiVersion": "v1",
            "metadata": {
                "name": "team-a",
                "labels": {"env": "prod"},
                "annotations": {"owner": "alice"},
                "creationTimestamp": "2023-11-14T22:13:20Z"
            },
            "spec": {},
            "status": {}
        })
    );
}

#[test]
fn deployment_with_container_ports_resources_and_strategy() {
    let labels = map(&[("app", "web".to_owned())]);
    let container = core::Container {
        name: s("web"),
        image: s("nginx:1.27"),
        ports: vec![core::ContainerPort {
            container_port: Some(80),
            protocol: s("TCP"),
            ..Default::default()
        }],
        resources: Some(core::ResourceRequirements {
            limits: map(&[("cpu", quantity("500m")), ("memory", quantity("128Mi"))]),
            requests: map(&[("cpu", quantity("250m"))]),
            claims: vec![],
        }),
        ..Default::default()
    };
    let deployment = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            labels: labels.clone(),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(3),
            selector: Some(meta::LabelSelector {
                match_labels: labels.clone(),
                match_expressions: vec![],
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels,
                    ..Default::default()
                }),
                spec: Some(core::PodSpec {
                    containers: vec![container],
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_surge: Some(IntOrString {
                        r#type: Some(1),
                        int_val: None,
                        str_val: s("25%"),
                    }),
                    max_unavailable: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(0),
                        str_val: None,
                    }),
                }),
            }),
            paused: Some(false),
            ..Default::default()
        }),
        status: None,
    };
    assert_eq!(
        decode_object(&envelope("apps/v1", "Deployment", &deployment)).unwrap(),
        json!({
            "kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": "web", "labels": {"app": "web"}, "creationTimestamp": null},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
                    "spec": {"containers": [{
                        "name": "web",
                        "image": "nginx:1.27",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "resources": {
                            "limits": {"cpu": "500m", "memory": "128Mi"},
                            "requests": {"cpu": "250m"}
                        }
                    }]}
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}
                }
            },
            "status": {}
        })
    );
}

#[test]
fn pod_volumes_are_flattened_like_go_embedded_structs() {
    let pod = core::Pod {
        metadata: meta_named("p"),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("c"),
                image: s("busybox"),
                ..Default::default()
            }],
            volumes: vec![
                core::Volume {
                    name: s("cache"),
                    volume_source: Some(core::VolumeSource {
                        empty_dir: Some(core::EmptyDirVolumeSource {
                            medium: None,
                            size_limit: Some(quantity("1Gi")),
                        }),
                        ..Default::default()
                    }),
                },
                core::Volume {
                    name: s("cfg"),
                    volume_source: Some(core::VolumeSource {
                        config_map: Some(core::ConfigMapVolumeSource {
                            local_object_reference: Some(core::LocalObjectReference {
                                name: s("cm"),
                            }),
                            default_mode: Some(420),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                },
            ],
            termination_grace_period_seconds: Some(0),
            ..Default::default()
        }),
        status: None,
    };
    assert_eq!(
        decode_object(&envelope("v1", "Pod", &pod)).unwrap(),
        json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "p", "creationTimestamp": null},
            "spec": {
                "volumes": [
                    {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
                    {"name": "cfg", "configMap": {"name": "cm", "defaultMode": 420}}
                ],
                "containers": [{"name": "c", "image": "busybox", "resources": {}}],
                "terminationGracePeriodSeconds": 0
            },
            "status": {}
        })
    );
}

#[test]
fn self_subject_access_review() {
    let ssar = authz::SelfSubjectAccessReview {
        metadata: None,
        spec: Some(authz::SelfSubjectAccessReviewSpec {
            resource_attributes: Some(authz::ResourceAttributes {
                namespace: s("default"),
                verb: s("list"),
                group: s("apps"),
                resource: s("deployments"),
                ..Default::default()
            }),
            non_resource_attributes: None,
        }),
        status: None,
    };
    assert_eq!(
        decode_object(&envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            &ssar
        ))
        .unwrap(),
        json!({
            "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {"resourceAttributes": {
                "namespace": "default", "verb": "list", "group": "apps", "resource": "deployments"
            }},
            "status": {"allowed": false}
        })
    );
}

#[test]
fn self_subject_rules_review_and_self_subject_review() {
    let ssrr = authz::SelfSubjectRulesReview {
        metadata: None,
        spec: Some(authz::SelfSubjectRulesReviewSpec {
            namespace: s("kube-system"),
        }),
        status: None,
    };
    assert_eq!(
        decode_object(&envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectRulesReview",
            &ssrr
        ))
        .unwrap(),
        json!({
            "kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {"namespace": "kube-system"},
            "status": {"resourceRules": null, "nonResourceRules": null, "incomplete": false}
        })
    );
    let ssr = authn::SelfSubjectReview {
        metadata: None,
        status: None,
    };
    assert_eq!(
        decode_object(&envelope(
            "authentication.k8s.io/v1",
            "SelfSubjectReview",
            &ssr
        ))
        .unwrap(),
        json!({
            "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "status": {"userInfo": {}}
        })
    );
}

#[test]
fn token_request() {
    let tr = authn::TokenRequest {
        metadata: meta_named("default"),
        spec: Some(authn::TokenRequestSpec {
            audiences: vec!["https://kubernetes.default.svc".into()],
            expiration_seconds: Some(600),
            bound_object_ref: Some(authn::BoundObjectReference {
                kind: s("Pod"),
                api_version: s("v1"),
                name: s("web-0"),
                u_id: s("1234"),
            }),
        }),
        status: None,
    };
    assert_eq!(
        decode_object(&envelope("authentication.k8s.io/v1", "TokenRequest", &tr)).unwrap(),
        json!({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": "default", "creationTimestamp": null},
            "spec": {
                "audiences": ["https://kubernetes.default.svc"],
                "expirationSeconds": 600,
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web-0", "uid": "1234"}
            },
            "status": {"token": "", "expirationTimestamp": null}
        })
    );
}

#[test]
fn eviction_with_delete_options() {
    let eviction = policy::Eviction {
        metadata: Some(meta::ObjectMeta {
            name: s("web-0"),
            namespace: s("default"),
            ..Default::default()
        }),
        delete_options: Some(meta::DeleteOptions {
            // Pointer set to zero: "delete now", must survive.
            grace_period_seconds: Some(0),
            preconditions: Some(meta::Preconditions {
                uid: s("u-1"),
                resource_version: None,
            }),
            ..Default::default()
        }),
    };
    assert_eq!(
        decode_object(&envelope("policy/v1", "Eviction", &eviction)).unwrap(),
        json!({
            "kind": "Eviction", "apiVersion": "policy/v1",
            "metadata": {"name": "web-0", "namespace": "default", "creationTimestamp": null},
            "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "u-1"}}
        })
    );
}

#[test]
fn delete_options_under_any_group_version() {
    let opts = meta::DeleteOptions {
        propagation_policy: s("Foreground"),
        dry_run: vec!["All".into()],
        ..Default::default()
    };
    for api_version in ["v1", "apps/v1", "meta.k8s.io/v1"] {
        assert_eq!(
            decode_object(&envelope(api_version, "DeleteOptions", &opts)).unwrap(),
            json!({
                "kind": "DeleteOptions", "apiVersion": api_version,
                "propagationPolicy": "Foreground", "dryRun": ["All"]
            })
        );
    }
}

#[test]
fn certificate_signing_request_bytes_and_extra() {
    let csr = certs::CertificateSigningRequest {
        metadata: meta_named("csr-1"),
        spec: Some(certs::CertificateSigningRequestSpec {
            request: Some(b"PEM".to_vec()),
            signer_name: s("kubernetes.io/kube-apiserver-client"),
            usages: vec!["client auth".into()],
            extra: map(&[(
                "scopes",
                certs::ExtraValue {
                    items: vec!["a".into(), "b".into()],
                },
            )]),
            ..Default::default()
        }),
        status: Some(certs::CertificateSigningRequestStatus {
            conditions: vec![certs::CertificateSigningRequestCondition {
                r#type: s("Approved"),
                status: s("True"),
                reason: s("KubectlApprove"),
                last_update_time: Some(meta::Time {
                    seconds: Some(0),
                    nanos: None,
                }),
                ..Default::default()
            }],
            certificate: None,
        }),
    };
    assert_eq!(
        decode_object(&envelope(
            "certificates.k8s.io/v1",
            "CertificateSigningRequest",
            &csr
        ))
        .unwrap(),
        json!({
            "kind": "CertificateSigningRequest", "apiVersion": "certificates.k8s.io/v1",
            "metadata": {"name": "csr-1", "creationTimestamp": null},
            "spec": {
                "request": "UEVN",
                "signerName": "kubernetes.io/kube-apiserver-client",
                "usages": ["client auth"],
                "extra": {"scopes": ["a", "b"]}
            },
            "status": {"conditions": [{
                "type": "Approved", "status": "True", "reason": "KubectlApprove",
                "lastUpdateTime": "1970-01-01T00:00:00Z",
                // non-pointer metav1.Time: the zero time marshals as null
                "lastTransitionTime": null
            }]}
        })
    );
}

#[test]
fn lease_micro_time() {
    let lease = coordination::Lease {
        metadata: meta_named("node-1"),
        spec: Some(coordination::LeaseSpec {
            holder_identity: s("node-1"),
            lease_duration_seconds: Some(40),
            renew_time: Some(meta::MicroTime {
                seconds: Some(1_700_000_000),
                nanos: Some(123_456_789),
            }),
            ..Default::default()
        }),
    };
    assert_eq!(
        decode_object(&envelope("coordination.k8s.io/v1", "Lease", &lease)).unwrap(),
        json!({
            "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": "node-1", "creationTimestamp": null},
            "spec": {
                "holderIdentity": "node-1",
                "leaseDurationSeconds": 40,
                "renewTime": "2023-11-14T22:13:20.123456Z"
            }
        })
    );
}
