//! The API contract against real control planes: validation errors, duplicates, idempotent
//! retries, pagination, authorisation, tags, version and configuration updates, and access
//! entries with the auth config file they publish.

mod common;

use std::time::Duration;

use common::{ACCOUNT, Harness, alice, call_as, create_body, kube_client};
use k8s_openapi::api::core::v1::ConfigMap;
use keelson_aws_core::access::{AuthenticationMode, ClusterAuthConfig};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

fn assert_error(response: &(u16, Value), status: u16, code: &str, fragment: &str) {
    let (got, body) = response;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["__code"], code, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_duplicates_idempotency_pagination_authorisation_and_tags() -> anyhow::Result<()>
{
    let harness = Harness::start().await?;
    let mut bad = create_body("bad.name", "1.33");
    assert_error(
        &harness.call("POST", "/clusters", Some(bad.clone())).await,
        400,
        "InvalidParameterException",
        "name",
    );
    bad = create_body("c", "1.30");
    assert_error(
        &harness.call("POST", "/clusters", Some(bad)).await,
        400,
        "InvalidParameterException",
        "version",
    );
    bad = create_body("c", "1.33");
    bad["kubernetesNetworkConfig"] = json!({"serviceIpv4Cidr": "10.100.0.0/33"});
    assert_error(
        &harness.call("POST", "/clusters", Some(bad)).await,
        400,
        "InvalidParameterException",
        "serviceIpv4Cidr",
    );
    bad = create_body("c", "1.33");
    bad["resourcesVpcConfig"]["publicAccessCidrs"] = json!(["203.0.113.0/24", "nonsense"]);
    assert_error(
        &harness.call("POST", "/clusters", Some(bad)).await,
        400,
        "InvalidParameterException",
        "publicAccessCidrs",
    );
    bad = create_body("c", "1.33");
    bad.as_object_mut().unwrap().remove("roleArn");
    assert_error(
        &harness.call("POST", "/clusters", Some(bad)).await,
        400,
        "InvalidParameterException",
        "roleArn",
    );
    let (status, list) = harness.call("GET", "/clusters", None).await;
    assert_eq!(
        (status, list),
        (200, json!({"clusters": []})),
        "invalid requests created nothing"
    );

    let mut first = create_body("beta", "1.33");
    first["clientRequestToken"] = json!("token-1");
    first["tags"] = json!({"team": "a"});
    let (status, original) = harness.call("POST", "/clusters", Some(first.clone())).await;
    assert_eq!(status, 200, "{original}");
    for name in ["alpha", "gamma"] {
        assert_eq!(
            harness
                .call("POST", "/clusters", Some(create_body(name, "1.33")))
                .await
                .0,
            200
        );
    }
    harness
        .wait_status("beta", "ACTIVE", Duration::from_secs(60))
        .await?;
    let replay = harness.call("POST", "/clusters", Some(first.clone())).await;
    assert_eq!(
        replay,
        (200, original.clone()),
        "a retry replays the first answer"
    );
    first["clientRequestToken"] = json!("token-2");
    let duplicate = harness.call("POST", "/clusters", Some(first)).await;
    assert_error(
        &duplicate,
        409,
        "ResourceInUseException",
        "Cluster already exists with name: beta",
    );
    assert_eq!(duplicate.1["clusterName"], "beta");
    assert_error(
        &harness.call("GET", "/clusters/nope", None).await,
        404,
        "ResourceNotFoundException",
        "No cluster found for name: nope.",
    );

    let (_, page1) = harness.call("GET", "/clusters?maxResults=2", None).await;
    assert_eq!(page1["clusters"], json!(["alpha", "beta"]));
    let token = page1["nextToken"].as_str().unwrap();
    let (_, page2) = harness
        .call(
            "GET",
            &format!("/clusters?maxResults=2&nextToken={token}"),
            None,
        )
        .await;
    assert_eq!(page2, json!({"clusters": ["gamma"]}));
    assert_error(
        &harness.call("GET", "/clusters?maxResults=101", None).await,
        400,
        "InvalidParameterException",
        "maxResults",
    );

    let (_, versions) = harness.call("GET", "/cluster-versions", None).await;
    let listed: Vec<&str> = versions["clusterVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["clusterVersion"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["1.32", "1.33"]);
    let (_, defaults) = harness
        .call("GET", "/cluster-versions?defaultOnly=true", None)
        .await;
    assert_eq!(defaults["clusterVersions"][0]["clusterVersion"], "1.33");
    assert_eq!(defaults["clusterVersions"].as_array().unwrap().len(), 1);

    let arn = format!("arn:aws:eks:us-west-2:{ACCOUNT}:cluster/beta");
    let encoded = arn.replace(':', "%3A").replace('/', "%2F");
    let (status, _) = harness
        .call(
            "POST",
            &format!("/tags/{encoded}"),
            Some(json!({"tags": {"env": "prod", "cost": "1"}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = harness
        .call(
            "DELETE",
            &format!("/tags/{encoded}?tagKeys=cost&tagKeys=team"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, tags) = harness.call("GET", &format!("/tags/{encoded}"), None).await;
    assert_eq!(tags, json!({"tags": {"env": "prod"}}));
    let (_, described) = harness.call("GET", "/clusters/beta", None).await;
    assert_eq!(described["cluster"]["tags"], json!({"env": "prod"}));
    assert_error(
        &harness.call("GET", "/tags/not-an-arn", None).await,
        400,
        "BadRequestException",
        "not-an-arn",
    );
    let missing = format!("arn%3Aaws%3Aeks%3Aus-west-2%3A{ACCOUNT}%3Acluster%2Fnope");
    assert_error(
        &harness.call("GET", &format!("/tags/{missing}"), None).await,
        404,
        "NotFoundException",
        "nope",
    );

    for name in ["alpha", "beta", "gamma"] {
        assert_eq!(
            harness
                .call("DELETE", &format!("/clusters/{name}"), None)
                .await
                .0,
            200
        );
    }
    for name in ["alpha", "beta", "gamma"] {
        harness.wait_gone(name, Duration::from_secs(30)).await?;
    }
    harness.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn every_operation_is_authorised() -> anyhow::Result<()> {
    let harness = Harness::start_denying(&["eks:CreateCluster", "eks:ListClusters"]).await?;
    let denied = call_as(
        &harness.eks,
        &alice(),
        "POST",
        "/clusters",
        Some(create_body("x", "1.33")),
    )
    .await;
    assert_error(
        &denied,
        403,
        "AccessDeniedException",
        "eks:CreateCluster on resource: arn:aws:eks:us-west-2:111122223333:cluster/x",
    );
    assert_error(
        &harness.call("GET", "/clusters", None).await,
        403,
        "AccessDeniedException",
        "eks:ListClusters",
    );
    assert_eq!(harness.call("GET", "/access-policies", None).await.0, 200);
    harness.shutdown().await;
    Ok(())
}

fn auth_config(harness: &Harness, name: &str) -> ClusterAuthConfig {
    let text = std::fs::read(harness.cluster_dir(name).join("aws-auth-config.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_and_config_updates_and_access_entries() -> anyhow::Result<()> {
    let harness = Harness::start().await?;
    assert_eq!(
        harness
            .call("POST", "/clusters", Some(create_body("up", "1.32")))
            .await
            .0,
        200
    );
    let mut config_map_only = create_body("cm", "1.33");
    config_map_only["accessConfig"] = json!({"authenticationMode": "CONFIG_MAP"});
    assert_eq!(
        harness
            .call("POST", "/clusters", Some(config_map_only))
            .await
            .0,
        200
    );
    harness
        .wait_status("up", "ACTIVE", Duration::from_secs(60))
        .await?;
    let dir = harness.cluster_dir("up");
    let maps: Api<ConfigMap> = Api::namespaced(kube_client(&dir).await?, "default");
    maps.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "kept"}}))?,
    )
    .await?;

    // Version update: one minor at a time, tracked by an Update.
    assert_error(
        &harness
            .call(
                "POST",
                "/clusters/up/updates",
                Some(json!({"version": "1.34"})),
            )
            .await,
        400,
        "InvalidParameterException",
        "version",
    );
    let (status, started) = harness
        .call(
            "POST",
            "/clusters/up/updates",
            Some(json!({"version": "1.33", "clientRequestToken": "u1"})),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["update"]["status"], "InProgress");
    assert_eq!(started["update"]["type"], "VersionUpdate");
    let id = started["update"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        harness
            .call(
                "POST",
                "/clusters/up/updates",
                Some(json!({"version": "1.33", "clientRequestToken": "u1"}))
            )
            .await,
        (200, started.clone())
    );
    let cluster = harness
        .wait_status("up", "ACTIVE", Duration::from_secs(60))
        .await?;
    assert_eq!(cluster["version"], "1.33");
    let (_, update) = harness
        .call("GET", &format!("/clusters/up/updates/{id}"), None)
        .await;
    assert_eq!(update["update"]["status"], "Successful");
    let (_, updates) = harness.call("GET", "/clusters/up/updates", None).await;
    assert_eq!(updates["updateIds"], json!([id]));
    let client = kube_client(&dir).await?;
    assert_eq!(client.apiserver_version().await?.git_version, "v1.33.0");
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    assert!(maps.get("kept").await.is_ok(), "data survives the upgrade");
    assert_error(
        &harness.call("GET", "/clusters/up/updates/nope", None).await,
        404,
        "ResourceNotFoundException",
        "nope",
    );

    // The creator is a visible cluster admin; the auth file says the same.
    let creator = alice().arn;
    let (_, entries) = harness
        .call("GET", "/clusters/up/access-entries", None)
        .await;
    assert_eq!(entries["accessEntries"], json!([creator]));
    let file = auth_config(&harness, "up");
    assert_eq!(file.cluster_id, "up");
    assert_eq!(file.sts_endpoints, ["http://127.0.0.1:8443"]);
    assert_eq!(file.access_entries[0].principal_arn, creator);
    assert_eq!(
        file.access_entries[0].access_policies[0].policy_arn,
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    );

    // A role with a path, addressed by its encoded ARN.
    let role = format!("arn:aws:iam::{ACCOUNT}:role/dev/deployer");
    let path = format!(
        "/clusters/up/access-entries/{}",
        role.replace(':', "%3A").replace('/', "%2F")
    );
    let (status, entry) = harness
        .call(
            "POST",
            "/clusters/up/access-entries",
            Some(json!({"principalArn": role, "kubernetesGroups": ["deployers"]})),
        )
        .await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(
        entry["accessEntry"]["username"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/deployer/{{{{SessionName}}}}")
    );
    assert_error(
        &harness
            .call(
                "POST",
                "/clusters/up/access-entries",
                Some(json!({"principalArn": role})),
            )
            .await,
        409,
        "ResourceInUseException",
        "already in use",
    );
    let (_, updated) = harness
        .call("POST", &path, Some(json!({"username": "deployer"})))
        .await;
    assert_eq!(updated["accessEntry"]["username"], "deployer");
    assert_eq!(
        updated["accessEntry"]["kubernetesGroups"],
        json!(["deployers"])
    );
    let view = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";
    let (status, associated) = harness.call("POST", &format!("{path}/access-policies"), Some(json!({"policyArn": view, "accessScope": {"type": "namespace", "namespaces": ["dev-*"]}}))).await;
    assert_eq!(status, 200, "{associated}");
    assert_eq!(associated["principalArn"], role.as_str());
    let (_, listed) = harness
        .call("GET", &format!("{path}/access-policies"), None)
        .await;
    assert_eq!(
        listed["associatedAccessPolicies"][0]["accessScope"],
        json!({"type": "namespace", "namespaces": ["dev-*"]})
    );
    let file = auth_config(&harness, "up");
    let mapped = file
        .access_entries
        .iter()
        .find(|e| e.principal_arn == role)
        .unwrap();
    assert_eq!(mapped.username, "deployer");
    assert_eq!(mapped.access_policies[0].policy_arn, view);
    let (_, by_policy) = harness
        .call(
            "GET",
            &format!(
                "/clusters/up/access-entries?associatedPolicyArn={}",
                view.replace(':', "%3A").replace('/', "%2F")
            ),
            None,
        )
        .await;
    assert_eq!(by_policy["accessEntries"], json!([role]));
    let policy_path = format!(
        "{path}/access-policies/{}",
        view.replace(':', "%3A").replace('/', "%2F")
    );
    assert_eq!(harness.call("DELETE", &policy_path, None).await.0, 200);
    assert_error(
        &harness.call("DELETE", &policy_path, None).await,
        404,
        "ResourceNotFoundException",
        "not associated",
    );
    assert_eq!(harness.call("DELETE", &path, None).await.0, 200);
    assert_error(
        &harness.call("GET", &path, None).await,
        404,
        "ResourceNotFoundException",
        "principalArn",
    );
    assert_eq!(auth_config(&harness, "up").access_entries.len(), 1);
    let (_, policies) = harness.call("GET", "/access-policies", None).await;
    assert_eq!(policies["accessPolicies"].as_array().unwrap().len(), 4);
    assert_eq!(
        policies["accessPolicies"][0],
        json!({"name": "AmazonEKSAdminPolicy", "arn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"})
    );

    // Configuration updates: logging merges, the authentication mode only moves towards API.
    let (_, logging) = harness
        .call(
            "POST",
            "/clusters/up/update-config",
            Some(json!({"logging": {"clusterLogging": [{"types": ["audit"], "enabled": true}]}})),
        )
        .await;
    assert_eq!(logging["update"]["type"], "LoggingUpdate");
    let (_, cluster) = harness.call("GET", "/clusters/up", None).await;
    assert_eq!(
        cluster["cluster"]["logging"]["clusterLogging"][0],
        json!({"types": ["audit"], "enabled": true})
    );
    let (status, _) = harness
        .call(
            "POST",
            "/clusters/up/update-config",
            Some(json!({"accessConfig": {"authenticationMode": "API"}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        auth_config(&harness, "up").authentication_mode,
        AuthenticationMode::Api
    );
    assert_error(
        &harness
            .call(
                "POST",
                "/clusters/up/update-config",
                Some(json!({"accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}})),
            )
            .await,
        400,
        "InvalidParameterException",
        "authentication mode",
    );

    // CONFIG_MAP clusters have no access entries, as on EKS.
    harness
        .wait_status("cm", "ACTIVE", Duration::from_secs(60))
        .await?;
    assert_error(
        &harness
            .call("GET", "/clusters/cm/access-entries", None)
            .await,
        400,
        "InvalidRequestException",
        "authentication mode",
    );

    for name in ["up", "cm"] {
        harness
            .call("DELETE", &format!("/clusters/{name}"), None)
            .await;
        harness.wait_gone(name, Duration::from_secs(30)).await?;
    }
    harness.shutdown().await;
    Ok(())
}
