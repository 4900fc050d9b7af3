//! Admission: what upstream's default admission plugins do to an object between decoding and
//! storage, for the plugins Keelson runs.
//!
//! Mutating plugins run after the kind's defaults and before validation, as upstream orders
//! them: ServiceAccount, LimitRanger, DefaultTolerationSeconds and Priority on pods, the
//! ClusterIP and NodePort allocators on Services. The validating ResourceQuota plugin runs
//! after validation, last, because it charges the quota. A plugin that reserves something (a service IP, a node
//! port) returns a [`Reservation`], which the caller releases if the object is not stored
//! after all, so a refused or failed create leaks nothing.

mod limits;
mod pods;
mod priority;
mod quota;
pub mod service_ips;

use serde_json::Value;

use crate::handler::Ctx;
use crate::status::ApiError;

pub use service_ips::Reservation;

/// Run the mutating admission plugins for a create. `dry_run` still checks everything but
/// reserves nothing.
pub async fn admit_create(
    ctx: &Ctx,
    obj: &mut Value,
    dry_run: bool,
) -> Result<Reservation, ApiError> {
    match (
        ctx.resource.info.group.as_str(),
        ctx.resource.info.plural.as_str(),
        ctx.info.subresource.as_deref(),
    ) {
        ("", "pods", None) => {
            pods::admit(ctx, obj)?;
            limits::admit_pod(ctx, obj)?;
            priority::admit_pod(ctx, obj)?;
            Ok(Reservation::none())
        }
        ("", "services", None) => service_ips::allocate(ctx, obj, dry_run).await,
        _ => Ok(Reservation::none()),
    }
}

/// Run the validating admission plugins for a create of a valid object, just before it is
/// stored.
pub async fn validate_create(ctx: &Ctx, obj: &Value, dry_run: bool) -> Result<(), ApiError> {
    if ctx.info.subresource.is_some() {
        return Ok(());
    }
    quota::admit_create(ctx, obj, dry_run).await
}

/// Run after a Service was deleted from the store: give back what it held.
pub async fn released_on_delete(ctx: &Ctx, deleted: &Value) {
    service_ips::release_held_by(ctx, deleted).await;
}

/// The Forbidden error admission plugins answer with, worded as upstream's
/// `<resource> "<name>" is forbidden: <reason>`.
fn forbidden(ctx: &Ctx, obj: &Value, reason: String) -> ApiError {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    ApiError::Forbidden {
        message: format!(
            "{} \"{name}\" is forbidden: {reason}",
            ctx.resource.info.plural
        ),
        resource: ctx.resource.info.plural.clone(),
        group: ctx.resource.info.group.clone(),
        name,
    }
}
