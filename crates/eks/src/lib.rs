//! The EKS API of Keelson's regional service (`keelson server`): clusters on demand.
//!
//! Each cluster is a real `keelson control-plane` child process with its own data directory
//! under `DATA_DIR/clusters/NAME`, kept running by the [`supervisor`]. Everything the API
//! knows about a cluster (status, configuration, access entries, updates, tags) is one JSON
//! document in the store, written by compare-and-swap; the cluster's access entries are also
//! published to its API server as a [`keelson_aws_core::access::ClusterAuthConfig`] file.
//! Restarting the service on the same directory and store brings every cluster back on the
//! same endpoint with the same CA and data.
//!
//! Requests arrive authenticated (the front door verified SigV4) through [`AwsService`];
//! every operation is authorised with IAM's [`Authorizer`] as `eks:<Operation>` on the
//! cluster's ARN (or `*` for account-wide operations).

mod access;
mod authfile;
mod cgroup;
mod clusters;
mod error;
mod model;
mod nodegroups;
mod pagination;
mod probe;
mod process;
mod records;
mod router;
mod service;
mod supervisor;
mod tags;
mod updates;
mod validate;

pub use error::EksError;
pub use nodegroups::launcher::{NodeLauncher, NodeSpec, RunningNode, SimNodesLauncher};
pub use service::{Eks, EksConfig};
pub use validate::{DEFAULT_VERSION, SUPPORTED_VERSIONS};
