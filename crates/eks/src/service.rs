//! The service object: opening (recovering every cluster), request dispatch with
//! authorisation, and shutdown.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use keelson_aws_core::{Authorizer, AwsError, AwsService, Principal};
use keelson_store::Store;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::cgroup::Cgroups;
use crate::error::{ApiResult, EksError, access_denied, serialization};
use crate::model::{ClusterStatus, RenderContext};
use crate::nodegroups::api as ng;
use crate::records::Records;
use crate::router::{Operation, query_pairs, route};
use crate::supervisor::{Settings, Supervisor};
use crate::{access, clusters, process, tags, updates};

pub struct EksConfig {
    pub region: String,
    pub account_id: String,
    /// Clusters live under `DATA_DIR/clusters/NAME`.
    pub data_dir: PathBuf,
    /// The binary run as `BINARY control-plane ...` (the server passes its own executable).
    pub keelson_binary: PathBuf,
    /// Base URL of the regional STS endpoint, e.g. `http://127.0.0.1:8443`: tokens must point
    /// there, and the clusters' OIDC issuers live under it.
    pub sts_endpoint: String,
    /// Key prefix of the service's documents in the store.
    pub store_prefix: String,
    /// `memory.max` of each control plane's cgroup, where cgroup v2 is writable.
    pub control_plane_memory_max: u64,
    /// Cancelling it stops the supervisor and every control plane ([`Eks::shutdown`] does).
    pub shutdown: CancellationToken,
    /// What starts node groups' nodes; by default `BINARY sim-nodes` (simulated nodes).
    pub node_launcher: Option<Arc<dyn crate::NodeLauncher>>,
}

impl EksConfig {
    pub fn new(
        region: impl Into<String>,
        account_id: impl Into<String>,
        data_dir: impl Into<PathBuf>,
        keelson_binary: impl Into<PathBuf>,
        sts_endpoint: impl Into<String>,
    ) -> EksConfig {
        EksConfig {
            region: region.into(),
            account_id: account_id.into(),
            data_dir: data_dir.into(),
            keelson_binary: keelson_binary.into(),
            sts_endpoint: sts_endpoint.into(),
            store_prefix: "/eks/".into(),
            control_plane_memory_max: 4 << 30,
            shutdown: CancellationToken::new(),
            node_launcher: None,
        }
    }
}

/// The EKS service. Cheap to clone; all clones share one supervisor.
#[derive(Clone)]
pub struct Eks {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub region: String,
    pub account_id: String,
    pub records: Records,
    pub supervisor: Supervisor,
    pub nodegroups: crate::nodegroups::Manager,
    pub authorizer: Arc<dyn Authorizer>,
    pub shutdown: CancellationToken,
}

impl Eks {
    /// Opens the service on `config.data_dir` and the store, and resumes every cluster found
    /// there: running ones are started again, half-deleted ones finish deleting.
    pub async fn open(
        store: Arc<dyn Store>,
        config: EksConfig,
        authorizer: Arc<dyn Authorizer>,
    ) -> Result<Eks, EksError> {
        let clusters_dir = config.data_dir.join("clusters");
        std::fs::create_dir_all(&clusters_dir)
            .map_err(|e| EksError::io("creating", &clusters_dir, e))?;
        let pass_auth_config = process::supports_aws_auth(&config.keelson_binary).await;
        if !pass_auth_config {
            tracing::warn!(
                binary = %config.keelson_binary.display(),
                "the control-plane binary has no --aws-auth-config: clusters accept only their admin kubeconfig"
            );
        }
        let records = Records::new(store, &config.store_prefix);
        let launcher = config.node_launcher.clone().unwrap_or_else(|| {
            Arc::new(crate::SimNodesLauncher {
                binary: config.keelson_binary.clone(),
            })
        });
        let nodegroups = crate::nodegroups::Manager::new(
            records.clone(),
            launcher,
            clusters_dir.clone(),
            config.region.clone(),
            config.shutdown.clone(),
        );
        let settings = Settings {
            binary: config.keelson_binary,
            clusters_dir,
            sts_endpoint: config.sts_endpoint,
            pass_auth_config,
            cgroups: Cgroups::detect("keelson-eks", config.control_plane_memory_max),
        };
        let supervisor = Supervisor::new(records.clone(), settings, config.shutdown.clone());
        for record in records.list().await? {
            match record.status {
                ClusterStatus::Deleting => supervisor.delete(&record.name),
                ClusterStatus::Failed => {}
                _ => supervisor.resume(&record).await,
            }
            for group in &record.nodegroups {
                nodegroups.ensure(&record.name, &group.name);
            }
        }
        Ok(Eks {
            inner: Arc::new(Inner {
                region: config.region,
                account_id: config.account_id,
                records,
                supervisor,
                nodegroups,
                authorizer,
                shutdown: config.shutdown,
            }),
        })
    }

    /// The token whose cancellation stops the service's control planes.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Stops every control plane (their data stays) and waits until they have exited.
    pub async fn shutdown(&self) {
        self.inner.nodegroups.shutdown().await;
        self.inner.supervisor.shutdown().await;
    }

    async fn dispatch(
        &self,
        caller: &Principal,
        request: http::Request<Bytes>,
    ) -> ApiResult<Value> {
        let (parts, body) = request.into_parts();
        let operation = route(&parts.method, parts.uri.path())?;
        let query = query_pairs(parts.uri.query());
        let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(&body)
                .map_err(|e| serialization(format!("The request body is not valid JSON: {e}")))?
        };
        let inner = &*self.inner;
        let resource = match (&operation, operation.cluster()) {
            (_, Some(cluster)) => inner.cluster_arn(cluster),
            (Operation::CreateCluster, None) => match body.get("name").and_then(Value::as_str) {
                Some(name) => inner.cluster_arn(name),
                None => "*".to_string(),
            },
            (
                Operation::TagResource { arn }
                | Operation::UntagResource { arn }
                | Operation::ListTagsForResource { arn },
                None,
            ) => arn.clone(),
            _ => "*".to_string(),
        };
        let action = format!("eks:{}", operation.action());
        if !inner.authorizer.is_allowed(caller, &action, &resource) {
            return Err(access_denied(&caller.arn, &action, &resource));
        }
        match operation {
            Operation::CreateCluster => clusters::create(inner, caller, body).await,
            Operation::ListClusters => clusters::list(inner, &query).await,
            Operation::DescribeClusterVersions => clusters::versions(&query),
            Operation::DescribeCluster { name } => clusters::describe(inner, &name).await,
            Operation::DeleteCluster { name } => clusters::delete(inner, &name).await,
            Operation::UpdateClusterConfig { name } => {
                updates::update_config(inner, &name, body).await
            }
            Operation::UpdateClusterVersion { name } => {
                updates::update_version(inner, &name, body).await
            }
            Operation::ListUpdates { name } => updates::list(inner, &name, &query).await,
            Operation::DescribeUpdate { name, update_id } => {
                updates::describe(inner, &name, &update_id, &query).await
            }
            Operation::CreateAccessEntry { name } => access::create(inner, &name, body).await,
            Operation::ListAccessEntries { name } => access::list(inner, &name, &query).await,
            Operation::DescribeAccessEntry { name, principal } => {
                access::describe(inner, &name, &principal).await
            }
            Operation::UpdateAccessEntry { name, principal } => {
                access::update(inner, &name, &principal, body).await
            }
            Operation::DeleteAccessEntry { name, principal } => {
                access::delete(inner, &name, &principal).await
            }
            Operation::AssociateAccessPolicy { name, principal } => {
                access::associate(inner, &name, &principal, body).await
            }
            Operation::ListAssociatedAccessPolicies { name, principal } => {
                access::list_associated(inner, &name, &principal, &query).await
            }
            Operation::DisassociateAccessPolicy {
                name,
                principal,
                policy,
            } => access::disassociate(inner, &name, &principal, &policy).await,
            Operation::ListAccessPolicies => access::list_policies(&query),
            Operation::CreateNodegroup { name } => ng::create(inner, &name, body).await,
            Operation::ListNodegroups { name } => ng::list(inner, &name, &query).await,
            Operation::DescribeNodegroup { name, group } => {
                ng::describe(inner, &name, &group).await
            }
            Operation::DeleteNodegroup { name, group } => ng::delete(inner, &name, &group).await,
            Operation::UpdateNodegroupConfig { name, group } => {
                ng::update_config(inner, &name, &group, body).await
            }
            Operation::TagResource { arn } => tags::tag(inner, &arn, body).await,
            Operation::UntagResource { arn } => tags::untag(inner, &arn, &query).await,
            Operation::ListTagsForResource { arn } => tags::list(inner, &arn).await,
        }
    }
}

impl Inner {
    pub fn cluster_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:eks:{}:{}:cluster/{name}",
            self.region, self.account_id
        )
    }

    pub fn render_context(&self) -> RenderContext<'_> {
        RenderContext {
            issuer_base: self.supervisor.sts_endpoint(),
        }
    }

    /// Rewrites the cluster's auth config file after a change to its entries or mode.
    /// A cluster being deleted gets no new file (its directory may already be gone).
    pub fn publish_auth(&self, record: &crate::model::ClusterRecord) -> ApiResult<()> {
        let dir = self.supervisor.cluster_dir(&record.name);
        if record.status == ClusterStatus::Deleting || !dir.is_dir() {
            return Ok(());
        }
        crate::authfile::write(&dir, record, self.supervisor.sts_endpoint())?;
        Ok(())
    }
}

#[async_trait]
impl AwsService for Eks {
    async fn handle(
        &self,
        caller: &Principal,
        request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        let request_id = uuid::Uuid::new_v4().to_string();
        match self.dispatch(caller, request).await {
            Ok(body) => http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("x-amzn-RequestId", request_id.as_str())
                .body(Bytes::from(body.to_string()))
                .expect("static header names"),
            Err(error) => render_error(&error, &request_id),
        }
    }
}

fn render_error(error: &AwsError, request_id: &str) -> http::Response<Bytes> {
    error.to_rest_json(request_id)
}
