//! The API writes of the pod loop, one per piece of work. Status patches skip decoding the
//! returned pod: at 150,000 pods that decoding would be most of the simulator's CPU.

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::core::Request;

/// A pod's namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for PodKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug)]
pub enum Work {
    /// Merge-patch pods/status with this body.
    Status(serde_json::Value),
    /// Post the stopped containers' status, then delete the pod.
    Terminate {
        status: serde_json::Value,
        uid: String,
    },
    /// Delete the pod (grace 0, only this incarnation of it), as the kubelet does once nothing
    /// runs.
    Delete { uid: String },
    /// Read the pod again and decide anew (a timer fired or a write failed).
    Refresh,
}

fn is_gone(err: &kube::Error) -> bool {
    // 404: already deleted; 409: a precondition failed, so this incarnation is gone.
    matches!(err, kube::Error::Api(s) if s.code == 404 || s.code == 409)
}

async fn patch_status(
    client: &kube::Client,
    key: &PodKey,
    body: &serde_json::Value,
) -> Result<(), kube::Error> {
    let request = Request::new(format!("/api/v1/namespaces/{}/pods", key.namespace))
        .patch_subresource(
            "status",
            &key.name,
            &PatchParams::default(),
            &Patch::Merge(body),
        )
        .map_err(kube::Error::BuildRequest)?;
    client.request_text(request).await.map(drop)
}

async fn delete(pods: &Api<Pod>, key: &PodKey, uid: &str) -> Result<(), kube::Error> {
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..Default::default()
    };
    pods.delete(&key.name, &params).await.map(drop)
}

pub enum Outcome {
    Done,
    /// A refresh read the pod.
    Fetched(Box<Pod>),
    /// The pod no longer exists.
    Gone,
}

/// Perform `work`.
pub async fn perform(
    client: kube::Client,
    key: &PodKey,
    work: Work,
) -> Result<Outcome, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &key.namespace);
    let gone_or = |result: Result<(), kube::Error>| match result {
        Ok(()) => Ok(Outcome::Done),
        Err(err) if is_gone(&err) => Ok(Outcome::Gone),
        Err(err) => Err(err),
    };
    match work {
        Work::Status(body) => gone_or(patch_status(&client, key, &body).await),
        Work::Terminate { status, uid } => {
            if let Outcome::Gone = gone_or(patch_status(&client, key, &status).await)? {
                return Ok(Outcome::Gone);
            }
            gone_or(delete(&pods, key, &uid).await)
        }
        Work::Delete { uid } => gone_or(delete(&pods, key, &uid).await),
        Work::Refresh => Ok(match pods.get_opt(&key.name).await? {
            Some(pod) => Outcome::Fetched(Box::new(pod)),
            None => Outcome::Gone,
        }),
    }
}
