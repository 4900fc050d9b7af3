//! The protobuf form decodes back to the same document.

use keelson_api_types::catalogue::builtin_resources;
use prost::Message;

use super::messages::*;

fn find<'a>(doc: &'a Document, name: &str) -> &'a Schema {
    let defs = &doc.definitions.as_ref().unwrap().additional_properties;
    defs.iter()
        .find(|d| d.name == name)
        .and_then(|d| d.value.as_ref())
        .unwrap_or_else(|| panic!("{name}"))
}

fn property<'a>(schema: &'a Schema, name: &str) -> &'a Schema {
    let props = &schema.properties.as_ref().unwrap().additional_properties;
    props
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.value.as_ref())
        .unwrap()
}

#[test]
fn v2_protobuf_round_trips() {
    let bytes = super::v2_protobuf(&builtin_resources()).unwrap();
    let doc = Document::decode(bytes.as_slice()).unwrap();
    assert_eq!(doc.swagger, "2.0");
    assert_eq!(doc.info.as_ref().unwrap().title, "Kubernetes");

    let deployment = find(&doc, "io.k8s.api.apps.v1.Deployment");
    let gvk = deployment
        .vendor_extension
        .iter()
        .find(|e| e.name == "x-kubernetes-group-version-kind")
        .unwrap();
    let yaml = &gvk.value.as_ref().unwrap().yaml;
    let parsed: serde_json::Value = serde_json::from_str(yaml).unwrap();
    assert_eq!(
        parsed,
        serde_json::json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    assert_eq!(
        property(deployment, "spec")._ref,
        "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    );

    let spec = find(&doc, "io.k8s.api.apps.v1.DeploymentSpec");
    let replicas = property(spec, "replicas");
    assert_eq!(replicas.r#type.as_ref().unwrap().value, ["integer"]);
    assert_eq!(replicas.format, "int32");

    let meta = find(&doc, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    let labels = property(meta, "labels");
    match labels
        .additional_properties
        .as_ref()
        .and_then(|a| a.oneof.as_ref())
    {
        Some(additional_properties_item::Oneof::Schema(s)) => {
            assert_eq!(s.r#type.as_ref().unwrap().value, ["string"])
        }
        other => panic!("labels: {other:?}"),
    }
    let containers = property(find(&doc, "io.k8s.api.core.v1.PodSpec"), "containers");
    assert_eq!(
        containers.items.as_ref().unwrap().schema[0]._ref,
        "#/definitions/io.k8s.api.core.v1.Container"
    );
    assert!(
        containers
            .vendor_extension
            .iter()
            .any(|e| e.name == "x-kubernetes-patch-merge-key")
    );

    // kubectl's QueryParamVerifier: the patch operation of the GVK has a fieldValidation
    // query parameter.
    let paths = &doc.paths.as_ref().unwrap().path;
    let item = paths
        .iter()
        .find(|p| p.name == "/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        .and_then(|p| p.value.as_ref())
        .unwrap();
    let patch = item.patch.as_ref().unwrap();
    assert_eq!(patch.operation_id, "patchAppsV1NamespacedDeployment");
    assert!(
        patch
            .vendor_extension
            .iter()
            .any(|e| e.name == "x-kubernetes-group-version-kind")
    );
    let names: Vec<&str> = patch
        .parameters
        .iter()
        .filter_map(|p| match &p.oneof {
            Some(parameters_item::Oneof::Parameter(Parameter {
                oneof:
                    Some(parameter::Oneof::NonBodyParameter(NonBodyParameter {
                        oneof: Some(non_body_parameter::Oneof::QueryParameterSubSchema(q)),
                    })),
            })) => Some(q.name.as_str()),
            _ => None,
        })
        .collect();
    assert!(names.contains(&"fieldValidation"), "{names:?}");
    let body = patch.parameters.iter().any(|p| {
        matches!(&p.oneof, Some(parameters_item::Oneof::Parameter(Parameter {
            oneof: Some(parameter::Oneof::BodyParameter(b)) })) if b.name == "body" && b.required)
    });
    assert!(body);
}
