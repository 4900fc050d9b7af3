//! Which resource types exist (from API discovery), refreshed as CRDs come and go.

use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope, verbs};

use crate::ControllerError;

#[derive(Clone, Debug)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
}

/// Every listable, watchable, deletable resource type, at its preferred version.
pub async fn deletable(client: &kube::Client) -> Result<Vec<Resource>, ControllerError> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .map_err(|e| ControllerError::Discovery(e.to_string()))?;
    let mut resources = Vec::new();
    for group in discovery.groups() {
        for (api, caps) in group.recommended_resources() {
            if usable(&caps) {
                resources.push(Resource {
                    namespaced: caps.scope == Scope::Namespaced,
                    api,
                });
            }
        }
    }
    Ok(resources)
}

fn usable(caps: &ApiCapabilities) -> bool {
    caps.supports_operation(verbs::LIST)
        && caps.supports_operation(verbs::WATCH)
        && caps.supports_operation(verbs::DELETE)
}
