//! The ownership bookkeeping of structured-merge-diff's `Updater`: who loses fields
//! when an object changes, what an applier may prune, and conflict detection.

use serde_json::Value;

use super::ApplyError;
use super::conflict::Conflict;
use super::fieldset::{FieldSet, Path, PathElement};
use super::managed::{ManagedFields, ManagedSet, ManagerId};
use super::merge::merge;
use super::typed::{Comparison, Schema, compare, field_set, remove_items};

pub(crate) struct Updater<'a> {
    pub schema: Schema<'a>,
    /// Fields nobody may own through this endpoint (upstream's reset fields).
    pub ignored: &'a FieldSet,
}

/// Fields the server manages; never recorded as owned (upstream's stripMeta, plus the
/// deletion fields, which only the server sets).
pub(crate) fn server_managed_fields() -> &'static FieldSet {
    // Built once: every write subtracts it.
    static SET: std::sync::OnceLock<FieldSet> = std::sync::OnceLock::new();
    SET.get_or_init(build_server_managed_fields)
}

fn build_server_managed_fields() -> FieldSet {
    let mut set = FieldSet::new();
    for path in [
        &["apiVersion"][..],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
        &["metadata", "deletionTimestamp"],
        &["metadata", "deletionGracePeriodSeconds"],
    ] {
        set.insert(&Path::fields(path).0);
    }
    set
}

impl Updater<'_> {
    fn with_named(&self, set: &FieldSet) -> FieldSet {
        let schema = self.schema;
        set.with_named_ancestors(&move |path: &[PathElement]| schema.is_declared(path))
    }

    /// Takes changed fields away from every manager but `workflow`: fields modified or
    /// added are conflicts (an error unless `force`), fields removed are simply lost.
    pub fn update_owners(
        &self,
        old: &Value,
        new: &Value,
        managed: &mut ManagedFields,
        workflow: &ManagerId,
        force: bool,
    ) -> Result<Comparison, ApplyError> {
        let mut comparison = compare(old, new, self.schema)?;
        comparison.exclude(self.ignored);
        let changed = comparison.modified.union(&comparison.added);

        let conflicts: Vec<(ManagerId, FieldSet)> = managed
            .entries
            .iter()
            .filter(|(id, _)| *id != workflow)
            .map(|(id, set)| (id.clone(), set.fields.intersection(&changed)))
            .filter(|(_, overlap)| !overlap.is_empty())
            .collect();
        if !force && !conflicts.is_empty() {
            let list = conflicts
                .iter()
                .flat_map(|(id, overlap)| {
                    overlap.paths().into_iter().map(|field_path| Conflict {
                        manager: id.clone(),
                        field_path,
                    })
                })
                .collect();
            return Err(ApplyError::Conflicts(list));
        }
        for (id, overlap) in &conflicts {
            if let Some(set) = managed.entries.get_mut(id) {
                set.fields = set.fields.difference(overlap);
            }
        }
        if !comparison.removed.is_empty() {
            for (id, set) in managed.entries.iter_mut() {
                if id != workflow {
                    set.fields = set.fields.difference(&comparison.removed);
                }
            }
        }
        managed.remove_empty();
        Ok(comparison)
    }

    /// Merges `config` into `live` for `id`, prunes what `id` stopped applying, and
    /// moves ownership. Returns the new object.
    pub fn apply(
        &self,
        live: &Value,
        config: &Value,
        managed: &mut ManagedFields,
        id: &ManagerId,
        api_version: &str,
        force: bool,
    ) -> Result<Value, ApplyError> {
        let merged = merge(live, config, self.schema)?;
        let previous = managed.entries.get(id).cloned();
        let applied_set = field_set(config, self.schema)?.recursive_difference(self.ignored);
        managed.entries.insert(
            id.clone(),
            ManagedSet {
                fields: applied_set,
                api_version: api_version.to_string(),
                time: previous.as_ref().and_then(|p| p.time.clone()),
            },
        );
        let new = match previous {
            Some(last) if !last.fields.is_empty() => self.prune(&merged, managed, &last.fields)?,
            _ => merged,
        };
        self.update_owners(live, &new, managed, id, force)?;
        Ok(new)
    }

    /// Removes from `merged` what the applier owned last time but no longer applies,
    /// unless someone (including the applier's new config) still owns it.
    fn prune(
        &self,
        merged: &Value,
        managed: &ManagedFields,
        last: &FieldSet,
    ) -> Result<Value, ApplyError> {
        let last = self.with_named(last);
        let pruned = remove_items(merged, &last, self.schema);

        // Add back whatever anyone owns: only unowned leftovers stay removed.
        let mut owned = FieldSet::new();
        for set in managed.entries.values() {
            owned.union_in_place(&set.fields);
        }
        let merged_set = self.with_named(&field_set(merged, self.schema)?);
        let pruned_set = self.with_named(&field_set(&pruned, self.schema)?);
        let keep = pruned_set.union(&self.with_named(&owned));
        let pruned = remove_items(merged, &merged_set.difference(&keep), self.schema);

        // Add back what the applier never owned ("dangling" fields of other writers).
        let pruned_set = self.with_named(&field_set(&pruned, self.schema)?);
        let really_removed = merged_set.difference(&pruned_set).intersection(&last);
        Ok(remove_items(merged, &really_removed, self.schema))
    }

    /// Attributes the changes from `old` to `new` to `id`. Returns whether `id` took
    /// any field (upstream then refreshes the entry's time).
    pub fn update(
        &self,
        old: &Value,
        new: &Value,
        managed: &mut ManagedFields,
        id: &ManagerId,
        api_version: &str,
        now: &str,
    ) -> Result<bool, ApplyError> {
        // Upstream runs the comparison under a placeholder manager so that only this
        // request's changes are attributed, then folds them into the real entry.
        let placeholder = ManagerId::new("\u{0}current-operation", id.operation, api_version, "");
        let comparison = self.update_owners(old, new, managed, &placeholder, true)?;
        let taken = comparison
            .modified
            .union(&comparison.added)
            .recursive_difference(self.ignored)
            .difference(server_managed_fields());
        if taken.is_empty() {
            return Ok(false);
        }
        let entry = managed
            .entries
            .entry(id.clone())
            .or_insert_with(|| ManagedSet {
                fields: FieldSet::new(),
                api_version: api_version.to_string(),
                time: None,
            });
        entry.fields.union_in_place(&taken);
        entry.api_version = api_version.to_string();
        entry.time = Some(now.to_string());
        Ok(true)
    }
}
