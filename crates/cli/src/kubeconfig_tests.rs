use serde_json::json;

use super::*;

fn cluster(status: &str) -> Cluster {
    Cluster::from_answer(json!({"cluster": {
        "name": "c1",
        "arn": "arn:aws:eks:eu-west-1:123456789012:cluster/c1",
        "status": status,
        "endpoint": "https://127.0.0.1:7443",
        "certificateAuthority": {"data": "Q0EgUEVN"},
    }}))
    .unwrap()
}

const ARN: &str = "arn:aws:eks:eu-west-1:123456789012:cluster/c1";

fn entry() -> Entry {
    Entry::for_cluster(&cluster("ACTIVE"), "/opt/keelson", Vec::new()).unwrap()
}

#[test]
fn entries_are_named_after_the_arn_and_run_keelson_get_token() {
    let entry = entry();
    assert_eq!(entry.name, ARN);
    assert_eq!(
        entry.args,
        ["get-token", "--cluster-name", "c1", "--region", "eu-west-1"]
    );
    let env = vec![("AWS_PROFILE".to_string(), "ops".to_string())];
    let with_profile =
        Entry::for_cluster(&cluster("UPDATING"), "/opt/keelson", env.clone()).unwrap();
    assert_eq!(with_profile.env, env);
    let merged = merge(Value::Null, &with_profile, true).unwrap();
    assert_eq!(
        merged["users"][0]["user"]["exec"]["env"],
        serde_yaml::from_str::<Value>("[{name: AWS_PROFILE, value: ops}]").unwrap()
    );
    let creating =
        Entry::for_cluster(&cluster("CREATING"), "/opt/keelson", Vec::new()).unwrap_err();
    assert!(creating.to_string().contains("is CREATING"), "{creating}");
}

#[test]
fn a_new_file_has_what_aws_eks_update_kubeconfig_writes() {
    let merged = merge(Value::Null, &entry(), true).unwrap();
    let expected: Value = serde_yaml::from_str(&format!(
        r#"
apiVersion: v1
kind: Config
preferences: {{}}
clusters:
- name: {ARN}
  cluster: {{certificate-authority-data: Q0EgUEVN, server: "https://127.0.0.1:7443"}}
contexts:
- name: {ARN}
  context: {{cluster: {ARN}, user: {ARN}}}
users:
- name: {ARN}
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args: [get-token, --cluster-name, c1, --region, eu-west-1]
      command: /opt/keelson
current-context: {ARN}
"#
    ))
    .unwrap();
    assert_eq!(merged, expected);
}

const OTHER: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: kind-dev
  cluster: {server: "https://10.0.0.1:6443"}
contexts:
- name: kind-dev
  context: {cluster: kind-dev, user: kind-dev}
users:
- name: kind-dev
  user: {token: abc}
current-context: kind-dev
preferences: {colors: true}
"#;

#[test]
fn merging_keeps_other_entries_and_replaces_our_own() {
    let existing: Value = serde_yaml::from_str(OTHER).unwrap();
    let once = merge(existing, &entry(), true).unwrap();
    for list in ["clusters", "contexts", "users"] {
        let names: Vec<&str> = once[list]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|item| item["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["kind-dev", ARN], "{list}");
    }
    assert_eq!(once["current-context"], ARN);
    assert_eq!(once["users"][0]["user"]["token"], "abc");
    assert_eq!(once["preferences"]["colors"], true);

    let mut moved = entry();
    moved.server = "https://127.0.0.1:9443".into();
    let twice = merge(once, &moved, false).unwrap();
    assert_eq!(twice["clusters"].as_sequence().unwrap().len(), 2);
    assert_eq!(
        twice["clusters"][1]["cluster"]["server"],
        "https://127.0.0.1:9443"
    );
    assert_eq!(twice["current-context"], ARN, "left as it was");

    let not_set = merge(serde_yaml::from_str(OTHER).unwrap(), &entry(), false).unwrap();
    assert_eq!(not_set["current-context"], "kind-dev");
    assert!(merge(Value::Sequence(vec![]), &entry(), true).is_err());
}

#[test]
fn files_are_merged_in_place() {
    let dir = std::env::temp_dir().join(format!("keelson-kubeconfig-{}", std::process::id()));
    let file = dir.join("nested").join("config");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, OTHER).unwrap();
    write(&file, &entry(), true).unwrap();
    let written: Value = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["contexts"].as_sequence().unwrap().len(), 2);
    assert_eq!(written["current-context"], ARN);
    let fresh = dir.join("fresh").join("config");
    write(&fresh, &entry(), true).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    std::fs::write(&file, "- a list").unwrap();
    assert!(write(&file, &entry(), true).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_path_follows_flag_then_kubeconfig_then_home() {
    let env = |name: &str| match name {
        "KUBECONFIG" => Some(":/a/first:/b/second".to_string()),
        "HOME" => Some("/home/me".to_string()),
        _ => None,
    };
    assert_eq!(
        path(Some(Path::new("/flag")), &env).unwrap(),
        PathBuf::from("/flag")
    );
    assert_eq!(path(None, &env).unwrap(), PathBuf::from("/a/first"));
    let home_only = |name: &str| (name == "HOME").then(|| "/home/me".to_string());
    assert_eq!(
        path(None, &home_only).unwrap(),
        PathBuf::from("/home/me/.kube/config")
    );
}
