//! kube-rs against a real control plane: typed CRUD, server-side apply, and a watcher that
//! relists after a 410 Expired.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use keelson_e2e::ControlPlane;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::{Client, Config};
use serde_json::json;

async fn connect(plane: &ControlPlane) -> anyhow::Result<Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(plane.kubeconfig())?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(Client::try_from(config)?)
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

#[tokio::test]
async fn typed_crud_and_server_side_apply() -> anyhow::Result<()> {
    let plane = ControlPlane::start("1.33")?;
    let client = connect(&plane).await?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &config_map("typed"))
        .await?;
    let got = api.get("typed").await?;
    assert_eq!(got.data.unwrap()["k"], "v");

    let apply = PatchParams::apply("e2e-manager");
    let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1"}});
    api.patch("applied", &apply, &Patch::Apply(&desired))
        .await?;
    let applied = api.get("applied").await?;
    let managers: Vec<_> = applied
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, vec!["e2e-manager".to_string()]);

    // Another manager changing the same field conflicts unless forced.
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "2"}});
    let err = api
        .patch(
            "applied",
            &PatchParams::apply("intruder"),
            &Patch::Apply(&other),
        )
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => assert_eq!(status.code, 409),
        other => panic!("expected a 409 conflict, got {other:?}"),
    }
    api.patch(
        "applied",
        &PatchParams::apply("intruder").force(),
        &Patch::Apply(&other),
    )
    .await?;
    assert_eq!(api.get("applied").await?.data.unwrap()["a"], "2");

    api.delete("typed", &DeleteParams::default()).await?;
    assert!(api.get_opt("typed").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn watcher_relists_after_expired_resource_version() -> anyhow::Result<()> {
    let mut plane = ControlPlane::start("1.33")?;
    let client = connect(&plane).await?;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    configmaps
        .create(&PostParams::default(), &config_map("before"))
        .await?;

    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let watch_client = client.clone();
    let watcher_task = tokio::spawn(async move {
        let api: Api<ConfigMap> = Api::namespaced(watch_client, "default");
        let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
        loop {
            match stream.try_next().await {
                Ok(Some(event)) => {
                    if events_tx.send(Ok(event)).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                // Connection errors while the server restarts are retried by the caller's
                // backoff in real controllers; here we just keep polling.
                Err(err) => {
                    let _ = events_tx.send(Err(err.to_string()));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    let mut inits = 0;
    while inits == 0 {
        if let Ok(Event::InitDone) = events.recv().await.expect("watcher alive") {
            inits += 1;
        }
    }
    // Advance the store revision past what the configmap watcher has seen, then restart: the
    // new cache cannot replay history older than its load, so the resumed watch gets 410 and
    // the watcher must relist.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "bump"}}))?,
        )
        .await?;
    plane.restart(false)?;
    // The kubeconfig and CA survive restarts, so a fresh client from the same file works.
    let restarted = connect(&plane).await?;
    let api: Api<ConfigMap> = Api::namespaced(restarted, "default");
    api.create(&PostParams::default(), &config_map("after"))
        .await?;

    let saw = tokio::time::timeout(Duration::from_secs(60), async {
        let mut relisted = false;
        let mut saw_after = false;
        while !(relisted && saw_after) {
            match events.recv().await.expect("watcher alive") {
                Ok(Event::InitDone) => relisted = true,
                Ok(Event::Apply(cm) | Event::InitApply(cm))
                    if cm.metadata.name.as_deref() == Some("after") =>
                {
                    saw_after = true
                }
                _ => {}
            }
        }
    })
    .await;
    watcher_task.abort();
    assert!(
        saw.is_ok(),
        "watcher did not relist and see the new object: {}",
        plane.log_tail()
    );
    let names: Vec<_> = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert!(names.contains(&"before".to_string()) && names.contains(&"after".to_string()));
    Ok(())
}
