//! Kubernetes API machinery with no I/O: label and field selectors, the three patch formats
//! (JSON patch, JSON merge patch, strategic merge patch) and server-side apply with
//! managedFields.

pub mod apply;
pub mod patch;
pub mod selectors;
