//! The scheduler: kube-scheduler's default profile as a client of the Kubernetes API.
//!
//! The core (`model`, `cache`, `plugins`, `framework`, `queue`, `preemption`) is plain Rust over
//! small types and runs without a server; the glue watches the API and writes bindings,
//! events and pod status back through it.

pub mod bench;
pub mod cache;
pub mod convert;
pub mod framework;
mod informers;
pub mod labels;
pub mod model;
pub mod plugins;
pub mod preemption;
pub mod queue;
mod run;
pub mod state;
mod writer;

pub use run::{run, run_leading, run_named};

/// The scheduler name pods ask for by default.
pub const SCHEDULER_NAME: &str = "default-scheduler";

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("benchmark: {0}")]
    Bench(String),
}
