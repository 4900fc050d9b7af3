//! The [`keelson_store::Store`] interface on an etcd v3 cluster, over gRPC with `etcd-client`.
//!
//! The store interface was modelled on etcd v3, so most operations map onto one etcd request:
//! conditional writes are single transactions comparing `create_revision` / `mod_revision`,
//! reads are `Range` requests, and watches are etcd watches starting at `after_revision + 1`.
//!
//! Every key is stored under [`EtcdOptions::prefix`], which is prepended on the way in and
//! stripped on the way out, so several stores (or test runs) can share one etcd cluster. The
//! revision, though, is etcd's single global revision: writes outside the namespace bump it too.
//!
//! The client spawns no tasks of its own; the gRPC channel's background connection task belongs
//! to the `etcd-client` client and stops when the [`EtcdStore`] (and every watch stream opened
//! from it) is dropped.

mod convert;
mod error;
mod kv;
mod lease;
mod namespace;
mod options;
mod store;
mod watch;

pub use options::EtcdOptions;
pub use store::EtcdStore;
