//! Structural defaulting, pruning and validation of custom resources.

use keelson_openapi::schema::{ValidationError, apply_defaults, prune, validate};
use serde_json::{Value, json};

fn crontab_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["cronSpec"],
                "properties": {
                    "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
                    "image": {"type": "string", "maxLength": 10},
                    "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                    "policy": {"type": "string", "enum": ["Allow", "Forbid"], "default": "Allow"},
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "properties": {
                            "name": {"type": "string"},
                            "port": {"type": "integer", "format": "int32", "default": 80}
                        }}
                    },
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                              "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                 "properties": {"spec": {"type": "object"}}},
                    "size": {"x-kubernetes-int-or-string": true},
                    "at": {"type": "string", "format": "date-time"},
                    "note": {"type": "string", "nullable": true}
                }
            },
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
        }
    })
}

fn reasons(errors: &[ValidationError]) -> Vec<(&str, &str, &str)> {
    errors
        .iter()
        .map(|e| (e.reason.as_str(), e.field.as_str(), e.message.as_str()))
        .collect()
}

#[test]
fn defaults_fill_missing_fields_recursively() {
    let mut obj = json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
        "spec": {"cronSpec": "* * * * *", "replicas": 3, "ports": [{"name": "http"}, {"name": "x", "port": 8080}]}});
    apply_defaults(&crontab_schema(), &mut obj);
    assert_eq!(obj["spec"]["replicas"], 3);
    assert_eq!(obj["spec"]["policy"], "Allow");
    assert_eq!(
        obj["spec"]["ports"],
        json!([{"name": "http", "port": 80}, {"name": "x", "port": 8080}])
    );
    // A null in a non-nullable field is replaced by the default.
    let mut obj = json!({"spec": {"replicas": null}});
    apply_defaults(&crontab_schema(), &mut obj);
    assert_eq!(obj["spec"]["replicas"], 1);
    // Defaults apply inside defaulted objects too.
    let schema = json!({"type": "object", "properties": {"a": {"type": "object", "default": {},
        "properties": {"b": {"type": "string", "default": "x"}}}}});
    let mut obj = json!({});
    apply_defaults(&schema, &mut obj);
    assert_eq!(obj, json!({"a": {"b": "x"}}));
    // Into additionalProperties.
    let schema = json!({"type": "object", "additionalProperties": {"type": "object",
        "properties": {"n": {"type": "integer", "default": 5}}}});
    let mut obj = json!({"k": {}});
    apply_defaults(&schema, &mut obj);
    assert_eq!(obj, json!({"k": {"n": 5}}));
}

#[test]
fn pruning_removes_unknown_fields_and_reports_their_paths() {
    let mut obj = json!({
        "apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "x"},
        "spec": {
            "cronSpec": "* * * * *", "foo": 1,
            "ports": [{"name": "a", "bogus": true}],
            "labels": {"free": "form"},
            "extra": {"anything": {"goes": 1}, "known": {"a": "b", "dropped": 1}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}, "junk": 1}
        },
        "topLevel": 1
    });
    let pruned = prune(&crontab_schema(), &mut obj);
    assert_eq!(
        pruned,
        [
            "spec.extra.known.dropped",
            "spec.foo",
            "spec.ports[0].bogus",
            "spec.template.junk",
            "topLevel"
        ]
    );
    assert_eq!(obj["metadata"], json!({"name": "x"}));
    assert_eq!(obj["apiVersion"], "stable.example.com/v1");
    assert!(obj["spec"].get("foo").is_none());
    assert_eq!(obj["spec"]["extra"]["anything"], json!({"goes": 1}));
    assert_eq!(obj["spec"]["template"]["kind"], "Pod");
    assert_eq!(obj["spec"]["labels"], json!({"free": "form"}));
}

#[test]
fn validation_reports_types_with_upstream_messages() {
    let obj = json!({"spec": {"cronSpec": "* * * * *", "replicas": "string"}});
    assert_eq!(
        reasons(&validate(&crontab_schema(), &obj)),
        [(
            "FieldValueTypeInvalid",
            "spec.replicas",
            "Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""
        )]
    );
}

#[test]
fn validation_reports_required_enum_bounds_and_lengths() {
    let obj = json!({"spec": {"replicas": 0, "policy": "Sometimes", "image": "a-very-long-image"}});
    let errors = validate(&crontab_schema(), &obj);
    let got = reasons(&errors);
    assert!(
        got.contains(&("FieldValueRequired", "spec.cronSpec", "Required value")),
        "{got:?}"
    );
    assert!(got.contains(&(
        "FieldValueNotSupported",
        "spec.policy",
        "Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\""
    )));
    assert!(got.contains(&(
        "FieldValueInvalid",
        "spec.replicas",
        "Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
    )));
    assert!(got.contains(&(
        "FieldValueTooLong",
        "spec.image",
        "Too long: may not be more than 10 bytes"
    )));
    assert_eq!(errors.len(), 4);

    let obj = json!({"spec": {"cronSpec": "not a cron", "replicas": 11}});
    let got = validate(&crontab_schema(), &obj);
    let schema = crontab_schema();
    let pattern = schema
        .pointer("/properties/spec/properties/cronSpec/pattern")
        .and_then(Value::as_str)
        .unwrap();
    assert_eq!(
        got[0].message,
        format!("Invalid value: \"not a cron\": spec.cronSpec in body should match '{pattern}'")
    );
    assert_eq!(
        got[1].message,
        "Invalid value: 11: spec.replicas in body should be less than or equal to 10"
    );
}

#[test]
fn validation_of_lists_formats_nullable_and_int_or_string() {
    let obj = json!({"spec": {
        "cronSpec": "* * * * *",
        "ports": [{"name": "a"}, {"name": "a", "port": 1}],
        "tags": ["x", "y", "x"],
        "size": true,
        "at": "yesterday",
        "note": null
    }});
    let got = validate(&crontab_schema(), &obj);
    let got = reasons(&got);
    assert!(
        got.contains(&(
            "FieldValueDuplicate",
            "spec.ports[1]",
            "Duplicate value: {\"name\":\"a\"}"
        )),
        "{got:?}"
    );
    assert!(got.contains(&(
        "FieldValueDuplicate",
        "spec.tags[2]",
        "Duplicate value: \"x\""
    )));
    assert!(got.contains(&(
        "FieldValueTypeInvalid",
        "spec.size",
        "Invalid value: true: spec.size in body must be of type integer,string: \"boolean\""
    )));
    assert!(got.contains(&(
        "FieldValueTypeInvalid",
        "spec.at",
        "Invalid value: \"yesterday\": spec.at in body must be of type date-time: \"yesterday\""
    )));
    assert_eq!(got.len(), 4);
    let ok = json!({"spec": {"cronSpec": "*/5 * * * *", "size": "50%", "at": "2024-01-02T03:04:05Z", "note": null}});
    assert!(validate(&crontab_schema(), &ok).is_empty());
    let ok = json!({"spec": {"cronSpec": "* * * * *", "size": 3, "at": "2024-01-02T03:04:05.123+01:00"}});
    assert!(validate(&crontab_schema(), &ok).is_empty());
}

#[test]
fn validation_of_composition_and_counts() {
    let schema = json!({"type": "object", "properties": {
        "one": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "any": {"anyOf": [{"minimum": 5}, {"maximum": 1}]},
        "all": {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 3}]},
        "not": {"type": "string", "not": {"enum": ["forbidden"]}},
        "items": {"type": "array", "minItems": 1, "maxItems": 2},
        "props": {"type": "object", "maxProperties": 1}
    }});
    let obj = json!({"one": true, "any": 3, "all": 4, "not": "forbidden", "items": [1, 2, 3], "props": {"a": 1, "b": 2}});
    let got = validate(&schema, &obj);
    let got = reasons(&got);
    assert!(
        got.contains(&(
            "FieldValueInvalid",
            "one",
            "Invalid value: true: one in body must validate one and only one schema (oneOf)"
        )),
        "{got:?}"
    );
    assert!(got.contains(&(
        "FieldValueInvalid",
        "any",
        "Invalid value: 3: any in body must validate at least one schema (anyOf)"
    )));
    assert!(got.contains(&(
        "FieldValueInvalid",
        "all",
        "Invalid value: 4: all in body should be less than or equal to 3"
    )));
    assert!(got.contains(&(
        "FieldValueInvalid",
        "not",
        "Invalid value: \"forbidden\": not in body should not validate the schema (not)"
    )));
    assert!(got.contains(&(
        "FieldValueTooMany",
        "items",
        "Too many: 3: must have at most 2 items"
    )));
    assert!(got.contains(&(
        "FieldValueTooMany",
        "props",
        "Too many: 2: must have at most 1 items"
    )));
    assert_eq!(got.len(), 6);
    let got = validate(&schema, &json!({"items": []}));
    assert_eq!(
        reasons(&got),
        [(
            "FieldValueInvalid",
            "items",
            "Invalid value: []: items in body should have at least 1 items"
        )]
    );
}

#[test]
fn embedded_resources_need_api_version_and_kind() {
    let schema = json!({"type": "object", "properties": {"template": {"type": "object",
        "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}});
    let got = validate(
        &schema,
        &json!({"template": {"apiVersion": "v1", "metadata": {}}}),
    );
    assert_eq!(
        reasons(&got),
        [(
            "FieldValueRequired",
            "template.kind",
            "Required value: must not be empty"
        )]
    );
    assert!(
        validate(
            &schema,
            &json!({"template": {"apiVersion": "v1", "kind": "Pod"}})
        )
        .is_empty()
    );
}
