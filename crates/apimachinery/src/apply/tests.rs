//! Behavioural fixtures for apply and managedFields.

use serde_json::{Value, json};

use super::*;

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T11:00:00Z";
const T3: &str = "2024-05-01T12:00:00Z";

fn deployment(spec: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec
    })
}

fn managed_entries(object: &Value) -> &Vec<Value> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .expect("managedFields present")
}

fn entry_of<'a>(object: &'a Value, manager: &str) -> &'a Value {
    managed_entries(object)
        .iter()
        .find(|e| e["manager"] == manager)
        .unwrap_or_else(|| panic!("no entry for {manager}: {object:#}"))
}

fn fields_of(object: &Value, manager: &str) -> FieldSet {
    FieldSet::from_fields_v1(&entry_of(object, manager)["fieldsV1"]).unwrap()
}

fn owns(object: &Value, manager: &str, path: &str) -> bool {
    fields_of(object, manager)
        .paths()
        .iter()
        .any(|p| p.to_string() == path)
}

fn has_manager(object: &Value, manager: &str) -> bool {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|e| e["manager"] == manager))
}

fn apply_ok(live: Option<&Value>, applied: &Value, manager: &str, now: &str) -> Value {
    apply(live, applied, manager, false, &BuiltinListMeta, now).expect("apply succeeds")
}

fn container_spec(containers: Value) -> Value {
    json!({
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": containers}
        }
    })
}

#[test]
fn first_apply_creates_the_object_and_its_apply_entry() {
    let applied = deployment(json!({"replicas": 2}));
    let created = apply_ok(None, &applied, "kubectl", T1);
    assert_eq!(created["spec"]["replicas"], 2);
    let entries = managed_entries(&created);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0],
        json!({
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}}
        })
    );
}

#[test]
fn applied_field_set_matches_upstream_encoding() {
    let applied = deployment(container_spec(json!([
        {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}
    ])));
    let created = apply_ok(None, &applied, "kubectl", T1);
    let fields = FieldSet::from_fields_v1(&entry_of(&created, "kubectl")["fieldsV1"]).unwrap();
    assert_eq!(
        fields.to_fields_v1_string(),
        concat!(
            r#"{"f:spec":{"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"#,
            r#""f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{},"#,
            r#""f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}"#
        )
    );
}

#[test]
fn reapplying_without_a_field_removes_it() {
    let first = deployment(json!({"replicas": 2, "minReadySeconds": 5}));
    let live = apply_ok(None, &first, "kubectl", T1);
    let second = deployment(json!({"replicas": 2}));
    let updated = apply_ok(Some(&live), &second, "kubectl", T2);
    assert!(updated["spec"].get("minReadySeconds").is_none());
    assert_eq!(updated["spec"]["replicas"], 2);
    assert!(!owns(&updated, "kubectl", ".spec.minReadySeconds"));
    assert_eq!(entry_of(&updated, "kubectl")["time"], T2);
}

#[test]
fn reapplying_the_same_config_keeps_the_time() {
    let config = deployment(json!({"replicas": 2}));
    let live = apply_ok(None, &config, "kubectl", T1);
    let again = apply_ok(Some(&live), &config, "kubectl", T2);
    assert_eq!(again, live);
}

#[test]
fn fields_shared_by_two_appliers_survive_one_dropping_them() {
    let live = apply_ok(None, &deployment(json!({"replicas": 3})), "a", T1);
    // Same value: no conflict, both own it.
    let live = apply_ok(Some(&live), &deployment(json!({"replicas": 3})), "b", T2);
    assert!(owns(&live, "a", ".spec.replicas"));
    assert!(owns(&live, "b", ".spec.replicas"));
    // a stops applying it; b still owns it, so it stays.
    let live = apply_ok(Some(&live), &deployment(json!({"paused": true})), "a", T3);
    assert_eq!(live["spec"]["replicas"], 3);
    assert!(!owns(&live, "a", ".spec.replicas"));
    assert!(owns(&live, "b", ".spec.replicas"));
}

#[test]
fn changing_a_field_another_manager_updated_conflicts() {
    let created = deployment(json!({"replicas": 1}));
    let live = update_managed_fields(
        None,
        &created,
        "kubectl-client-side-apply",
        Operation::Update,
        None,
        &BuiltinListMeta,
        T1,
    );
    assert!(owns(&live, "kubectl-client-side-apply", ".spec.replicas"));

    let err = apply(
        Some(&live),
        &deployment(json!({"replicas": 5})),
        "kubectl",
        false,
        &BuiltinListMeta,
        T2,
    )
    .unwrap_err();
    let ApplyError::Conflicts(conflicts) = &err else {
        panic!("expected conflicts, got {err:?}");
    };
    assert_eq!(conflicts.len(), 1);
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#
    );
    let causes = conflict_causes(conflicts);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(
        causes[0].message,
        r#"conflict with "kubectl-client-side-apply" using apps/v1"#
    );
    assert_eq!(causes[0].field, ".spec.replicas");
    let status = conflict_status(conflicts);
    assert_eq!(status["code"], 409);
    assert_eq!(status["reason"], "Conflict");

    // force moves ownership to the applier.
    let forced = apply(
        Some(&live),
        &deployment(json!({"replicas": 5})),
        "kubectl",
        true,
        &BuiltinListMeta,
        T2,
    )
    .unwrap();
    assert_eq!(forced["spec"]["replicas"], 5);
    assert!(owns(&forced, "kubectl", ".spec.replicas"));
    assert!(!has_manager(&forced, "kubectl-client-side-apply"));
}

#[test]
fn multiple_conflicts_are_grouped_by_manager() {
    let live = apply_ok(
        None,
        &deployment(json!({"replicas": 1, "paused": false})),
        "a",
        T1,
    );
    let err = apply(
        Some(&live),
        &deployment(json!({"replicas": 2, "paused": true})),
        "b",
        false,
        &BuiltinListMeta,
        T2,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.paused\n- .spec.replicas"
    );
}

#[test]
fn two_appliers_merge_containers_by_name() {
    let a = deployment(container_spec(json!([{"name": "app", "image": "app:1"}])));
    let live = apply_ok(None, &a, "team-a", T1);
    let b = deployment(json!({"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "proxy:1"}
    ]}}}));
    let live = apply_ok(Some(&live), &b, "team-b", T2);
    let containers = live.pointer("/spec/template/spec/containers").unwrap();
    assert_eq!(
        containers,
        &json!([{"name": "app", "image": "app:1"}, {"name": "sidecar", "image": "proxy:1"}])
    );
    assert!(owns(
        &live,
        "team-b",
        r#".spec.template.spec.containers[name="sidecar"].image"#
    ));
    assert!(!owns(
        &live,
        "team-b",
        r#".spec.template.spec.containers[name="app"].image"#
    ));

    // team-a changing its own container's image does not conflict with team-b.
    let a2 = deployment(container_spec(json!([{"name": "app", "image": "app:2"}])));
    let live = apply_ok(Some(&live), &a2, "team-a", T3);
    let containers = live.pointer("/spec/template/spec/containers").unwrap();
    assert_eq!(containers[0]["image"], "app:2");
    assert_eq!(containers[1]["name"], "sidecar");

    // team-b removing its sidecar drops the item entirely.
    let b2 = deployment(json!({"template": {"spec": {"containers": []}}}));
    let live = apply_ok(Some(&live), &b2, "team-b", T3);
    let containers = live.pointer("/spec/template/spec/containers").unwrap();
    assert_eq!(containers, &json!([{"name": "app", "image": "app:2"}]));
}

#[test]
fn set_lists_merge_per_value() {
    let with_finalizers = |names: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c", "finalizers": names}})
    };
    let live = apply_ok(None, &with_finalizers(json!(["a/x"])), "one", T1);
    let live = apply_ok(Some(&live), &with_finalizers(json!(["b/y"])), "two", T2);
    assert_eq!(live["metadata"]["finalizers"], json!(["a/x", "b/y"]));
    assert!(owns(&live, "two", r#".metadata.finalizers[="b/y"]"#));
    let live = apply_ok(Some(&live), &with_finalizers(json!([])), "one", T3);
    assert_eq!(live["metadata"]["finalizers"], json!(["b/y"]));
}

#[test]
fn atomic_lists_are_replaced_and_conflict_as_a_whole() {
    let with_tolerations = |t: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"tolerations": t}})
    };
    let live = apply_ok(None, &with_tolerations(json!([{"key": "a"}])), "one", T1);
    assert!(owns(&live, "one", ".spec.tolerations"));
    let live = apply_ok(
        Some(&live),
        &with_tolerations(json!([{"key": "b"}])),
        "one",
        T2,
    );
    assert_eq!(live["spec"]["tolerations"], json!([{"key": "b"}]));
    let err = apply(
        Some(&live),
        &with_tolerations(json!([{"key": "c"}])),
        "two",
        false,
        &BuiltinListMeta,
        T3,
    )
    .unwrap_err();
    assert!(matches!(err, ApplyError::Conflicts(ref c) if c[0].field() == ".spec.tolerations"));
}

#[test]
fn granular_maps_merge_per_key() {
    let labels = |l: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": l}});
    let live = apply_ok(None, &labels(json!({"a": "1"})), "one", T1);
    let live = apply_ok(Some(&live), &labels(json!({"b": "2"})), "two", T2);
    assert_eq!(live["metadata"]["labels"], json!({"a": "1", "b": "2"}));
    let live = apply_ok(Some(&live), &labels(json!({})), "one", T3);
    assert_eq!(live["metadata"]["labels"], json!({"b": "2"}));
}

#[test]
fn kubectl_scale_is_attributed_to_its_manager() {
    let live = apply_ok(None, &deployment(json!({"replicas": 2})), "kubectl", T1);
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let after = update_managed_fields(
        Some(&live),
        &scaled,
        "kubectl",
        Operation::Update,
        Some("scale"),
        &BuiltinListMeta,
        T2,
    );
    let scale_entry = managed_entries(&after)
        .iter()
        .find(|e| e["operation"] == "Update")
        .unwrap();
    assert_eq!(scale_entry["manager"], "kubectl");
    assert_eq!(scale_entry["subresource"], "scale");
    assert_eq!(scale_entry["time"], T2);
    assert_eq!(
        scale_entry["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );
    // The applier lost the field, so its now-empty Apply entry is gone.
    assert_eq!(managed_entries(&after).len(), 1);
    // The next apply of the old value conflicts with the scaler.
    let err = apply(
        Some(&after),
        &deployment(json!({"replicas": 2})),
        "kubectl",
        false,
        &BuiltinListMeta,
        T3,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas"#
    );
}

#[test]
fn create_by_update_owns_maps_but_not_structs() {
    let created = deployment(container_spec(json!([{"name": "c", "image": "i"}])));
    let after = update_managed_fields(
        None,
        &created,
        "kubectl-create",
        Operation::Update,
        None,
        &BuiltinListMeta,
        T1,
    );
    let fields = fields_of(&after, "kubectl-create");
    assert_eq!(
        fields.to_fields_v1_string(),
        concat!(
            r#"{"f:spec":{"f:selector":{},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"#,
            r#""f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{}}}}}}}"#
        )
    );
}

#[test]
fn updates_by_the_same_manager_accumulate_in_one_entry() {
    let v1 = deployment(json!({"replicas": 1}));
    let live = update_managed_fields(
        None,
        &v1,
        "ctl",
        Operation::Update,
        None,
        &BuiltinListMeta,
        T1,
    );
    let mut v2 = live.clone();
    v2["spec"]["paused"] = json!(true);
    let live = update_managed_fields(
        Some(&live),
        &v2,
        "ctl",
        Operation::Update,
        None,
        &BuiltinListMeta,
        T2,
    );
    let entries = managed_entries(&live);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["time"], T2);
    assert!(owns(&live, "ctl", ".spec.replicas"));
    assert!(owns(&live, "ctl", ".spec.paused"));

    // A different manager changing replicas takes it over.
    let mut v3 = live.clone();
    v3["spec"]["replicas"] = json!(4);
    let live = update_managed_fields(
        Some(&live),
        &v3,
        "hpa",
        Operation::Update,
        None,
        &BuiltinListMeta,
        T3,
    );
    assert!(owns(&live, "hpa", ".spec.replicas"));
    assert!(!owns(&live, "ctl", ".spec.replicas"));
    // Apply entries sort before Update entries, then by time.
    let order: Vec<&Value> = managed_entries(&live)
        .iter()
        .map(|e| &e["manager"])
        .collect();
    assert_eq!(order, vec!["ctl", "hpa"]);
}

#[test]
fn untracked_objects_stay_untracked_until_applied() {
    let mut live = deployment(json!({"replicas": 1, "paused": false}));
    live["metadata"]["uid"] = json!("u-1");
    let mut changed = live.clone();
    changed["spec"]["replicas"] = json!(2);
    let after = update_managed_fields(
        Some(&live),
        &changed,
        "ctl",
        Operation::Update,
        None,
        &BuiltinListMeta,
        T1,
    );
    assert!(after.pointer("/metadata/managedFields").is_none());

    // The first apply attributes existing fields to before-first-apply, so they
    // are not silently pruned and changing them conflicts.
    let err = apply(
        Some(&after),
        &deployment(json!({"replicas": 3})),
        "kubectl",
        false,
        &BuiltinListMeta,
        T2,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains(r#""before-first-apply" using apps/v1"#),
        "{err}"
    );
    let ok = apply_ok(
        Some(&after),
        &deployment(json!({"replicas": 2})),
        "kubectl",
        T2,
    );
    assert!(owns(&ok, "before-first-apply", ".spec.paused"));
    assert!(owns(&ok, "kubectl", ".spec.replicas"));
}

#[test]
fn server_managed_metadata_is_never_owned() {
    let mut applied = deployment(json!({"replicas": 1}));
    applied["metadata"]["labels"] = json!({"a": "b"});
    applied["metadata"]["resourceVersion"] = json!("7");
    applied["metadata"]["uid"] = json!("x");
    let created = apply_ok(None, &applied, "kubectl", T1);
    let fields = fields_of(&created, "kubectl");
    assert_eq!(
        fields.to_fields_v1(),
        json!({"f:metadata": {"f:labels": {"f:a": {}}}, "f:spec": {"f:replicas": {}}})
    );
}

#[test]
fn apply_rejects_managed_fields_and_version_mismatch() {
    let mut applied = deployment(json!({}));
    applied["metadata"]["managedFields"] = json!([]);
    assert_eq!(
        apply(None, &applied, "m", false, &BuiltinListMeta, T1),
        Err(ApplyError::ManagedFieldsInApplyConfig)
    );
    let live = apply_ok(None, &deployment(json!({"replicas": 1})), "m", T1);
    let mut other = deployment(json!({"replicas": 1}));
    other["apiVersion"] = json!("apps/v1beta2");
    assert!(matches!(
        apply(Some(&live), &other, "m", false, &BuiltinListMeta, T2),
        Err(ApplyError::VersionMismatch { .. })
    ));
}

#[test]
fn list_map_items_need_keys() {
    let applied = deployment(container_spec(json!([{"image": "no-name"}])));
    let err = apply(None, &applied, "m", false, &BuiltinListMeta, T1).unwrap_err();
    assert!(matches!(err, ApplyError::InvalidObject(_)));
    assert!(
        err.to_string().contains(".spec.template.spec.containers"),
        "{err}"
    );
    let dup = deployment(container_spec(json!([{"name": "a"}, {"name": "a"}])));
    assert!(apply(None, &dup, "m", false, &BuiltinListMeta, T1).is_err());
}

#[test]
fn ignored_fields_are_merged_but_not_owned() {
    let status_reset: FieldSet = [Path::fields(&["status"])].into_iter().collect();
    let mut applied = deployment(json!({"replicas": 1}));
    applied["status"] = json!({"replicas": 9});
    let options = ApplyOptions {
        manager: "m",
        force: false,
        subresource: None,
        ignored_fields: Some(&status_reset),
        now: T1,
    };
    let created = apply_with(None, &applied, &options, &BuiltinListMeta).unwrap();
    assert!(!owns(&created, "m", ".status.replicas"));
    assert!(owns(&created, "m", ".spec.replicas"));
}

#[test]
fn crd_schema_drives_merging() {
    let meta = CrdListMeta::from_schema(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "ports": {"type": "array", "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["port"],
                      "items": {"type": "object", "properties": {
                          "port": {"type": "integer"}, "name": {"type": "string"}}}},
            "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }}}
    }));
    let widget = |spec: Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": "w"}, "spec": spec})
    };
    let live = apply(
        None,
        &widget(json!({"ports": [{"port": 80, "name": "http"}]})),
        "a",
        false,
        &meta,
        T1,
    )
    .unwrap();
    let live = apply(
        Some(&live),
        &widget(json!({"ports": [{"port": 443}], "config": {"x": {"y": 1}}})),
        "b",
        false,
        &meta,
        T2,
    )
    .unwrap();
    assert_eq!(
        live["spec"]["ports"],
        json!([{"port": 80, "name": "http"}, {"port": 443}])
    );
    // Untyped content is owned entry by entry, each entry as a member.
    assert_eq!(
        fields_of(&live, "b").to_fields_v1_string(),
        r#"{"f:spec":{"f:config":{"f:x":{".":{},"f:y":{}}},"f:ports":{"k:{\"port\":443}":{".":{},"f:port":{}}}}}"#
    );
}

#[test]
fn managed_fields_reset_by_writer() {
    let live = apply_ok(None, &deployment(json!({"replicas": 1})), "kubectl", T1);
    let mut reset = live.clone();
    reset["metadata"]["managedFields"] = json!([{}]);
    reset["metadata"]["uid"] = json!("u");
    let mut old = live.clone();
    old["metadata"]["uid"] = json!("u");
    let after = update_managed_fields(
        Some(&old),
        &reset,
        "ctl",
        Operation::Update,
        None,
        &BuiltinListMeta,
        T2,
    );
    assert!(after.pointer("/metadata/managedFields").is_none());
}
