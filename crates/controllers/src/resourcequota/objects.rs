//! Object-count and storage usage, read from the API (list) when a quota is recomputed:
//! `count/<resource>[.<group>]`, the legacy core names, `services.loadbalancers`,
//! `services.nodeports` and `requests.storage`.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Service};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};

use super::quantity::Amount;
use crate::ControllerError;

const PAGE: u32 = 500;

pub(crate) struct Counter {
    client: kube::Client,
    /// (group, plural) -> how to reach it, from discovery.
    resources: Mutex<HashMap<(String, String), ApiResource>>,
}

/// The legacy quota names of core object counts.
fn legacy(resource: &str) -> Option<&'static str> {
    Some(match resource {
        "services" => "services",
        "configmaps" => "configmaps",
        "secrets" => "secrets",
        "persistentvolumeclaims" => "persistentvolumeclaims",
        "replicationcontrollers" => "replicationcontrollers",
        "resourcequotas" => "resourcequotas",
        _ => return None,
    })
}

impl Counter {
    pub(crate) fn new(client: kube::Client) -> Self {
        Self {
            client,
            resources: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn usage(
        &self,
        namespace: &str,
        resource: &str,
    ) -> Result<Amount, ControllerError> {
        match resource {
            "services.loadbalancers" | "services.nodeports" => {
                let services: Api<Service> = Api::namespaced(self.client.clone(), namespace);
                let list = services.list(&ListParams::default()).await?;
                let count: usize = list
                    .items
                    .iter()
                    .filter_map(|s| s.spec.as_ref())
                    .map(|spec| {
                        let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
                        if resource == "services.loadbalancers" {
                            usize::from(kind == "LoadBalancer")
                        } else if matches!(kind, "NodePort" | "LoadBalancer") {
                            spec.ports
                                .iter()
                                .flatten()
                                .filter(|p| p.node_port.is_some())
                                .count()
                        } else {
                            0
                        }
                    })
                    .sum();
                return Ok(Amount::units(count as i64));
            }
            "requests.storage" => {
                let claims: Api<PersistentVolumeClaim> =
                    Api::namespaced(self.client.clone(), namespace);
                let list = claims.list(&ListParams::default()).await?;
                let total = list
                    .items
                    .iter()
                    .filter_map(|c| {
                        c.spec
                            .as_ref()?
                            .resources
                            .as_ref()?
                            .requests
                            .as_ref()?
                            .get("storage")
                    })
                    .filter_map(Amount::parse)
                    .fold(Amount::default(), Amount::add);
                return Ok(total);
            }
            _ => {}
        }
        let (plural, group) = match (legacy(resource), resource.strip_prefix("count/")) {
            (Some(plural), _) => (plural.to_string(), String::new()),
            (None, Some(counted)) => match counted.split_once('.') {
                Some((plural, group)) => (plural.to_string(), group.to_string()),
                None => (counted.to_string(), String::new()),
            },
            // Not a resource this controller can measure.
            (None, None) => return Ok(Amount::default()),
        };
        let Some(api_resource) = self.resolve(&group, &plural).await? else {
            return Ok(Amount::default());
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &api_resource);
        let mut count = 0usize;
        let mut params = ListParams::default().limit(PAGE);
        loop {
            let page = api.list_metadata(&params).await?;
            count += page.items.len();
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
        Ok(Amount::units(count as i64))
    }

    async fn resolve(
        &self,
        group: &str,
        plural: &str,
    ) -> Result<Option<ApiResource>, ControllerError> {
        let key = (group.to_string(), plural.to_string());
        if let Some(found) = self
            .resources
            .lock()
            .expect("resource cache lock")
            .get(&key)
        {
            return Ok(Some(found.clone()));
        }
        let found = if group.is_empty() {
            Some(ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: String::new(),
                plural: plural.to_string(),
            })
        } else {
            match kube::discovery::group(&self.client, group).await {
                Ok(api_group) => api_group
                    .recommended_resources()
                    .into_iter()
                    .map(|(resource, _)| resource)
                    .find(|r| r.plural == plural),
                // An unknown group is no error: nothing of it exists to count.
                Err(kube::Error::Discovery(_)) => None,
                Err(kube::Error::Api(status)) if status.code == 404 => None,
                Err(err) => return Err(err.into()),
            }
        };
        if let Some(found) = &found {
            self.resources
                .lock()
                .expect("resource cache lock")
                .insert(key, found.clone());
        }
        Ok(found)
    }
}
