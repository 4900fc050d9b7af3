//! The ClusterIP and NodePort allocators, run inside the API server as upstream's are.
//!
//! Each allocated address or port is a key of its own in the store
//! (`/registry/@allocations/{serviceips,nodeports}/<value>`, see
//! [`crate::object::INTERNAL_PREFIX`]), taken with create-if-absent. That
//! makes allocation safe with several API servers on one store (the `create` is the lock), and
//! needs no allocator state beyond the store. The key's value names the Service's uid, so a
//! release only ever frees what that Service holds. A Service refused after its reservation,
//! or a crash between the two writes, is covered: the caller releases the [`Reservation`],
//! and [`repair`] frees keys whose Service is gone.

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;
use keelson_store::{RangeRequest, Store, StoreError};
use rand::Rng;
use serde_json::{Value, json};

use crate::handler::Ctx;
use crate::server::ApiServer;
use crate::status::{ApiError, FieldCause};

const IP_PREFIX: &str = "/registry/@allocations/serviceips/";
const PORT_PREFIX: &str = "/registry/@allocations/nodeports/";

/// Keys taken for one object, released unless the object is stored.
#[must_use = "a reservation must be kept (the object was stored) or released"]
pub struct Reservation {
    store: Option<Arc<dyn Store>>,
    keys: Vec<String>,
}

impl Reservation {
    pub fn none() -> Reservation {
        Reservation {
            store: None,
            keys: Vec::new(),
        }
    }

    /// The object was stored: its allocations now belong to it.
    pub fn keep(self) {}

    /// The object was not stored: free what was taken for it.
    pub async fn release(self) {
        if let Some(store) = self.store {
            for key in self.keys {
                let _ = store.delete(&key, None).await;
            }
        }
    }
}

/// Assign `spec.clusterIP(s)` and node ports to a Service being created.
pub async fn allocate(ctx: &Ctx, svc: &mut Value, dry_run: bool) -> Result<Reservation, ApiError> {
    let service_type = svc["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_string();
    if service_type == "ExternalName" {
        return Ok(Reservation::none());
    }
    let uid = svc["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = svc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut reservation = Reservation {
        store: (!dry_run).then(|| ctx.server.store.clone()),
        keys: Vec::new(),
    };
    let result = async {
        let requested = svc["spec"]["clusterIP"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if requested != "None" {
            let ip = if requested.is_empty() {
                take_free_ip(ctx, &uid, dry_run, &mut reservation).await?
            } else {
                take_given_ip(ctx, &name, &requested, &uid, dry_run, &mut reservation).await?
            };
            svc["spec"]["clusterIP"] = json!(ip);
            svc["spec"]["clusterIPs"] = json!([ip]);
        } else {
            svc["spec"]["clusterIPs"] = json!(["None"]);
        }
        if matches!(service_type.as_str(), "NodePort" | "LoadBalancer") {
            let ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
            let mut assigned = Vec::with_capacity(ports.len());
            for (index, mut port) in ports.into_iter().enumerate() {
                let node_port = match port["nodePort"].as_u64() {
                    Some(given) => {
                        take_given_port(ctx, &name, given, index, &uid, dry_run, &mut reservation)
                            .await?
                    }
                    None => take_free_port(ctx, &uid, dry_run, &mut reservation).await?,
                };
                port["nodePort"] = json!(node_port);
                assigned.push(port);
            }
            svc["spec"]["ports"] = json!(assigned);
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(reservation),
        Err(err) => {
            reservation.release().await;
            Err(err)
        }
    }
}

async fn take_free_ip(
    ctx: &Ctx,
    uid: &str,
    dry_run: bool,
    reservation: &mut Reservation,
) -> Result<String, ApiError> {
    let (network, prefix) = ctx.server.config.service_cidr;
    let size = 1u64 << (32 - u32::from(prefix));
    let base = u32::from(network);
    let reserved = ctx.server.config.kubernetes_service_ip.as_str();
    // Start at a random offset so concurrent creates rarely contend for the same key.
    let start = rand::rng().random_range(1..size - 1);
    for step in 0..size - 2 {
        let offset = 1 + (start - 1 + step) % (size - 2);
        let ip = Ipv4Addr::from(base + offset as u32).to_string();
        if ip == reserved {
            continue;
        }
        if try_take(ctx, IP_PREFIX, &ip, uid, dry_run, reservation).await? {
            return Ok(ip);
        }
    }
    Err(ApiError::Internal(
        "failed to allocate a serviceIP: range is full".into(),
    ))
}

async fn take_given_ip(
    ctx: &Ctx,
    svc_name: &str,
    requested: &str,
    uid: &str,
    dry_run: bool,
    reservation: &mut Reservation,
) -> Result<String, ApiError> {
    let (network, prefix) = ctx.server.config.service_cidr;
    let invalid = |message: String| invalid_field(svc_name, "spec.clusterIPs", requested, message);
    let Ok(ip) = requested.parse::<Ipv4Addr>() else {
        return Err(invalid("must be a valid IP address".into()));
    };
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    if u32::from(ip) & mask != u32::from(network) & mask {
        return Err(invalid(format!(
            "failed to allocate IP {requested}: the provided network does not match the current range"
        )));
    }
    if requested == ctx.server.config.kubernetes_service_ip
        || !try_take(ctx, IP_PREFIX, requested, uid, dry_run, reservation).await?
    {
        return Err(invalid(format!(
            "failed to allocate IP {requested}: provided IP is already allocated"
        )));
    }
    Ok(requested.to_string())
}

async fn take_free_port(
    ctx: &Ctx,
    uid: &str,
    dry_run: bool,
    reservation: &mut Reservation,
) -> Result<u64, ApiError> {
    let range = ctx.server.config.node_port_range.clone();
    let (low, high) = (u64::from(*range.start()), u64::from(*range.end()));
    let size = high - low + 1;
    let start = rand::rng().random_range(0..size);
    for step in 0..size {
        let port = low + (start + step) % size;
        if try_take(
            ctx,
            PORT_PREFIX,
            &port.to_string(),
            uid,
            dry_run,
            reservation,
        )
        .await?
        {
            return Ok(port);
        }
    }
    Err(ApiError::Internal(
        "failed to allocate a nodePort: range is full".into(),
    ))
}

async fn take_given_port(
    ctx: &Ctx,
    svc_name: &str,
    port: u64,
    index: usize,
    uid: &str,
    dry_run: bool,
    reservation: &mut Reservation,
) -> Result<u64, ApiError> {
    let range = ctx.server.config.node_port_range.clone();
    let field = format!("spec.ports[{index}].nodePort");
    if !(u64::from(*range.start())..=u64::from(*range.end())).contains(&port) {
        return Err(invalid_field(
            svc_name,
            &field,
            &port.to_string(),
            format!(
                "provided port is not in the valid range. The range of valid ports is {}-{}",
                range.start(),
                range.end()
            ),
        ));
    }
    if !try_take(
        ctx,
        PORT_PREFIX,
        &port.to_string(),
        uid,
        dry_run,
        reservation,
    )
    .await?
    {
        return Err(invalid_field(
            svc_name,
            &field,
            &port.to_string(),
            "provided port is already allocated".into(),
        ));
    }
    Ok(port)
}

/// Take one allocation key; false if another object holds it.
async fn try_take(
    ctx: &Ctx,
    prefix: &str,
    value: &str,
    uid: &str,
    dry_run: bool,
    reservation: &mut Reservation,
) -> Result<bool, ApiError> {
    debug_assert!(prefix.starts_with(crate::object::INTERNAL_PREFIX));
    let key = format!("{prefix}{value}");
    if dry_run {
        let (found, _) = ctx.server.store.get(&key, None).await?;
        return Ok(found.is_none());
    }
    match ctx
        .server
        .store
        .create(&key, Bytes::from(uid.to_string()), None)
        .await
    {
        Ok(_) => {
            reservation.keys.push(key);
            Ok(true)
        }
        Err(StoreError::AlreadyExists { .. }) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// A deleted Service gives back its address and node ports (only keys naming its uid).
pub async fn release_held_by(ctx: &Ctx, svc: &Value) {
    let uid = svc["metadata"]["uid"].as_str().unwrap_or_default();
    let mut keys = Vec::new();
    if let Some(ip) = svc["spec"]["clusterIP"].as_str() {
        keys.push(format!("{IP_PREFIX}{ip}"));
    }
    for port in svc["spec"]["ports"].as_array().into_iter().flatten() {
        if let Some(node_port) = port["nodePort"].as_u64() {
            keys.push(format!("{PORT_PREFIX}{node_port}"));
        }
    }
    for key in keys {
        release_if_held(&ctx.server.store, &key, uid).await;
    }
}

async fn release_if_held(store: &Arc<dyn Store>, key: &str, uid: &str) {
    if let Ok((Some(kv), _)) = store.get(key, None).await
        && kv.value == uid.as_bytes()
    {
        let _ = store.delete(key, Some(kv.mod_revision)).await;
    }
}

/// Upstream's repair controllers: free allocation keys whose Service no longer exists, left
/// by writes interrupted between the reservation and the Service. A key is freed only when two
/// passes `REPAIR_INTERVAL` apart both found it orphaned at the same revision, so a create in
/// flight (reserved, not yet stored) is never robbed.
pub async fn repair_loop(server: Arc<ApiServer>) {
    let mut suspects = std::collections::HashMap::new();
    loop {
        tokio::select! {
            _ = server.shutdown.cancelled() => return,
            _ = tokio::time::sleep(REPAIR_INTERVAL) => {}
        }
        match repair_pass(&server, &mut suspects).await {
            Ok(0) => {}
            Ok(freed) => tracing::info!(
                freed,
                "freed service IPs and node ports of vanished Services"
            ),
            Err(err) => tracing::warn!(%err, "service allocation repair failed"),
        }
    }
}

const REPAIR_INTERVAL: std::time::Duration = std::time::Duration::from_secs(180);

async fn repair_pass(
    server: &ApiServer,
    suspects: &mut std::collections::HashMap<String, keelson_store::Revision>,
) -> Result<usize, StoreError> {
    let mut held = Vec::new();
    for prefix in [IP_PREFIX, PORT_PREFIX] {
        held.extend(server.store.range(RangeRequest::prefix(prefix)).await?.kvs);
    }
    // Listed after the keys: a Service stored before its key was read is in the cache now.
    let mut live = std::collections::HashSet::new();
    let prefix = crate::object::storage_prefix("", "services", None);
    for svc in server.cache.list("", "services", &prefix).0 {
        if let Ok(value) = svc.value()
            && let Some(uid) = value["metadata"]["uid"].as_str()
        {
            live.insert(uid.to_string());
        }
    }
    let mut next = std::collections::HashMap::new();
    let mut freed = 0;
    for kv in held {
        if live.contains(String::from_utf8_lossy(&kv.value).as_ref()) {
            continue;
        }
        if suspects.get(&kv.key) == Some(&kv.mod_revision) {
            if server
                .store
                .delete(&kv.key, Some(kv.mod_revision))
                .await
                .is_ok()
            {
                freed += 1;
            }
        } else {
            next.insert(kv.key, kv.mod_revision);
        }
    }
    *suspects = next;
    Ok(freed)
}

fn invalid_field(svc_name: &str, field: &str, value: &str, message: String) -> ApiError {
    ApiError::Invalid {
        group: String::new(),
        kind: "Service".into(),
        name: svc_name.to_string(),
        causes: vec![FieldCause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: \"{value}\": {message}"),
            field: field.into(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_keys_are_not_objects() {
        for prefix in [IP_PREFIX, PORT_PREFIX] {
            assert!(prefix.starts_with(crate::object::INTERNAL_PREFIX));
            assert_eq!(
                crate::object::resource_of_key(&format!("{prefix}10.96.0.7")),
                None
            );
        }
    }
}
