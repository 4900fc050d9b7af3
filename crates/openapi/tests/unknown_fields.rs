//! Unknown-field detection on built-in kinds.

use keelson_openapi::unknown_fields;
use serde_json::json;

#[test]
fn finds_a_typo_in_a_deployments_container() {
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"anything": "goes"}, "annotations": {"free.form/key": "v"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "ok", "image": "nginx", "ports": [{"containerPort": 80}]},
                    {"name": "web", "image": "nginx", "imagePullPolicyy": "Always",
                     "resources": {"limits": {"cpu": "1"}}, "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]}
                ]}
            }
        },
        "bogus": true
    });
    assert_eq!(
        unknown_fields("apps", "v1", "Deployment", &deployment),
        ["bogus", "spec.template.spec.containers[1].imagePullPolicyy"]
    );
}

#[test]
fn free_form_fields_are_not_checked_inside() {
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "managedFields": [{"manager": "m", "fieldsV1": {"f:data": {}}}]},
        "data": {"any-key": "v"}});
    assert!(unknown_fields("", "v1", "ConfigMap", &config_map).is_empty());
    let rev = json!({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "r"},
        "revision": 1, "data": {"spec": {"whatever": 1}}});
    assert!(unknown_fields("apps", "v1", "ControllerRevision", &rev).is_empty());
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": "http"}], "selector": {"a": "b"}}});
    assert!(unknown_fields("", "v1", "Service", &svc).is_empty());
}

#[test]
fn crd_schemas_are_not_reported() {
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {"group": "stable.example.com", "scope": "Namespaced",
            "names": {"plural": "crontabs", "kind": "CronTab"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object", "properties": {"spec": {"type": "object", "properties": {
                    "cronSpec": {"type": "string", "x-kubernetes-validations": []}}}}}}}]}});
    assert!(
        unknown_fields(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            &crd
        )
        .is_empty()
    );
}

#[test]
fn inline_structs_are_flattened() {
    // Volume's volumeSource is an inline struct: configMap is a field of Volume in JSON.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i"}],
                 "volumes": [{"name": "v", "configMap": {"name": "cm", "nope": 1}}]}});
    assert_eq!(
        unknown_fields("", "v1", "Pod", &pod),
        ["spec.volumes[0].configMap.nope"]
    );
}
