//! RFC 6902 appendix A, RFC 7386 appendix A, and strategic merge patches as kubectl
//! sends them.

use serde_json::{Value, json};

use super::*;

fn jp(doc: Value, patch: Value) -> Result<Value, PatchError> {
    json_patch(&doc, &patch)
}

#[test]
fn rfc6902_appendix_a() {
    let ok = [
        // A.1 - A.8, A.10, A.11, A.14, A.16
        (
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz", "value": "qux"}]),
            json!({"baz": "qux", "foo": "bar"}),
        ),
        (
            json!({"foo": ["bar", "baz"]}),
            json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
            json!({"foo": ["bar", "qux", "baz"]}),
        ),
        (
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "remove", "path": "/baz"}]),
            json!({"foo": "bar"}),
        ),
        (
            json!({"foo": ["bar", "qux", "baz"]}),
            json!([{"op": "remove", "path": "/foo/1"}]),
            json!({"foo": ["bar", "baz"]}),
        ),
        (
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
            json!({"baz": "boo", "foo": "bar"}),
        ),
        (
            json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
            json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
            json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
        ),
        (
            json!({"foo": ["all", "grass", "cows", "eat"]}),
            json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
            json!({"foo": ["all", "cows", "eat", "grass"]}),
        ),
        (
            json!({"baz": "qux", "foo": ["a", 2, "c"]}),
            json!([{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}]),
            json!({"baz": "qux", "foo": ["a", 2, "c"]}),
        ),
        (
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/child", "value": {"grandchild": {}}}]),
            json!({"foo": "bar", "child": {"grandchild": {}}}),
        ),
        (
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}]),
            json!({"foo": "bar", "baz": "qux"}),
        ),
        (
            json!({"/": 9, "~1": 10}),
            json!([{"op": "test", "path": "/~01", "value": 10}]),
            json!({"/": 9, "~1": 10}),
        ),
        (
            json!({"foo": ["bar"]}),
            json!([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]),
            json!({"foo": ["bar", ["abc", "def"]]}),
        ),
        // copy, escaped slash, whole-document replace, numeric equality in test
        (
            json!({"a": {"b": 1}}),
            json!([{"op": "copy", "from": "/a", "path": "/c"}]),
            json!({"a": {"b": 1}, "c": {"b": 1}}),
        ),
        (
            json!({}),
            json!([{"op": "add", "path": "/a~1b", "value": 1}]),
            json!({"a/b": 1}),
        ),
        (
            json!({"a": 1}),
            json!([{"op": "replace", "path": "", "value": [1]}]),
            json!([1]),
        ),
        (
            json!({"a": 1}),
            json!([{"op": "test", "path": "/a", "value": 1.0}]),
            json!({"a": 1}),
        ),
        (json!({"a": 1}), json!(null), json!({"a": 1})),
    ];
    for (doc, patch, want) in ok {
        assert_eq!(jp(doc, patch.clone()).unwrap(), want, "{patch}");
    }
}

#[test]
fn json_patch_errors() {
    let err = |doc: Value, patch: Value| jp(doc, patch).unwrap_err().to_string();
    // A.9, A.12, A.15
    assert_eq!(
        err(
            json!({"baz": "qux"}),
            json!([{"op": "test", "path": "/baz", "value": "bar"}])
        ),
        "testing value /baz failed: test failed"
    );
    assert_eq!(
        err(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz/bat", "value": "qux"}])
        ),
        "add operation does not apply: doc is missing path: \"/baz/bat\": missing value"
    );
    assert_eq!(
        err(
            json!({"/": 9, "~1": 10}),
            json!([{"op": "test", "path": "/~01", "value": "10"}])
        ),
        "testing value /~01 failed: test failed"
    );
    assert_eq!(
        err(
            json!({"a": [1]}),
            json!([{"op": "add", "path": "/a/5", "value": 1}])
        ),
        "error in add for path: '/a/5': Unable to access invalid index: 5: invalid index referenced"
    );
    assert_eq!(
        err(json!({}), json!([{"op": "remove", "path": "/x"}])),
        "error in remove for path: '/x': Unable to remove nonexistent key: x: missing value"
    );
    assert_eq!(
        err(
            json!({}),
            json!([{"op": "replace", "path": "/x", "value": 1}])
        ),
        "replace operation does not apply: doc is missing key: /x: missing value"
    );
    assert_eq!(
        err(json!({}), json!([{"op": "frob", "path": "/x"}])),
        "Unexpected kind: frob"
    );
    assert_eq!(
        err(json!({}), json!([{"path": "/x"}])),
        "Unexpected kind: unknown"
    );
    assert!(
        err(
            json!({"a": {}}),
            json!([{"op": "move", "from": "/a", "path": "/a/b"}])
        )
        .contains("own child")
    );
    assert!(
        err(
            json!({"a": [1]}),
            json!([{"op": "add", "path": "/a/01", "value": 1}])
        )
        .contains("invalid index")
    );
    assert!(matches!(
        jp(json!({}), json!({"op": "add"})),
        Err(PatchError::InvalidJsonPatch(_))
    ));
    assert!(matches!(
        jp(json!({}), json!([1])),
        Err(PatchError::InvalidJsonPatch(_))
    ));
    // A failed patch leaves nothing half-applied: the caller's document is untouched.
    let doc = json!({"a": 1});
    assert!(json_patch(&doc, &json!([{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 2}])).is_err());
    assert_eq!(doc, json!({"a": 1}));
}

#[test]
fn json_patch_copy_limit() {
    // Each copy doubles the document; upstream caps what copies may add.
    let mut ops = vec![json!({"op": "add", "path": "/a", "value": "x".repeat(1000)})];
    for i in 0..20 {
        ops.push(json!({"op": "copy", "from": "", "path": format!("/c{i}")}));
    }
    assert!(matches!(
        jp(json!({}), Value::Array(ops)),
        Err(PatchError::CopySizeExceeded { .. })
    ));
    let too_many = Value::Array(vec![
        json!({"op": "test", "path": "", "value": {}});
        MAX_OPERATIONS + 1
    ]);
    assert!(matches!(
        jp(json!({}), too_many),
        Err(PatchError::TooManyOperations { .. })
    ));
}

#[test]
fn rfc7386_appendix_a() {
    let cases = [
        (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
        (
            json!({"a": "b"}),
            json!({"b": "c"}),
            json!({"a": "b", "b": "c"}),
        ),
        (json!({"a": "b"}), json!({"a": null}), json!({})),
        (
            json!({"a": "b", "b": "c"}),
            json!({"a": null}),
            json!({"b": "c"}),
        ),
        (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
        (
            json!({"a": {"b": "c"}}),
            json!({"a": {"b": "d", "c": null}}),
            json!({"a": {"b": "d"}}),
        ),
        (
            json!({"a": [{"b": "c"}]}),
            json!({"a": [1]}),
            json!({"a": [1]}),
        ),
        (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
        (json!({"a": "b"}), json!(["c"]), json!(["c"])),
        (json!({"a": "foo"}), json!(null), json!(null)),
        (json!({"a": "foo"}), json!("bar"), json!("bar")),
        (
            json!({"e": null}),
            json!({"a": 1}),
            json!({"e": null, "a": 1}),
        ),
        (
            json!([1, 2]),
            json!({"a": "b", "c": null}),
            json!({"a": "b"}),
        ),
        (
            json!({}),
            json!({"a": {"bb": {"ccc": null}}}),
            json!({"a": {"bb": {}}}),
        ),
    ];
    for (doc, patch, want) in cases {
        assert_eq!(merge_patch(&doc, &patch), want, "{doc} + {patch}");
    }
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "finalizers": ["a", "b", "c"]},
        "spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.14",
                            "ports": [{"containerPort": 80}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
                        },
                        {"name": "sidecar", "image": "busybox"}
                    ],
                    "tolerations": [{"key": "old", "operator": "Exists"}],
                    "volumes": [{"name": "data", "emptyDir": {}}]
                }
            }
        }
    })
}

fn smp(doc: &Value, patch: Value) -> Value {
    strategic_merge_patch(doc, &patch, &BuiltinPatchMeta::new("apps", "Deployment")).unwrap()
}

#[test]
fn smp_container_image_by_name() {
    // kubectl set image / kubectl patch -p '{"spec":{"template":{"spec":{"containers":[...]}}}}'
    let out = smp(
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.16"}]}}}}),
    );
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["name"], "nginx");
    assert_eq!(containers[0]["image"], "nginx:1.16");
    assert_eq!(containers[0]["ports"], json!([{"containerPort": 80}]));
    assert_eq!(
        containers[1],
        json!({"name": "sidecar", "image": "busybox"})
    );
}

#[test]
fn smp_new_container_and_nested_lists() {
    let out = smp(
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "nginx", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}], "ports": [{"containerPort": 443}]},
            {"name": "logger", "image": "fluentd"}
        ]}}}}),
    );
    let containers = out["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nginx", "logger", "sidecar"]);
    assert_eq!(
        containers[0]["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}])
    );
    assert_eq!(
        containers[0]["ports"],
        json!([{"containerPort": 443}, {"containerPort": 80}])
    );
}

#[test]
fn smp_tolerations_are_replaced() {
    // PodSpec.Tolerations has no patchStrategy: adding one replaces the list.
    let out = smp(
        &deployment(),
        json!({"spec": {"template": {"spec": {"tolerations": [{"key": "new", "operator": "Exists", "effect": "NoSchedule"}]}}}}),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "new", "operator": "Exists", "effect": "NoSchedule"}])
    );
}

#[test]
fn smp_delete_container_and_replace_directives() {
    let out = smp(
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}),
    );
    let containers = out["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "nginx");

    // `$patch: replace` in a list replaces the whole list.
    let out = smp(
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}}}),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "only", "image": "x"}])
    );

    // `$patch: replace` on a map replaces the map; `$patch: delete` empties it.
    let out = smp(
        &deployment(),
        json!({"metadata": {"labels": {"$patch": "replace", "new": "1"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"new": "1"}));
    let out = smp(
        &deployment(),
        json!({"spec": {"strategy": {"$patch": "delete"}}}),
    );
    assert_eq!(out["spec"]["strategy"], json!({}));
}

#[test]
fn smp_null_deletes_and_retain_keys() {
    let out = smp(
        &deployment(),
        json!({"metadata": {"labels": {"tier": null, "new": "x"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"app": "web", "new": "x"}));

    // kubectl apply switching the strategy to Recreate.
    let out = smp(
        &deployment(),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}}),
    );
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));

    let err = strategic_merge_patch(
        &deployment(),
        &json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}}),
        &BuiltinPatchMeta::new("apps", "Deployment"),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "invalid patch format of retainKeys");
}

#[test]
fn smp_primitive_lists() {
    let out = smp(
        &deployment(),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "c"]));
    // Merged primitive lists are unioned; patch values come first when the live list
    // does not know them (upstream's ordering).
    let out = smp(
        &deployment(),
        json!({"metadata": {"finalizers": ["d", "a"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["d", "a", "b", "c"]));
}

#[test]
fn smp_set_element_order() {
    let doc = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "a", "image": "1"}, {"name": "b", "image": "1"}, {"name": "c", "image": "1"}
    ]}}}});
    let out = smp(
        &doc,
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "2"}]
        }}}}),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "c", "image": "1"}, {"name": "a", "image": "2"}, {"name": "b", "image": "1"}])
    );
    let err = strategic_merge_patch(
        &doc,
        &json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a"}, {"name": "b"}]
        }}}}),
        &BuiltinPatchMeta::new("apps", "Deployment"),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("The order in patch list:"),
        "{err}"
    );
}

#[test]
fn smp_service_ports_and_owner_references() {
    let svc = json!({
        "metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}
    });
    let out = strategic_merge_patch(
        &svc,
        &json!({
            "metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]},
            "spec": {"ports": [{"port": 80, "targetPort": 9090}]}
        }),
        &BuiltinPatchMeta::new("", "Service"),
    )
    .unwrap();
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
    );
    assert_eq!(
        out["metadata"]["ownerReferences"],
        json!([{"uid": "2", "name": "b"}, {"uid": "1", "name": "a"}])
    );
}

#[test]
fn smp_directives_never_leak_into_objects() {
    // Lists without a merge strategy are replaced as sent; upstream's typed decoding
    // drops the directive keys, and so do we.
    let out = smp(
        &deployment(),
        json!({"spec": {"template": {"spec": {"tolerations": [{"key": "k", "$patch": "delete"}]}}}}),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "k"}])
    );
    // New fields carrying a `$patch` map are dropped.
    let out = smp(
        &deployment(),
        json!({"spec": {"paused": true, "minReadySeconds": {"$patch": "delete"}}}),
    );
    assert_eq!(out["spec"]["paused"], true);
    assert!(out["spec"].get("minReadySeconds").is_none());
}

#[test]
fn smp_errors() {
    let meta = BuiltinPatchMeta::new("apps", "Deployment");
    let err = |patch: Value| {
        strategic_merge_patch(&deployment(), &patch, &meta)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})),
        "map: map[image:x] does not contain declared merge key: name"
    );
    assert_eq!(
        err(json!({"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}})),
        "merging lists cannot yet be specified in the patch"
    );
    assert_eq!(
        err(json!({"metadata": {"labels": {"$patch": "frob"}}})),
        "unknown patch type: frob in map: map[$patch:frob]"
    );
    assert_eq!(
        err(json!({"metadata": {"finalizers": [1]}})),
        "list element types are not identical: [[a b c] [1]]"
    );
    assert_eq!(
        strategic_merge_patch(&json!([]), &json!({}), &meta)
            .unwrap_err()
            .to_string(),
        "invalid JSON document"
    );
    let cr = BuiltinPatchMeta::new("example.com", "Widget");
    assert!(!cr.is_known());
    assert_eq!(
        strategic_merge_patch(&json!({}), &json!({}), &cr),
        Err(PatchError::StrategicMergePatchUnsupported)
    );
}
