//! Kept only for the workload controllers still importing the recorder from here (deployment,
//! replicaset); new code uses [`crate::events`].

pub use crate::events::{NORMAL, Recorder, WARNING, reference_to};
