//! The documents kubectl reads: paths, operationIds, parameters and resolvable `$ref`s.

use std::collections::HashMap;

use keelson_api_types::catalogue::builtin_resources;
use serde_json::{Value, json};

fn resources_of(group: &str, version: &str) -> Vec<keelson_api_types::ResourceInfo> {
    builtin_resources()
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
        .collect()
}

/// Every `$ref` in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

fn assert_refs_resolve(doc: &Value, prefix: &str, defs: &Value) {
    let mut all = Vec::new();
    refs(doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("bad ref {r}"));
        assert!(
            defs.get(name).is_some_and(Value::is_object),
            "unresolved {r}"
        );
    }
}

fn has_param(op: &Value, name: &str) -> bool {
    op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["name"] == name))
}

#[test]
fn v3_core_document_has_pod_operations() {
    let doc = keelson_openapi::v3_group_version_document(
        "",
        "v1",
        &resources_of("", "v1"),
        &HashMap::new(),
    );
    assert_eq!(doc["openapi"], "3.0.0");
    assert_eq!(doc["info"]["title"], "Kubernetes");
    let paths = &doc["paths"];
    let pods = &paths["/api/v1/namespaces/{namespace}/pods"];
    assert_eq!(pods["get"]["operationId"], "listCoreV1NamespacedPod");
    assert_eq!(pods["post"]["operationId"], "createCoreV1NamespacedPod");
    assert_eq!(
        pods["delete"]["operationId"],
        "deleteCoreV1CollectionNamespacedPod"
    );
    let pod = &paths["/api/v1/namespaces/{namespace}/pods/{name}"];
    assert_eq!(pod["get"]["operationId"], "readCoreV1NamespacedPod");
    assert_eq!(pod["put"]["operationId"], "replaceCoreV1NamespacedPod");
    assert_eq!(pod["patch"]["operationId"], "patchCoreV1NamespacedPod");
    assert_eq!(pod["patch"]["x-kubernetes-action"], "patch");
    assert_eq!(
        pod["patch"]["x-kubernetes-group-version-kind"],
        json!({"group": "", "kind": "Pod", "version": "v1"})
    );
    for op in [&pods["post"], &pod["put"], &pod["patch"]] {
        assert!(has_param(op, "fieldValidation"), "{}", op["operationId"]);
        assert!(has_param(op, "dryRun") && has_param(op, "fieldManager"));
    }
    let fv = pod["patch"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "fieldValidation")
        .unwrap();
    assert_eq!(fv["in"], "query");
    assert_eq!(fv["schema"]["type"], "string");
    assert!(
        fv["description"]
            .as_str()
            .unwrap()
            .starts_with("fieldValidation instructs the server")
    );
    assert_eq!(
        paths["/api/v1/pods"]["get"]["operationId"],
        "listCoreV1PodForAllNamespaces"
    );
    assert_eq!(
        paths["/api/v1/watch/namespaces/{namespace}/pods"]["get"]["operationId"],
        "watchCoreV1NamespacedPodList"
    );
    assert_eq!(
        paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]["patch"]["operationId"],
        "patchCoreV1NamespacedPodStatus"
    );
    assert_eq!(
        paths["/api/v1/nodes"]["get"]["operationId"],
        "listCoreV1Node"
    );

    let schemas = &doc["components"]["schemas"];
    let pod_schema = &schemas["io.k8s.api.core.v1.Pod"];
    assert_eq!(
        pod_schema["x-kubernetes-group-version-kind"],
        json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
    assert!(
        pod_schema["description"]
            .as_str()
            .unwrap()
            .starts_with("Pod is a collection")
    );
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["type"], "array");
    assert_eq!(
        containers["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Container"
    );
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    let ports = &schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"];
    assert_eq!(
        ports["x-kubernetes-list-map-keys"],
        json!(["containerPort", "protocol"])
    );
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]["format"],
        "date-time"
    );
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
        "int-or-string"
    );
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["labels"]["additionalProperties"]
            ["type"],
        "string"
    );
    assert_eq!(
        schemas["io.k8s.api.core.v1.ConfigMap"]["properties"]["binaryData"]["additionalProperties"]
            ["format"],
        "byte"
    );
    assert_refs_resolve(&doc, "#/components/schemas/", schemas);
}

#[test]
fn v3_apps_document_has_scale_and_deployment_schema() {
    let doc = keelson_openapi::v3_group_version_document(
        "apps",
        "v1",
        &resources_of("apps", "v1"),
        &HashMap::new(),
    );
    let paths = &doc["paths"];
    let scale = &paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["get"]["operationId"],
        "readAppsV1NamespacedDeploymentScale"
    );
    assert_eq!(
        scale["put"]["x-kubernetes-group-version-kind"]["kind"],
        "Scale"
    );
    assert!(has_param(&scale["patch"], "fieldValidation"));
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["io.k8s.api.autoscaling.v1.Scale"].is_object());
    let deployment = &schemas["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"][0]["kind"],
        "Deployment"
    );
    assert_eq!(
        deployment["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    let spec = &schemas["io.k8s.api.apps.v1.DeploymentSpec"];
    let replicas = &spec["properties"]["replicas"];
    assert_eq!(
        (&replicas["type"], &replicas["format"]),
        (&json!("integer"), &json!("int32"))
    );
    assert!(
        replicas["description"]
            .as_str()
            .unwrap()
            .starts_with("Number of desired pods")
    );
    assert_eq!(spec["required"], json!(["selector", "template"]));
    assert_eq!(
        schemas["io.k8s.api.core.v1.PodSpec"]["required"],
        json!(["containers"])
    );
    assert_refs_resolve(&doc, "#/components/schemas/", schemas);
}

#[test]
fn v3_custom_resource_document_wraps_the_crd_schema() {
    let mut crontabs = resources_of("apps", "v1")
        .into_iter()
        .find(|r| r.plural == "deployments")
        .unwrap();
    crontabs.group = "stable.example.com".into();
    crontabs.plural = "crontabs".into();
    crontabs.kind = "CronTab".into();
    crontabs.subresources.clear();
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"cronSpec": {"type": "string"}}}}});
    let schemas_in = HashMap::from([("CronTab".to_string(), schema)]);
    let doc = keelson_openapi::v3_group_version_document(
        "stable.example.com",
        "v1",
        &[crontabs],
        &schemas_in,
    );
    let op = &doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"];
    assert_eq!(
        op["operationId"],
        "patchStableExampleComV1NamespacedCronTab"
    );
    assert!(has_param(op, "fieldValidation"));
    let schemas = &doc["components"]["schemas"];
    let crontab = &schemas["com.example.stable.v1.CronTab"];
    assert_eq!(
        crontab["x-kubernetes-group-version-kind"][0]["group"],
        "stable.example.com"
    );
    assert_eq!(
        crontab["properties"]["spec"]["properties"]["cronSpec"]["type"],
        "string"
    );
    assert_eq!(
        crontab["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert_refs_resolve(&doc, "#/components/schemas/", schemas);
}

#[test]
fn v3_index_points_at_documents() {
    let index = keelson_openapi::v3_index(&[
        ("api/v1".into(), "ABC".into()),
        ("apis/apps/v1".into(), "DEF".into()),
    ]);
    assert_eq!(
        index,
        json!({"paths": {
            "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=ABC"},
            "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=DEF"}
        }})
    );
}

#[test]
fn v2_document_has_definitions_for_every_kind() {
    let resources = builtin_resources();
    let doc = keelson_openapi::v2_document(&resources);
    assert_eq!(doc["swagger"], "2.0");
    let defs = &doc["definitions"];
    for name in [
        "io.k8s.api.apps.v1.Deployment",
        "io.k8s.api.core.v1.Pod",
        "io.k8s.api.core.v1.PodList",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    ] {
        assert!(defs[name].is_object(), "{name}");
    }
    for r in &resources {
        let found = defs.as_object().unwrap().values().any(|d| {
            d["x-kubernetes-group-version-kind"]
                .as_array()
                .is_some_and(|gvks| {
                    gvks.iter().any(|g| {
                        g["group"] == r.group.as_str()
                            && g["version"] == r.version.as_str()
                            && g["kind"] == r.kind.as_str()
                    })
                })
        });
        assert!(found, "no definition for {} {}", r.api_version(), r.kind);
    }
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
    assert!(has_param(patch, "fieldValidation"));
    assert_eq!(
        doc["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]["items"]["$ref"],
        "#/definitions/io.k8s.api.core.v1.Container"
    );
    assert_refs_resolve(&doc, "#/definitions/", defs);
}
