//! `keelson bench api`: an end-to-end benchmark of the Kubernetes API server.
//!
//! The bench runs the control plane as a child process (the same `keelson` binary with
//! `control-plane`), reads the admin kubeconfig it writes and drives it over HTTPS/HTTP2 exactly as
//! a client would, so the numbers include TLS, HTTP/2, authentication, admission, encoding, the
//! store and the watch cache. In the same run it opens the raw store backend directly, so the API
//! server's overhead reads as a ratio measured under the same machine noise.
//!
//! Layout: [`stats`] and [`report`] are pure (unit tested); [`client`] is the HTTPS client;
//! [`process`] and [`etcd`] own the child processes; [`driver`] runs N sequential clients;
//! [`api`], [`watch`], [`raw`] and [`lifecycle`] are the workloads; [`run`] ties them together.

mod error;

pub mod api;
pub mod client;
pub mod driver;
pub mod etcd;
pub mod kubeconfig;
pub mod lifecycle;
pub mod machine;
pub mod options;
pub mod process;
pub mod raw;
pub mod report;
pub mod run;
pub mod stats;
pub mod watch;

pub use error::BenchError;
pub use options::{BenchOptions, StoreChoice};
pub use raw::{RawTarget, StoreOpener};
pub use run::run_api_bench;
