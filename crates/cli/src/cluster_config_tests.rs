use super::*;

const FULL: &str = r#"
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: prod
  region: eu-west-1
  version: "1.32"
  tags: {team: infra}
vpc:
  subnets:
    private:
      eu-west-1a: {id: subnet-a}
      eu-west-1b: {id: subnet-b}
    public:
      eu-west-1a: {id: subnet-c}
  clusterEndpoints: {publicAccess: true, privateAccess: true}
  publicAccessCIDRs: [203.0.113.0/24]
kubernetesNetworkConfig:
  ipFamily: IPv4
  serviceIPv4CIDR: 172.20.0.0/16
iam:
  withOIDC: true
accessConfig:
  authenticationMode: API
  bootstrapClusterCreatorAdminPermissions: true
cloudWatch:
  clusterLogging:
    enableTypes: ["*"]
managedNodeGroups: []
"#;

fn parse(text: &str) -> Result<ClusterConfig, String> {
    ClusterConfig::parse("cluster.yaml", text).map_err(|e| e.to_string())
}

#[test]
fn a_full_config_becomes_the_create_cluster_request_eksctl_would_make() {
    let config = parse(FULL).unwrap();
    assert_eq!(config.name(), "prod");
    assert_eq!(config.metadata.region.as_deref(), Some("eu-west-1"));
    assert_eq!(config.iam.with_oidc, Some(true));
    let request = config.create_cluster_request("123456789012", "token-1");
    assert_eq!(
        request,
        json!({
            "name": "prod",
            "version": "1.32",
            "roleArn": "arn:aws:iam::123456789012:role/eksctl-prod-cluster-ServiceRole",
            "clientRequestToken": "token-1",
            "tags": {"team": "infra"},
            "resourcesVpcConfig": {
                "subnetIds": ["subnet-a", "subnet-b", "subnet-c"],
                "endpointPublicAccess": true,
                "endpointPrivateAccess": true,
                "publicAccessCidrs": ["203.0.113.0/24"],
            },
            "kubernetesNetworkConfig": {"ipFamily": "ipv4", "serviceIpv4Cidr": "172.20.0.0/16"},
            "accessConfig": {
                "authenticationMode": "API",
                "bootstrapClusterCreatorAdminPermissions": true,
            },
            "logging": {"clusterLogging": [{
                "types": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
                "enabled": true,
            }]},
        })
    );
}

#[test]
fn a_minimal_config_gets_placeholder_subnets_and_a_given_role_is_kept() {
    let config = parse(
        "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: tiny}\niam: {serviceRoleARN: 'arn:aws:iam::1:role/mine'}\n",
    )
    .unwrap();
    let request = config.create_cluster_request("999", "t");
    assert_eq!(request["roleArn"], "arn:aws:iam::1:role/mine");
    assert_eq!(
        request["resourcesVpcConfig"],
        json!({"subnetIds": PLACEHOLDER_SUBNETS})
    );
    for absent in [
        "version",
        "tags",
        "accessConfig",
        "logging",
        "kubernetesNetworkConfig",
    ] {
        assert!(
            request.get(absent).is_none(),
            "{absent} should be left to the service"
        );
    }
}

#[test]
fn the_kind_and_api_version_must_be_eksctls() {
    let wrong_kind =
        parse("apiVersion: eksctl.io/v1alpha5\nkind: NodeGroup\nmetadata: {name: x}\n");
    assert_eq!(
        wrong_kind.unwrap_err(),
        "cluster.yaml: kind is \"NodeGroup\", expected ClusterConfig"
    );
    let no_version = parse("kind: ClusterConfig\nmetadata: {name: x}\n");
    assert!(
        no_version
            .unwrap_err()
            .contains("apiVersion is missing, expected eksctl.io/v1alpha5")
    );
    assert!(parse("- not\n- a map\n").is_err());
    assert!(
        parse("apiVersion: [unclosed")
            .unwrap_err()
            .contains("not valid YAML")
    );
}

#[test]
fn managed_node_groups_are_refused_by_name() {
    let text = format!(
        "{}managedNodeGroups:\n  - name: ng-1\n    instanceType: m5.large\n    desiredCapacity: 2\n",
        FULL.replace("managedNodeGroups: []\n", "")
    );
    let error = parse(&text).unwrap_err();
    assert!(
        error.starts_with("cluster.yaml: managedNodeGroups is not supported: create cluster does not make managed node groups yet"),
        "{error}"
    );
}

#[test]
fn other_unsupported_and_unknown_fields_are_named() {
    let base = "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: x}\n";
    let addons = parse(&format!("{base}addons: [{{name: vpc-cni}}]\n")).unwrap_err();
    assert!(
        addons.starts_with("cluster.yaml: addons is not supported"),
        "{addons}"
    );
    let entries = parse(&format!(
        "{base}accessConfig:\n  authenticationMode: CONFIG_MAP\n  accessEntries: [{{principalARN: 'arn:aws:iam::1:role/r'}}]\n"
    ))
    .unwrap_err();
    assert!(
        entries.contains("need accessConfig.authenticationMode API"),
        "{entries}"
    );
    let accounts = parse(&format!(
        "{base}iam:\n  serviceAccounts: [{{metadata: {{name: s}}}}]\n"
    ))
    .unwrap_err();
    assert!(
        accounts.contains("iam.serviceAccounts is not supported"),
        "{accounts}"
    );
    let typo = parse(&format!("{base}metdata: {{}}\n")).unwrap_err();
    assert_eq!(typo, "cluster.yaml: unknown field \"metdata\"");
    let nested = parse(&format!("{base}iam: {{withOIDCC: true}}\n")).unwrap_err();
    assert!(nested.contains("withOIDCC"), "{nested}");
    let ipv6 = parse(&format!(
        "{base}kubernetesNetworkConfig: {{ipFamily: IPv6}}\n"
    ))
    .unwrap_err();
    assert!(ipv6.contains("ipFamily IPv6 is not supported"), "{ipv6}");
}

#[test]
fn the_name_is_required_and_an_unquoted_version_keeps_its_digits() {
    let missing = parse(
        "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {region: us-east-1}\n",
    );
    assert_eq!(
        missing.unwrap_err(),
        "cluster.yaml: metadata.name is required"
    );
    let no_metadata = parse("apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\n");
    assert_eq!(
        no_metadata.unwrap_err(),
        "cluster.yaml: metadata.name is required"
    );
    let float = parse(
        "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: x, version: 1.30}\n",
    );
    // Read as written, not as the number 1.3.
    assert_eq!(float.unwrap().metadata.version.as_deref(), Some("1.30"));
    let list = parse(
        "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: x, version: [1]}\n",
    );
    let list = list.unwrap_err();
    assert!(list.contains("metadata.version"), "{list}");
}

#[test]
fn access_entries_become_create_and_associate_requests() {
    let config = parse(
        r#"
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: shared}
accessConfig:
  authenticationMode: API
  accessEntries:
    - principalARN: arn:aws:iam::1:role/dev
      kubernetesGroups: [devs]
      kubernetesUsername: dev-user
      accessPolicies:
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
          accessScope: {type: namespace, namespaces: [dev-*]}
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy
          accessScope: {type: cluster}
    - principalARN: arn:aws:iam::1:user/bare
      type: STANDARD
"#,
    )
    .unwrap();
    let requests = config.access_entry_requests();
    assert_eq!(
        requests,
        [
            AccessEntryRequests {
                principal_arn: "arn:aws:iam::1:role/dev".into(),
                create: json!({
                    "principalArn": "arn:aws:iam::1:role/dev",
                    "kubernetesGroups": ["devs"],
                    "username": "dev-user",
                }),
                associate: vec![
                    json!({
                        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                        "accessScope": {"type": "namespace", "namespaces": ["dev-*"]},
                    }),
                    json!({
                        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy",
                        "accessScope": {"type": "cluster"},
                    }),
                ],
            },
            AccessEntryRequests {
                principal_arn: "arn:aws:iam::1:user/bare".into(),
                create: json!({"principalArn": "arn:aws:iam::1:user/bare", "type": "STANDARD"}),
                associate: vec![],
            },
        ]
    );
    let typo = parse(
        "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: x}\naccessConfig:\n  accessEntries: [{principalArn: 'arn:aws:iam::1:role/r'}]\n",
    )
    .unwrap_err();
    assert!(typo.contains("principalArn"), "{typo}");
}
