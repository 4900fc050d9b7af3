//! The writes a StatefulSet sync makes (pods, claims) and the events upstream records for
//! each, in its wording ("create Pod web-0 in StatefulSet web successful").

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};

use super::control::Step;
use super::health::is_terminating;
use super::identity::{self, revision_of};
use crate::ControllerError;
use crate::events::{NORMAL, WARNING, reference_to};

impl Step<'_> {
    pub(super) async fn record(&self, kind: &str, reason: &str, message: String) {
        self.context
            .events
            .publish(reference_to(self.plan.set), kind, reason, message)
            .await;
    }

    pub(super) async fn record_outcome(
        &self,
        verb: &str,
        pod: &Pod,
        failure: Option<&kube::Error>,
    ) {
        let set = self.plan.set.name_any();
        let title = format!("{}{}", verb[..1].to_uppercase(), &verb[1..]);
        let (kind, reason, message) = match failure {
            None => (
                NORMAL,
                format!("Successful{title}"),
                format!(
                    "{verb} Pod {} in StatefulSet {set} successful",
                    pod.name_any()
                ),
            ),
            Some(err) => (
                WARNING,
                format!("Failed{title}"),
                format!(
                    "{verb} Pod {} in StatefulSet {set} failed error: {err}",
                    pod.name_any()
                ),
            ),
        };
        self.record(kind, &reason, message).await;
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(
            self.context.client.clone(),
            &self.plan.set.namespace().unwrap_or_default(),
        )
    }

    pub(super) async fn create(&mut self, pod: &Pod) -> Result<(), ControllerError> {
        match self.pods().create(&PostParams::default(), pod).await {
            Ok(_) => {
                self.record_outcome("create", pod, None).await;
                Ok(())
            }
            // Our cache has not seen the pod yet: it is already there.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
            Err(err) => {
                self.record_outcome("create", pod, Some(&err)).await;
                Err(err.into())
            }
        }
    }

    pub(super) async fn update(&mut self, pod: &Pod) -> Result<(), ControllerError> {
        match self
            .pods()
            .replace(&pod.name_any(), &PostParams::default(), pod)
            .await
        {
            Ok(_) => {
                self.record_outcome("update", pod, None).await;
                Ok(())
            }
            // Stale cache: the next sync sees the newer pod.
            Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Delete exactly this pod (its uid), never a newer one of the same name.
    pub(super) async fn delete(&mut self, pod: &Pod) -> Result<(), ControllerError> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: pod.uid(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match self.pods().delete(&pod.name_any(), &params).await {
            Ok(_) => {
                if !is_terminating(pod) {
                    self.tally.count_revision(revision_of(pod), -1);
                }
                self.record_outcome("delete", pod, None).await;
                Ok(())
            }
            Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => Ok(()),
            Err(err) => {
                self.record_outcome("delete", pod, Some(&err)).await;
                Err(err.into())
            }
        }
    }

    /// Create the pod's missing claims (an existing claim is reused as is).
    pub(super) async fn create_claims(
        &mut self,
        ordinal: i32,
        pod: &Pod,
    ) -> Result<(), ControllerError> {
        let set = self.plan.set;
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(
            self.context.client.clone(),
            &set.namespace().unwrap_or_default(),
        );
        for claim in identity::claims_for(set, ordinal) {
            let name = claim.name_any();
            if claims.get_opt(&name).await?.is_some() {
                continue;
            }
            let pod_name = pod.name_any();
            let set_name = set.name_any();
            match claims.create(&PostParams::default(), &claim).await {
                Ok(_) => {
                    let message = format!(
                        "create Claim {name} Pod {pod_name} in StatefulSet {set_name} success"
                    );
                    self.record(NORMAL, "SuccessfulCreate", message).await;
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(err) => {
                    let message = format!(
                        "create Claim {name} for Pod {pod_name} in StatefulSet {set_name} failed error: {err}"
                    );
                    self.record(WARNING, "FailedCreate", message).await;
                    return Err(err.into());
                }
            }
        }
        Ok(())
    }
}
