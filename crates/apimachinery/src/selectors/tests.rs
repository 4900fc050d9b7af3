//! Cases from upstream's labels/fields selector tests and kubectl usage.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse_err(s: &str) -> String {
    LabelSelector::parse(s).unwrap_err().to_string()
}

#[test]
fn label_selector_valid_syntax() {
    for s in [
        "",
        "x=a,y=b,z=c",
        "x = a, y = b",
        "x==a",
        "x!=a",
        "x in (a,b)",
        "x notin ( a , b )",
        "x in (foo,,baz),y,z notin ()",
        "x",
        "!x",
        "x>1",
        "x<1",
        "in in (in)",
        "notin notin (notin)",
        "x=",
        "x= ,z= ",
        "example.com/app=web",
        "\tx\n=\ra",
    ] {
        assert!(LabelSelector::parse(s).is_ok(), "{s:?}");
    }
}

#[test]
fn label_selector_edge_syntax() {
    let good = [
        ("\rx", "x"),
        (
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)",
        ),
        ("x notin\n (abc)", "x notin (abc)"),
        ("x in (a,,,,,,)", "x in (,a)"),
        ("x in (a,,a,,a,,a,,)", "x in (,a)"),
        ("x notin (, a)", "x notin (,a)"),
        ("x notin ( )", "x notin ()"),
        ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),
        ("a ", "a"),
        ("x=,z= ", "x=,z="),
    ];
    for (input, want) in good {
        assert_eq!(
            LabelSelector::parse(input).unwrap().to_string(),
            want,
            "{input:?}"
        );
    }
    for bad in [
        "x=a||y=b",
        "x==a==b",
        "!x=a",
        "x<a",
        "x,,y",
        ",x,y",
        "x nott in (y)",
        "a in (xyz),",
        "a in (xyz)b notin ()",
        "a in (xyz abc)",
        "a notin(",
        "a (",
        "(",
    ] {
        assert!(LabelSelector::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn label_selector_canonical_string() {
    let cases = [
        ("", ""),
        ("x=a,y=b,z=c", "x=a,y=b,z=c"),
        ("z=c, x=a", "x=a,z=c"),
        ("x==a", "x==a"),
        ("x in (c,a,b)", "x in (a,b,c)"),
        ("x in (a,a)", "x in (a)"),
        ("x notin ()", "x notin ()"),
        (
            "x in (foo,,baz),y,z notin ()",
            "x in (,baz,foo),y,z notin ()",
        ),
        ("!x , y", "!x,y"),
        ("x>1,x<5", "x>1,x<5"),
        ("x=", "x="),
    ];
    for (input, want) in cases {
        assert_eq!(
            LabelSelector::parse(input).unwrap().to_string(),
            want,
            "{input:?}"
        );
    }
}

#[test]
fn label_selector_errors() {
    assert_eq!(
        parse_err("x y"),
        "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"
    );
    assert_eq!(
        parse_err("x=a,"),
        "found '', expected: identifier after ','"
    );
    assert_eq!(
        parse_err("x=a b"),
        "found 'b', expected: ',' or 'end of string'"
    );
    assert_eq!(
        parse_err("=a"),
        "found '=', expected: !, identifier, or 'end of string'"
    );
    assert_eq!(
        parse_err("x in a"),
        "unable to parse requirement: found 'a' expected: '('"
    );
    assert_eq!(
        parse_err("x in (a b)"),
        "unable to parse requirement: found 'b', expected: ',' or ')'"
    );
    assert_eq!(
        parse_err("x>a"),
        "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"
    );
    assert!(parse_err("a b/c=d").starts_with("unable to parse requirement: found 'b/c'"));
    assert!(
        parse_err("x/y/z=a").starts_with(
            "unable to parse requirement: <nil>: Invalid value: \"x/y/z\": a valid label key must consist of"
        ),
        "{}",
        parse_err("x/y/z=a")
    );
    assert!(
        parse_err("x=-bad").starts_with(
            "unable to parse requirement: values[0][x]: Invalid value: \"-bad\": a valid label must be an empty string"
        ),
        "{}",
        parse_err("x=-bad")
    );
    let long = format!("x={}", "a".repeat(64));
    assert!(parse_err(&long).contains("must be no more than 63 bytes"));
}

#[test]
fn label_selector_matching() {
    let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
    let yes = [
        "",
        "app=web",
        "app==web",
        "app!=db",
        "missing!=x",
        "app in (web,db)",
        "app notin (db)",
        "missing notin (db)",
        "app",
        "!missing",
        "n>4",
        "n<6",
        "app=web,tier=front",
    ];
    let no = [
        "app=db",
        "missing=x",
        "app in (db)",
        "app notin (web)",
        "missing",
        "!app",
        "n>5",
        "app<1",
        "missing>1",
        "app=web,tier=back",
    ];
    for s in yes {
        assert!(LabelSelector::parse(s).unwrap().matches(&l), "{s}");
    }
    for s in no {
        assert!(!LabelSelector::parse(s).unwrap().matches(&l), "{s}");
    }
    assert!(LabelSelector::parse("").unwrap().is_empty());
    assert!(!LabelSelector::parse("a").unwrap().is_empty());
}

#[test]
fn label_selector_roundtrip() {
    for s in [
        "x in (foo,,baz),y,z notin ()",
        "!a,b!=c,d==e,f>3",
        "in in (in,notin)",
    ] {
        let parsed = LabelSelector::parse(s).unwrap();
        let again = LabelSelector::parse(&parsed.to_string()).unwrap();
        assert_eq!(parsed, again);
    }
}

#[test]
fn metav1_selectors() {
    let sel = LabelSelector::from_metav1(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "back"]},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "app", "operator": "Exists"}
        ]
    }))
    .unwrap();
    assert_eq!(
        sel.to_string(),
        "app=web,app,!canary,env notin (prod),tier in (back,front)"
    );
    assert!(sel.matches(&labels(&[("app", "web"), ("tier", "front")])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "mid")])));

    let everything = LabelSelector::from_metav1(&json!({})).unwrap();
    assert!(everything.is_empty() && everything.matches(&labels(&[])));
    let nothing = LabelSelector::from_metav1(&json!(null)).unwrap();
    assert!(!nothing.is_empty() && !nothing.matches(&labels(&[])));
    assert_eq!(nothing.to_string(), "");
}

#[test]
fn selector_from_set() {
    let set = labels(&[("b", "2"), ("a", "1")]);
    let sel = LabelSelector::from_set(&set);
    assert_eq!(sel.to_string(), "a=1,b=2");
    assert!(sel.matches(&labels(&[("a", "1"), ("b", "2"), ("c", "3")])));
    assert!(!sel.matches(&labels(&[("a", "1")])));
    assert!(LabelSelector::from_set(&labels(&[])).is_empty());
}

#[test]
fn metav1_errors() {
    let err = |v| LabelSelector::from_metav1(&v).unwrap_err().to_string();
    assert_eq!(
        err(json!({"matchExpressions": [{"key": "a", "operator": "Equals"}]})),
        "\"Equals\" is not a valid label selector operator"
    );
    assert_eq!(
        err(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
        "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
    );
    assert_eq!(
        err(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})),
        "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
    );
    assert!(err(json!({"matchLabels": {"a b": "c"}})).starts_with("key: Invalid value: \"a b\""));
    assert!(err(json!({"matchLabels": {"a": 1}})).starts_with("json: cannot unmarshal number"));
    assert!(err(json!("x")).starts_with("json: cannot unmarshal string"));
}

#[test]
fn field_selector_parsing() {
    let sel = FieldSelector::parse("spec.nodeName=n1,status.phase!=Running").unwrap();
    assert_eq!(
        sel.fields().collect::<Vec<_>>(),
        ["spec.nodeName", "status.phase"]
    );
    assert_eq!(sel.to_string(), "spec.nodeName=n1,status.phase!=Running");
    assert_eq!(
        FieldSelector::parse("b==1,a=2").unwrap().to_string(),
        "a=2,b=1"
    );
    assert!(FieldSelector::parse("").unwrap().is_empty());
    assert!(FieldSelector::parse(",,").unwrap().is_empty());
    // An escaped comma and equals sign stay in the value.
    let sel = FieldSelector::parse(r"metadata.name=a\,b\=c\\d").unwrap();
    assert_eq!(sel.terms()[0].value, r"a,b=c\d");
    assert_eq!(sel.to_string(), r"metadata.name=a\,b\=c\\d");
    assert_eq!(sel.requires_exact_match("metadata.name"), Some(r"a,b=c\d"));
}

#[test]
fn field_selector_restrings_as_given() {
    for s in ["x=a,y=b,z=c", "", "x!=a,y=b", r"x=a||y\=b", r"x=a\=\=b"] {
        assert_eq!(FieldSelector::parse(s).unwrap().to_string(), s);
    }
    for bad in [
        "x=a||y=b",
        "x==a==b",
        "x=a,b",
        "x in (a)",
        "x in (a,b,c)",
        "x",
    ] {
        assert!(FieldSelector::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn field_selector_errors() {
    let err = |s| FieldSelector::parse(s).unwrap_err().to_string();
    assert_eq!(err("a"), "invalid selector: 'a'; can't understand 'a'");
    assert_eq!(
        err(r"a=b\c"),
        r"invalid field selector: invalid escape sequence: \c"
    );
    assert_eq!(
        err(r"a=b\"),
        r"invalid field selector: invalid escape sequence: \"
    );
    assert_eq!(
        err("a=b=c"),
        "invalid field selector: unescaped character in value: 61"
    );
}

#[test]
fn field_selector_matching() {
    let sel = FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed").unwrap();
    fn get(
        node: Option<&'static str>,
        phase: Option<&'static str>,
    ) -> impl Fn(&str) -> Option<String> {
        move |f: &str| match f {
            "spec.nodeName" => node.map(str::to_string),
            "status.phase" => phase.map(str::to_string),
            _ => None,
        }
    }
    assert!(sel.matches(get(Some("n1"), Some("Running"))));
    assert!(sel.matches(get(Some("n1"), None)));
    assert!(!sel.matches(get(Some("n2"), Some("Running"))));
    assert!(!sel.matches(get(Some("n1"), Some("Failed"))));
    // A missing field is "".
    assert!(
        FieldSelector::parse("spec.nodeName=")
            .unwrap()
            .matches(get(None, None))
    );
}

#[test]
fn selectable_fields() {
    let pod = json!({
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"nodeName": "n1", "restartPolicy": "Always"},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}], "podIP": "10.0.0.1"}
    });
    let f = |field| field_value("", "Pod", &pod, field).unwrap();
    assert_eq!(f("metadata.name").as_deref(), Some("p"));
    assert_eq!(f("metadata.namespace").as_deref(), Some("ns"));
    assert_eq!(f("spec.nodeName").as_deref(), Some("n1"));
    assert_eq!(f("spec.hostNetwork").as_deref(), Some("false"));
    assert_eq!(f("status.podIP").as_deref(), Some("10.0.0.1"));
    assert_eq!(f("spec.schedulerName"), None);
    assert_eq!(
        field_value("", "Pod", &pod, "spec.containers")
            .unwrap_err()
            .to_string(),
        "field label not supported: spec.containers"
    );

    let event = json!({
        "involvedObject": {"kind": "Pod", "name": "p", "uid": "u"},
        "reason": "Started", "type": "Normal", "reportingComponent": "kubelet"
    });
    assert_eq!(
        field_value("", "Event", &event, "involvedObject.kind")
            .unwrap()
            .as_deref(),
        Some("Pod")
    );
    assert_eq!(
        field_value("", "Event", &event, "source")
            .unwrap()
            .as_deref(),
        Some("kubelet")
    );
    let event_v1 =
        json!({"regarding": {"name": "p"}, "reportingController": "c", "type": "Warning"});
    for field in ["involvedObject.name", "regarding.name"] {
        assert_eq!(
            field_value("events.k8s.io", "Event", &event_v1, field)
                .unwrap()
                .as_deref(),
            Some("p")
        );
    }
    assert_eq!(
        field_value("events.k8s.io", "Event", &event_v1, "reportingComponent")
            .unwrap()
            .as_deref(),
        Some("c")
    );

    let job = json!({"status": {"succeeded": 3}});
    assert_eq!(
        field_value("batch", "Job", &job, "status.successful")
            .unwrap()
            .as_deref(),
        Some("3")
    );
    let rs = json!({});
    assert_eq!(
        field_value("apps", "ReplicaSet", &rs, "status.replicas")
            .unwrap()
            .as_deref(),
        Some("0")
    );
    let node = json!({"spec": {"unschedulable": true}});
    assert_eq!(
        field_value("", "Node", &node, "spec.unschedulable")
            .unwrap()
            .as_deref(),
        Some("true")
    );
    let svc = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1"}});
    assert_eq!(
        field_value("", "Service", &svc, "spec.type")
            .unwrap()
            .as_deref(),
        Some("ClusterIP")
    );
    assert_eq!(
        field_value("", "Secret", &json!({"type": "Opaque"}), "type")
            .unwrap()
            .as_deref(),
        Some("Opaque")
    );
    // Custom resources: only metadata fields.
    let cr = json!({"metadata": {"name": "w"}, "spec": {"size": 1}});
    assert_eq!(
        field_value("example.com", "Widget", &cr, "metadata.name")
            .unwrap()
            .as_deref(),
        Some("w")
    );
    assert!(field_value("example.com", "Widget", &cr, "spec.size").is_err());
}
