//! The merge itself: upstream's `mergeMap`, `mergeSlice` and the directive handling
//! around them, on owned JSON values.

use serde_json::{Map, Value};

use super::errors::{
    SmpResult, bad_arg_type, bad_patch_type, bad_primitive_list_format, bad_retain_keys_format,
    bad_set_element_order_format, invalid, no_merge_key,
};
use super::meta::{ListStrategy, PatchSchema};
use super::order::{ItemKind, find_by_key, normalize_element_order, partition, split_deletions};
use super::{DELETE_FROM_PRIMITIVE_LIST, DIRECTIVE, RETAIN_KEYS, SET_ELEMENT_ORDER};
use crate::patch::gofmt::{go_eq, go_fmt, same_go_type};

type JsonMap = Map<String, Value>;

/// Removes maps carrying `$patch` (and the fields/items holding them), recursively;
/// `None` when `value` itself is one. Used for values the live object does not have.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.contains_key(DIRECTIVE) {
                return None;
            }
            let kept = map
                .into_iter()
                .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                .collect();
            Some(Value::Object(kept))
        }
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

/// Drops `null` map entries everywhere in a value added from the patch.
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// The value a patch sets where the live object has nothing comparable.
fn added_value(mut value: Value) -> Option<Value> {
    discard_nulls(&mut value);
    remove_directives(value)
}

/// Upstream's `extractKey`: the field a `$prefix/<field>` directive refers to.
fn directive_target(key: &str, prefix: &str) -> SmpResult<String> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field.to_string()),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => Err(bad_primitive_list_format()),
        _ => Err(bad_set_element_order_format()),
    }
}

/// Upstream's `sliceElementType`: all items must share one non-list type.
fn item_kind(lists: &[&[Value]]) -> SmpResult<ItemKind> {
    let mismatch = || {
        let all = Value::Array(lists.iter().map(|l| Value::Array(l.to_vec())).collect());
        invalid(format!(
            "list element types are not identical: {}",
            go_fmt(&all)
        ))
    };
    let mut first: Option<&Value> = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        match first {
            None => {
                if item.is_array() {
                    return Err(invalid("lists of lists are not supported".to_string()));
                }
                // Upstream dereferences a nil type here and panics.
                if item.is_null() {
                    return Err(mismatch());
                }
                first = Some(item);
            }
            Some(first) if !same_go_type(first, item) => return Err(mismatch()),
            Some(_) => {}
        }
    }
    match first {
        None => Err(invalid(
            "no elements in any of the given slices".to_string(),
        )),
        Some(Value::Object(_)) => Ok(ItemKind::Map),
        Some(_) => Ok(ItemKind::Primitive),
    }
}

/// Upstream's `deduplicateScalars` (its swap-with-last order included).
fn dedupe_scalars(mut items: Vec<Value>) -> Vec<Value> {
    let mut i = 0;
    while i + 1 < items.len() {
        let mut j = i + 1;
        while j < items.len() {
            if go_eq(Some(&items[i]), Some(&items[j])) {
                items.swap_remove(j);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    items
}

fn strategy_parts(strategy: &ListStrategy) -> (bool, &str) {
    match strategy {
        ListStrategy::Replace => (false, ""),
        ListStrategy::MergePrimitives => (true, ""),
        ListStrategy::MergeByKey(key) => (true, key),
    }
}

pub(super) struct Merger<'m> {
    pub(super) meta: &'m dyn PatchSchema,
    /// Field path of the map being merged (list items add no step).
    pub(super) path: Vec<String>,
}

impl Merger<'_> {
    fn list_strategy(&self, field: &str) -> ListStrategy {
        let mut path: Vec<&str> = self.path.iter().map(String::as_str).collect();
        path.push(field);
        self.meta.list_strategy(&path)
    }

    fn replaces_map(&self, field: &str) -> bool {
        let mut path: Vec<&str> = self.path.iter().map(String::as_str).collect();
        path.push(field);
        self.meta.replaces_map(&path)
    }

    /// Upstream's `mergeMap`.
    pub(super) fn merge_map(
        &mut self,
        original: Option<JsonMap>,
        mut patch: JsonMap,
    ) -> SmpResult<JsonMap> {
        if let Some(directive) = patch.get(DIRECTIVE).cloned() {
            return match directive.as_str() {
                Some("replace") => {
                    patch.remove(DIRECTIVE);
                    Ok(patch)
                }
                Some("delete") => Ok(JsonMap::new()),
                _ => Err(bad_patch_type(&directive, &Value::Object(patch))),
            };
        }
        let mut original = original.unwrap_or_default();
        apply_retain_keys(&mut original, &mut patch)?;
        self.merge_element_orders(&mut original, &mut patch)?;

        for (key, patch_value) in patch {
            let (field, is_delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
                (directive_target(&key, DELETE_FROM_PRIMITIVE_LIST)?, true)
            } else {
                (key, false)
            };
            if patch_value.is_null() {
                original.remove(&field);
                continue;
            }
            let Some(live) = original.remove(&field) else {
                if !is_delete_list && let Some(value) = added_value(patch_value) {
                    original.insert(field, value);
                }
                continue;
            };
            if !same_go_type(&live, &patch_value) {
                if is_delete_list {
                    original.insert(field, live);
                } else if let Some(value) = added_value(patch_value) {
                    original.insert(field, value);
                }
                continue;
            }
            let merged = match (live, patch_value) {
                (Value::Object(live), Value::Object(patch_map)) => {
                    if self.replaces_map(&field) {
                        Some(Value::Object(patch_map))
                    } else {
                        self.path.push(field.clone());
                        let merged = self.merge_map(Some(live), patch_map);
                        self.path.pop();
                        Some(Value::Object(merged?))
                    }
                }
                (Value::Array(live), Value::Array(patch_list)) => {
                    let strategy = self.list_strategy(&field);
                    self.path.push(field.clone());
                    let merged = self.merge_list(live, patch_list, &strategy, is_delete_list);
                    self.path.pop();
                    Some(Value::Array(merged?))
                }
                (_, scalar) => remove_directives(scalar),
            };
            if let Some(merged) = merged {
                original.insert(field, merged);
            }
        }
        Ok(original)
    }

    /// Upstream's `mergeSliceHandler`: merge lists with a merge strategy (and deletion
    /// lists), replace the others.
    fn merge_list(
        &mut self,
        live: Vec<Value>,
        patch: Vec<Value>,
        strategy: &ListStrategy,
        is_delete_list: bool,
    ) -> SmpResult<Vec<Value>> {
        let (merges, merge_key) = strategy_parts(strategy);
        if merges || is_delete_list {
            self.merge_slice(live, patch, merge_key, is_delete_list)
        } else {
            Ok(patch)
        }
    }

    /// Upstream's `mergeSlice`.
    fn merge_slice(
        &mut self,
        original: Vec<Value>,
        patch: Vec<Value>,
        merge_key: &str,
        is_delete_list: bool,
    ) -> SmpResult<Vec<Value>> {
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        let kind = item_kind(&[&original, &patch])?;
        let (server_order, patch, merged) = if kind == ItemKind::Primitive {
            if is_delete_list {
                let remaining = original
                    .into_iter()
                    .filter(|v| !patch.iter().any(|d| go_eq(Some(d), Some(v))))
                    .collect();
                return Ok(remaining);
            }
            let mut both = original.clone();
            both.extend(patch.iter().cloned());
            (original, patch, dedupe_scalars(both))
        } else {
            if merge_key.is_empty() {
                return Err(invalid(
                    "cannot merge lists without merge key for struct".to_string(),
                ));
            }
            let (original, patch) = merge_special_items(original, patch, merge_key)?;
            let merged = self.merge_keyed_items(original.clone(), &patch, merge_key)?;
            (original, patch, merged)
        };
        let (patch_items, server_only) = partition(merged, &patch, merge_key)?;
        normalize_element_order(
            patch_items,
            server_only,
            &patch,
            &server_order,
            merge_key,
            kind,
        )
    }

    /// Upstream's `mergeSliceWithoutSpecialElements`: merges each patch item into the
    /// live item with the same key, or appends it.
    fn merge_keyed_items(
        &mut self,
        mut original: Vec<Value>,
        patch: &[Value],
        merge_key: &str,
    ) -> SmpResult<Vec<Value>> {
        for item in patch {
            let Some(item_map) = item.as_object() else {
                return Err(bad_arg_type("map[string]interface {}", item));
            };
            let Some(key_value) = item_map.get(merge_key) else {
                return Err(no_merge_key(item, merge_key));
            };
            match find_by_key(&original, merge_key, key_value)? {
                Some(i) => {
                    let live = match std::mem::take(&mut original[i]) {
                        Value::Object(map) => map,
                        _ => JsonMap::new(),
                    };
                    let merged = self.merge_map(Some(live), item_map.clone())?;
                    original[i] = Value::Object(merged);
                }
                None => original.push(item.clone()),
            }
        }
        Ok(original)
    }

    /// Upstream's `mergePatchIntoOriginal`: merges each list named by a
    /// `$setElementOrder/<field>` directive and orders it as the directive says.
    fn merge_element_orders(
        &mut self,
        original: &mut JsonMap,
        patch: &mut JsonMap,
    ) -> SmpResult<()> {
        let directives: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
            .cloned()
            .collect();
        for directive in directives {
            let Some(order) = patch.remove(&directive) else {
                continue;
            };
            let Value::Array(order) = order else {
                return Err(bad_arg_type("[]interface {}", &order));
            };
            let field = directive_target(&directive, SET_ELEMENT_ORDER)?;
            let live = list_field(original, &field)?;
            let patched = list_field(patch, &field)?;
            let strategy = self.list_strategy(&field);
            let (_, merge_key) = strategy_parts(&strategy);
            validate_order(patched.as_deref().unwrap_or_default(), &order, merge_key)?;

            let merged = match (live.clone(), patched.clone()) {
                (Some(live), None) => live,
                (None, Some(patched)) => match remove_directives(Value::Array(patched)) {
                    Some(Value::Array(items)) => items,
                    _ => continue,
                },
                (Some(live), Some(patched)) => {
                    self.path.push(field.clone());
                    let merged = self.merge_list(live, patched, &strategy, false);
                    self.path.pop();
                    merged?
                }
                (None, None) => continue,
            };
            let (named, others) = partition(merged, &order, merge_key)?;
            let live = live.unwrap_or_default();
            let patched = patched.unwrap_or_default();
            let kind = item_kind(&[&live, &patched])?;
            let server_order = if strategy_parts(&strategy).0 && kind == ItemKind::Map {
                go_aliased_live_list(live, &patched, merge_key)
            } else {
                live
            };
            let ordered =
                normalize_element_order(named, others, &order, &server_order, merge_key, kind)?;
            original.insert(field.clone(), Value::Array(ordered));
            patch.remove(&field);
        }
        Ok(())
    }
}

/// The live list as upstream's `mergePatchIntoOriginal` sees it after merging: Go
/// deletes `$patch: delete` items by shifting within the same backing array and appends
/// new items into the freed slots, so its view of the live list (used to order
/// live-only items) changes. kubectl's three-way patches hit this, and upstream's
/// expected results depend on it.
fn go_aliased_live_list(live: Vec<Value>, patch: &[Value], merge_key: &str) -> Vec<Value> {
    // `view` is the live slice header (fixed length); `current` the growing list.
    let mut view = live.clone();
    let mut current = live;
    let position = |list: &[Value], value: &Value| {
        list.iter().position(|item| {
            item.get(merge_key)
                .is_some_and(|v| go_eq(Some(v), Some(value)))
        })
    };
    let mut replace = false;
    let mut plain = Vec::new();
    for item in patch {
        match item.get(DIRECTIVE) {
            None => plain.push(item),
            Some(directive) if directive.as_str() == Some("delete") => {
                let Some(key) = item.get(merge_key) else {
                    continue;
                };
                while let Some(i) = position(&current, key) {
                    // Deletions happen before any append, so `current` still shares
                    // `view`'s array: shift the view the same way.
                    for j in i..current.len() - 1 {
                        view[j] = view[j + 1].clone();
                    }
                    current.remove(i);
                }
            }
            Some(directive) if directive.as_str() == Some("replace") => replace = true,
            Some(_) => {}
        }
    }
    if replace {
        return view;
    }
    for item in plain {
        let Some(key) = item.get(merge_key) else {
            continue;
        };
        if position(&current, key).is_none() {
            if let Some(slot) = view.get_mut(current.len()) {
                *slot = item.clone();
            }
            current.push(item.clone());
        }
    }
    view
}

/// A list-valued field of `map`, if present.
fn list_field(map: &JsonMap, field: &str) -> SmpResult<Option<Vec<Value>>> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(other) => Err(bad_arg_type("[]interface {}", other)),
    }
}

/// Upstream's `applyRetainKeysDirective`: keeps only the listed live keys, after
/// checking the patch sets no other key.
fn apply_retain_keys(original: &mut JsonMap, patch: &mut JsonMap) -> SmpResult<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(bad_retain_keys_format());
    };
    let listed = |key: &str| {
        let key = Value::String(key.to_string());
        retain.iter().any(|v| go_eq(Some(v), Some(&key)))
    };
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(key) {
            return Err(bad_retain_keys_format());
        }
    }
    original.retain(|key, _| listed(key));
    Ok(())
}

/// Upstream's `mergeSliceWithSpecialElements`: applies `$patch: delete` items to the
/// live list and `$patch: replace` to the whole list; returns the live list and the
/// patch items left to merge.
fn merge_special_items(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> SmpResult<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        let directive = item.get(DIRECTIVE).cloned();
        let Some(directive) = directive else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(key_value) = item.get(merge_key) else {
                    return Err(no_merge_key(&item, merge_key));
                };
                while let Some(i) = find_by_key(&original, merge_key, key_value)? {
                    original.remove(i);
                }
            }
            // Keep going: other directive items are still validated and dropped.
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(invalid(
                    "merging lists cannot yet be specified in the patch".to_string(),
                ));
            }
            _ => return Err(bad_patch_type(&directive, &item)),
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Upstream's `validatePatchWithSetOrderList`: the patch's items must appear in the
/// directive's list, in the same relative order.
fn validate_order(patch: &[Value], order: &[Value], merge_key: &str) -> SmpResult<()> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let items = if merge_key.is_empty() {
        patch.to_vec()
    } else {
        split_deletions(patch.to_vec())?.0
    };
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if items[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if key_equal(&items[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() && o >= order.len() {
        return Err(invalid(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_fmt(&Value::Array(patch.to_vec())),
            go_fmt(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

/// Upstream's `mergeKeyValueEqual`.
fn key_equal(left: &Value, right: &Value, merge_key: &str) -> SmpResult<bool> {
    if merge_key.is_empty() {
        return Ok(go_eq(Some(left), Some(right)));
    }
    let value_of = |item: &Value| -> SmpResult<Value> {
        let Some(map) = item.as_object() else {
            return Err(bad_arg_type("map[string]interface {}", item));
        };
        map.get(merge_key)
            .cloned()
            .ok_or_else(|| no_merge_key(item, merge_key))
    };
    Ok(go_eq(Some(&value_of(left)?), Some(&value_of(right)?)))
}
