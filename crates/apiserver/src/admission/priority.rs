//! Upstream's Priority admission plugin: a pod's `priorityClassName` becomes its integer
//! `priority` (and `preemptionPolicy`); pods without one get the global default class, if any.

use serde_json::{Value, json};

use crate::handler::Ctx;
use crate::object::{storage_key, storage_prefix};
use crate::status::ApiError;

const GROUP: &str = "scheduling.k8s.io";

pub fn admit_pod(ctx: &Ctx, pod: &mut Value) -> Result<(), ApiError> {
    let requested = pod["spec"]["priorityClassName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let class = match &requested {
        Some(name) => {
            let key = storage_key(GROUP, "priorityclasses", None, name);
            match ctx.server.cache.get(GROUP, "priorityclasses", &key) {
                Some(found) => Some(found.value()?),
                None => {
                    let reason = format!("no PriorityClass with name {name} was found");
                    return Err(super::forbidden(ctx, pod, reason));
                }
            }
        }
        None => global_default(ctx)?,
    };
    let (priority, policy) = match &class {
        Some(class) => (
            class["value"].as_i64().unwrap_or(0),
            class["preemptionPolicy"]
                .as_str()
                .unwrap_or("PreemptLowerPriority")
                .to_string(),
        ),
        None => (0, "PreemptLowerPriority".to_string()),
    };
    if let Some(given) = pod["spec"]["priority"].as_i64()
        && given != priority
    {
        let reason = format!(
            "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
        );
        return Err(super::forbidden(ctx, pod, reason));
    }
    pod["spec"]["priority"] = json!(priority);
    if let Some(class) = &class
        && requested.is_none()
    {
        pod["spec"]["priorityClassName"] = class["metadata"]["name"].clone();
    }
    if pod["spec"]["preemptionPolicy"].as_str().is_none() {
        pod["spec"]["preemptionPolicy"] = json!(policy);
    }
    Ok(())
}

/// The PriorityClass marked globalDefault; with several, the lowest value, as upstream picks.
fn global_default(ctx: &Ctx) -> Result<Option<Value>, ApiError> {
    let (classes, _) = ctx.server.cache.list(
        GROUP,
        "priorityclasses",
        &storage_prefix(GROUP, "priorityclasses", None),
    );
    let mut best: Option<Value> = None;
    for class in classes {
        let class = class.value()?;
        if class["globalDefault"].as_bool() != Some(true) {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|b| class["value"].as_i64() < b["value"].as_i64())
        {
            best = Some(class);
        }
    }
    Ok(best)
}
