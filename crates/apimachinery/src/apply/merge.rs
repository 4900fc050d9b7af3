//! Merging an applied configuration into the live object, as structured-merge-diff's
//! `Merge`: the applied side wins on leaves and atomic values, granular maps merge
//! per key, list-maps and sets merge per item while keeping a stable order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Map, Value};

use super::ApplyError;
use super::fieldset::PathElement;
use super::listmeta::{ListType, MapType};
use super::typed::{Schema, Shape, Walk, shape_of};

static NULL: Value = Value::Null;

/// Merges `applied` over `live`.
pub(crate) fn merge(
    live: &Value,
    applied: &Value,
    schema: Schema<'_>,
) -> Result<Value, ApplyError> {
    let merged = Walk::new(schema).merge(Some(live), Some(applied))?;
    Ok(merged.unwrap_or_else(|| Value::Object(Map::new())))
}

fn is_empty_or_absent(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

impl Walk<'_> {
    /// `None` when the merge leaves nothing (upstream's nil output).
    pub fn merge(
        &mut self,
        lhs: Option<&Value>,
        rhs: Option<&Value>,
    ) -> Result<Option<Value>, ApplyError> {
        // The applied side decides the shape; a null takes the other side's shape, so
        // `field: null` on a granular map keeps the live entries.
        let shape = rhs
            .and_then(shape_of)
            .or_else(|| lhs.and_then(shape_of))
            .unwrap_or(Shape::Scalar);
        let keep_rhs = || rhs.or(lhs).cloned();
        match shape {
            Shape::Scalar => Ok(keep_rhs()),
            Shape::Map => {
                if self.map_type() == MapType::Atomic
                    || (is_empty_or_absent(lhs) && is_empty_or_absent(rhs))
                {
                    return Ok(keep_rhs());
                }
                let empty = Map::new();
                let left = lhs.and_then(Value::as_object).unwrap_or(&empty);
                let right = rhs.and_then(Value::as_object).unwrap_or(&empty);
                let mut out = Map::new();
                let keys = left
                    .keys()
                    .chain(right.keys().filter(|k| !left.contains_key(*k)));
                for key in keys {
                    self.push_field(key);
                    let merged = self.merge(left.get(key), right.get(key))?;
                    self.pop_field();
                    if let Some(merged) = merged {
                        out.insert(key.clone(), merged);
                    }
                }
                Ok((!out.is_empty()).then_some(Value::Object(out)))
            }
            Shape::List => {
                let list_type = self.list_type();
                if list_type == ListType::Atomic
                    || (is_empty_or_absent(lhs) && is_empty_or_absent(rhs))
                {
                    return Ok(keep_rhs());
                }
                let none = Vec::new();
                let left = lhs.and_then(Value::as_array).unwrap_or(&none);
                let right = rhs.and_then(Value::as_array).unwrap_or(&none);
                self.merge_lists(&list_type, left, right)
            }
        }
    }

    /// Keeps live items in place, inserts applied items after their applied
    /// predecessor, and follows the applied order for items present on both sides.
    fn merge_lists(
        &mut self,
        list_type: &ListType,
        left: &[Value],
        right: &[Value],
    ) -> Result<Option<Value>, ApplyError> {
        let mut right_elements = Vec::with_capacity(right.len());
        let mut right_items: BTreeMap<PathElement, &Value> = BTreeMap::new();
        for (i, item) in right.iter().enumerate() {
            let element = self.item_element(list_type, i, item)?;
            if right_items.insert(element.clone(), item).is_some() {
                return Err(self.invalid(format!("duplicate entries for key {element}")));
            }
            right_elements.push(element);
        }
        let mut left_elements = Vec::with_capacity(left.len());
        let mut left_items: BTreeMap<PathElement, &Value> = BTreeMap::new();
        for (i, item) in left.iter().enumerate() {
            let element = self.item_element(list_type, i, item)?;
            // Live objects may hold duplicates; their merged value is unknowable, so
            // like upstream the applied item is merged against nothing.
            left_items
                .entry(element.clone())
                .and_modify(|v| *v = &NULL)
                .or_insert(item);
            left_elements.push(element);
        }

        let mut shared_order: VecDeque<&PathElement> = right_elements
            .iter()
            .filter(|e| left_items.contains_key(*e))
            .collect();
        let mut next_shared = shared_order.pop_front();
        let mut merged_right: BTreeSet<PathElement> = BTreeSet::new();
        let mut out = Vec::with_capacity(left.len().max(right.len()));
        let (mut li, mut ri) = (0, 0);
        while li < left_elements.len() || ri < right_elements.len() {
            if li < left_elements.len() && ri < right_elements.len() {
                let element = &left_elements[li];
                if *element == right_elements[ri] {
                    merged_right.insert(element.clone());
                    let merged = self.merge_item(
                        element,
                        left_items.get(element).copied(),
                        right_items.get(element).copied(),
                    )?;
                    out.extend(merged);
                    li += 1;
                    ri += 1;
                    next_shared = shared_order.pop_front();
                    continue;
                }
                // A shared item that the applied order wants later: skip it here, it
                // is emitted when the applied side reaches it.
                if right_items.contains_key(element) && next_shared.is_some_and(|n| n != element) {
                    li += 1;
                    continue;
                }
            }
            if li < left_elements.len() {
                let element = &left_elements[li];
                if !right_items.contains_key(element) {
                    let merged = self.merge_item(element, Some(&left[li]), None)?;
                    out.extend(merged);
                    li += 1;
                    continue;
                } else if merged_right.contains(element) {
                    li += 1;
                }
            }
            if ri < right_elements.len() {
                let element = &right_elements[ri];
                merged_right.insert(element.clone());
                let merged = self.merge_item(
                    element,
                    left_items.get(element).copied(),
                    right_items.get(element).copied(),
                )?;
                out.extend(merged);
                ri += 1;
                if next_shared.is_some_and(|n| n == element) {
                    next_shared = shared_order.pop_front();
                }
            }
        }
        Ok((!out.is_empty()).then_some(Value::Array(out)))
    }

    fn merge_item(
        &mut self,
        element: &PathElement,
        lhs: Option<&Value>,
        rhs: Option<&Value>,
    ) -> Result<Option<Value>, ApplyError> {
        self.push_item(element.clone());
        let merged = self.merge(lhs, rhs);
        self.pop_item();
        merged
    }
}
