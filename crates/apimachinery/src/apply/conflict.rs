//! Apply conflicts and the strings of upstream's 409 response.

use serde_json::{Value, json};

use super::fieldset::Path;
use super::managed::ManagerId;

/// A field the applier wants to change that another manager owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub manager: ManagerId,
    pub field_path: Path,
}

impl Conflict {
    /// `conflict with "mgr" using apps/v1` (a StatusCause message).
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager.describe())
    }

    /// `.spec.replicas` (a StatusCause field).
    pub fn field(&self) -> String {
        self.field_path.to_string()
    }
}

/// One entry of `Status.details.causes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictCause {
    /// Always `FieldManagerConflict`.
    pub reason: &'static str,
    pub message: String,
    pub field: String,
}

pub const FIELD_MANAGER_CONFLICT: &str = "FieldManagerConflict";

/// The causes upstream attaches to an apply conflict, one per conflicting field.
pub fn conflict_causes(conflicts: &[Conflict]) -> Vec<ConflictCause> {
    conflicts
        .iter()
        .map(|c| ConflictCause {
            reason: FIELD_MANAGER_CONFLICT,
            message: c.cause_message(),
            field: c.field(),
        })
        .collect()
}

/// Upstream's Status message, e.g.
/// `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas`;
/// with several conflicts they are grouped per manager, one `- path` line each.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager.describe(),
            only.field_path
        );
    }
    let mut managers: Vec<&super::managed::ManagerId> = Vec::new();
    for c in conflicts {
        if !managers.contains(&&c.manager) {
            managers.push(&c.manager);
        }
    }
    // Upstream sorts by the manager's identifier string.
    managers.sort_by_key(|m| m.identifier());
    let mut lines = Vec::new();
    for manager in managers {
        lines.push(format!("conflicts with {}:", manager.describe()));
        for c in conflicts.iter().filter(|c| &c.manager == manager) {
            lines.push(format!("- {}", c.field_path));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// The complete `409 Conflict` Status object upstream returns.
pub fn conflict_status(conflicts: &[Conflict]) -> Value {
    let causes: Vec<Value> = conflict_causes(conflicts)
        .into_iter()
        .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
        .collect();
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": conflict_message(conflicts),
        "reason": "Conflict",
        "details": {"causes": causes},
        "code": 409
    })
}
