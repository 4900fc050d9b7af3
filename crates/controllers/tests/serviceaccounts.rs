//! The service-account controller and the root-CA publisher, in a real control plane.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use keelson_e2e::{ControlPlane, eventually, wait_for_default_service_account};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn every_namespace_gets_a_default_account_and_the_root_ca() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = plane.client().await?;
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": "team"}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    wait_for_default_service_account(&client, "team", WAIT).await?;
    let ca_pem = std::fs::read_to_string(plane.kubeconfig())?;
    let published = eventually("kube-root-ca.crt", WAIT, || async {
        config_maps
            .get_opt("kube-root-ca.crt")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("absent".into())
    })
    .await?;
    let ca = published
        .data
        .unwrap_or_default()
        .remove("ca.crt")
        .unwrap_or_default();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    // The kubeconfig carries the same CA, base64-encoded.
    assert!(ca_pem.contains("certificate-authority-data"));

    // Both are restored when removed or tampered with.
    accounts.delete("default", &DeleteParams::default()).await?;
    config_maps
        .patch(
            "kube-root-ca.crt",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"ca.crt": "tampered"}})),
        )
        .await?;
    wait_for_default_service_account(&client, "team", WAIT).await?;
    eventually("the root CA restored", WAIT, || async {
        let cm = config_maps
            .get("kube-root-ca.crt")
            .await
            .map_err(|e| e.to_string())?;
        let data = cm.data.unwrap_or_default();
        (data.get("ca.crt") == Some(&ca))
            .then_some(())
            .ok_or(format!("{data:?}"))
    })
    .await?;

    // The built-in namespaces have them too.
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        wait_for_default_service_account(&client, ns, WAIT).await?;
    }
    Ok(())
}
