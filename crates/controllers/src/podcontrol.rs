//! Pod control shared by the workload controllers (ReplicaSet, ReplicationController,
//! Deployment, and the others that own pods), after upstream's `pkg/controller` helpers:
//!
//! - [`selector`]: label selectors (`matchLabels`/`matchExpressions` and the RC map form);
//! - [`index`]: an owner index over a shared cache (children by controller uid, orphans by
//!   namespace), which also notices children that vanished;
//! - [`expectations`]: ControllerExpectations, so a stale cache never causes a second create
//!   or delete;
//! - [`claim`]: ControllerRefManager (adopt matching orphans, release owned non-matching
//!   children) through patches carrying the child's uid as a precondition;
//! - [`pods`]: activity, readiness and availability (`minReadySeconds`) of pods, and the
//!   ranking that picks which pods to delete on scale-down;
//! - [`create`]: pods from a PodTemplateSpec and upstream's slow-start batch creator.

pub mod claim;
pub mod create;
pub mod expectations;
pub mod index;
pub mod pods;
pub mod selector;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// The controller reference of an object (the owner reference with `controller: true`).
pub fn controller_of(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// What a child needs to know about its controlling owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub deleting: bool,
}

impl Owner {
    pub fn of<K: kube::Resource<DynamicType = ()>>(object: &K) -> Self {
        let meta = object.meta();
        Owner {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
        }
    }

    /// The owner reference a controller puts on the children it creates or adopts
    /// (upstream's `metav1.NewControllerRef`).
    pub fn controller_ref(&self) -> OwnerReference {
        OwnerReference {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }
}

/// An error as upstream words it in events and conditions: the API server's message for API
/// errors.
pub fn api_message(err: &crate::ControllerError) -> String {
    match err {
        crate::ControllerError::Kube(kube::Error::Api(status)) => status.message.clone(),
        other => other.to_string(),
    }
}

/// A 409 from the API server: the write was computed from an outdated object.
pub fn is_conflict(err: &crate::ControllerError) -> bool {
    matches!(err, crate::ControllerError::Kube(kube::Error::Api(status)) if status.code == 409)
}
