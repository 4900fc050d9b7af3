//! The calls the API server makes, in the shapes it makes them, so that signature or
//! behaviour changes here show up as test failures rather than server build breaks.

use std::collections::BTreeMap;

use keelson_apimachinery::patch::{self, BuiltinPatchMeta, PatchError};
use keelson_apimachinery::selectors::{FieldSelector, LabelSelector, SelectorError, field_value};
use serde_json::{Value, json};

struct Cached {
    labels: BTreeMap<String, String>,
    fields: Vec<(String, String)>,
}

impl Cached {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn cache(object: &Value) -> Cached {
    let labels = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let fields = [
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "status.phase",
    ]
    .iter()
    .filter_map(|field| {
        field_value("", "Pod", object, field)
            .ok()
            .flatten()
            .map(|v| (field.to_string(), v))
    })
    .collect();
    Cached { labels, fields }
}

#[test]
fn list_filtering_with_selectors() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web", "env": "prod"}},
        "spec": {"nodeName": "node-a"},
        "status": {"phase": "Running"}
    });
    let cached = cache(&pod);
    let labels = LabelSelector::parse("app=web,env in (prod,staging),!canary").unwrap();
    assert!(labels.matches(&cached.labels));
    let fields = FieldSelector::parse("spec.nodeName=node-a,status.phase!=Failed").unwrap();
    for field in fields.fields() {
        assert!(field_value("", "Pod", &pod, field).is_ok());
    }
    assert!(fields.matches(|field| cached.field(field).map(str::to_string)));
    assert!(
        !FieldSelector::parse("metadata.namespace=kube-system")
            .unwrap()
            .matches(|field| cached.field(field).map(str::to_string))
    );
}

#[test]
fn unsupported_field_and_bad_selectors_are_client_errors() {
    let err = field_value("", "Pod", &json!({}), "spec.containers").unwrap_err();
    assert_eq!(
        err,
        SelectorError::UnsupportedField("spec.containers".into())
    );
    assert_eq!(
        err.to_string(),
        "field label not supported: spec.containers"
    );
    assert!(LabelSelector::parse("a b").is_err());
    assert!(FieldSelector::parse("nonsense").is_err());
}

#[test]
fn scale_and_disruption_budget_selectors() {
    let selector = json!({"matchLabels": {"app": "web"}});
    let parsed = LabelSelector::from_metav1(&selector).unwrap();
    assert_eq!(parsed.to_string(), "app=web");
    let everyone: BTreeMap<String, String> = BTreeMap::new();
    assert!(
        LabelSelector::from_metav1(&json!({}))
            .unwrap()
            .matches(&everyone)
    );
}

#[test]
fn the_three_patch_types() {
    let current = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "app", "image": "v1"}]}}}
    });
    let jp = json!([{"op": "replace", "path": "/spec/replicas", "value": 3}]);
    assert_eq!(
        patch::json_patch(&current, &jp).unwrap()["spec"]["replicas"],
        3
    );
    let mp = json!({"spec": {"replicas": 2}});
    assert_eq!(patch::merge_patch(&current, &mp)["spec"]["replicas"], 2);
    let meta = BuiltinPatchMeta::new("apps", "Deployment");
    assert!(meta.is_known());
    let smp =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "v2"}]}}}});
    let out = patch::strategic_merge_patch(&current, &smp, &meta).unwrap();
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["image"],
        "v2"
    );

    let failed = patch::json_patch(
        &current,
        &json!([{"op": "test", "path": "/spec/replicas", "value": 9}]),
    );
    assert!(matches!(failed, Err(PatchError::JsonPatchFailed(_))));
    let custom = BuiltinPatchMeta::new("example.com", "Widget");
    assert!(!custom.is_known());
    assert_eq!(
        patch::strategic_merge_patch(&current, &smp, &custom),
        Err(PatchError::StrategicMergePatchUnsupported)
    );
}
