//! The Kubernetes API server of a Keelson control plane (under construction).
//!
//! Landed so far: the pieces that need no other unfinished crate — request routing
//! ([`request`]), body decoding and content negotiation ([`codec`]), the one mapping of errors to
//! `metav1.Status` ([`status`]), the registry of served resources including custom resources
//! ([`registry`]), configuration and `/version` ([`config`]), responses and metrics.
//!
//! Architecture invariant: this crate is the only Kubernetes component that holds a `Store`.

pub mod codec;
pub mod config;
pub mod metrics;
pub mod registry;
pub mod request;
pub mod response;
pub mod status;

pub use config::Config;
