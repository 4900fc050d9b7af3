//! Ordering of merged lists, as upstream: items named by the patch (or by
//! `$setElementOrder`) keep the patch's order, live-only items keep theirs, and the two
//! are interleaved by the live order. Upstream sorts with a comparator that is not a
//! strict order when items are missing from the reference list, so Go's stable sort is
//! transcribed to give the same results (Rust's sorts may panic on such comparators).

use serde_json::Value;

use super::errors::{SmpResult, bad_arg_type, no_merge_key};
use crate::patch::gofmt::go_eq;

/// Whether list items are maps (merged by key) or primitives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ItemKind {
    Map,
    Primitive,
}

/// The value `item` is identified by: its merge key value for maps, itself otherwise.
fn identity<'v>(item: &'v Value, merge_key: &str, kind: ItemKind) -> Option<&'v Value> {
    match kind {
        ItemKind::Map => item.as_object().and_then(|m| m.get(merge_key)),
        ItemKind::Primitive => Some(item),
    }
}

/// Upstream's `index`: position of `item` in `list`, by identity.
fn index(list: &[Value], item: &Value, merge_key: &str, kind: ItemKind) -> Option<usize> {
    let wanted = identity(item, merge_key, kind);
    list.iter()
        .position(|v| go_eq(identity(v, merge_key, kind), wanted))
}

/// Go's `sort.Stable` (insertion sort on blocks of 20, then SymMerge).
fn go_stable_sort<T>(data: &mut [T], less: &dyn Fn(&T, &T) -> bool) {
    let n = data.len();
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(data, a, b, less);
        a = b;
        b += block;
    }
    insertion_sort(data, a, n, less);
    while block < n {
        let (mut a, mut b) = (0, 2 * block);
        while b <= n {
            sym_merge(data, a, a + block, b, less);
            a = b;
            b += 2 * block;
        }
        let m = a + block;
        if m < n {
            sym_merge(data, a, m, n, less);
        }
        block *= 2;
    }
}

fn insertion_sort<T>(data: &mut [T], a: usize, b: usize, less: &dyn Fn(&T, &T) -> bool) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(&data[j], &data[j - 1]) {
            data.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sym_merge<T>(data: &mut [T], a: usize, m: usize, b: usize, less: &dyn Fn(&T, &T) -> bool) {
    if m - a == 1 {
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if less(&data[h], &data[a]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for k in a..i.saturating_sub(1) {
            data.swap(k, k + 1);
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !less(&data[m], &data[h]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = m;
        while k > i {
            data.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !less(&data[p - c], &data[c]) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    let end = n - start;
    if start < m && m < end {
        data[start..end].rotate_left(m - start);
    }
    if a < start && start < mid {
        sym_merge(data, a, start, mid, less);
    }
    if mid < end && end < b {
        sym_merge(data, mid, end, b, less);
    }
}

/// Upstream's `validateMergeKeyInLists`.
fn validate_merge_keys(merge_key: &str, lists: &[&[Value]]) -> SmpResult<()> {
    for item in lists.iter().flat_map(|l| l.iter()) {
        let Some(map) = item.as_object() else {
            return Err(bad_arg_type("map[string]interface {}", item));
        };
        if !map.contains_key(merge_key) {
            return Err(no_merge_key(item, merge_key));
        }
    }
    Ok(())
}

/// Upstream's `extractToDeleteItems`: splits off the `$patch: delete` items.
pub(super) fn split_deletions(list: Vec<Value>) -> SmpResult<(Vec<Value>, Vec<Value>)> {
    let mut keep = Vec::new();
    let mut delete = Vec::new();
    for item in list {
        let Some(map) = item.as_object() else {
            return Err(bad_arg_type("map[string]interface {}", &item));
        };
        if map.get("$patch").and_then(Value::as_str) == Some("delete") {
            delete.push(item);
        } else {
            keep.push(item);
        }
    }
    Ok((keep, delete))
}

/// Upstream's `normalizeSliceOrder`: sorts `to_sort` by the positions in `order`,
/// with deletions last.
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: ItemKind,
) -> SmpResult<Vec<Value>> {
    let (mut to_sort, deletions) = if kind == ItemKind::Map {
        validate_merge_keys(merge_key, &[&to_sort, order])?;
        split_deletions(to_sort)?
    } else {
        (to_sort, Vec::new())
    };
    let positioned: Vec<(Option<usize>, Value)> = to_sort
        .drain(..)
        .map(|v| (index(order, &v, merge_key, kind), v))
        .collect();
    let mut positioned = positioned;
    go_stable_sort(&mut positioned, &|x, y| match (x.0, y.0) {
        (Some(i), Some(j)) => i < j,
        _ => true,
    });
    let mut sorted: Vec<Value> = positioned.into_iter().map(|(_, v)| v).collect();
    sorted.extend(deletions);
    Ok(sorted)
}

/// Upstream's `mergeSortedSlice`: inserts the `left` items among the `right` ones,
/// keeping each side's order, guided by their positions in `server_order`.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: ItemKind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => return out,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (
                    index(server_order, l, merge_key, kind),
                    index(server_order, r, merge_key, kind),
                ) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
}

/// Upstream's `normalizeElementOrder`.
pub(super) fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: ItemKind,
) -> SmpResult<Vec<Value>> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted(
        server_only,
        patch_items,
        server_order,
        merge_key,
        kind,
    ))
}

/// Upstream's `findMapInSliceBasedOnKeyValue`: the index of the map whose `key` equals
/// `value`. Every item must be a map.
pub(super) fn find_by_key(list: &[Value], key: &str, value: &Value) -> SmpResult<Option<usize>> {
    for (i, item) in list.iter().enumerate() {
        let Some(map) = item.as_object() else {
            return Err(super::errors::invalid(format!(
                "value for key {i} is not a map"
            )));
        };
        if map.get(key).is_some_and(|v| go_eq(Some(v), Some(value))) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Splits `merged` into the items `by` names and the others (upstream's
/// `partitionMapsByPresentInList` / `partitionPrimitivesByPresentInList`).
pub(super) fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> SmpResult<(Vec<Value>, Vec<Value>)> {
    let mut named = Vec::new();
    let mut others = Vec::new();
    for item in merged {
        let present = if merge_key.is_empty() {
            by.iter().any(|v| go_eq(Some(v), Some(&item)))
        } else {
            let Some(map) = item.as_object() else {
                return Err(bad_arg_type("map[string]interface {}", &item));
            };
            let Some(value) = map.get(merge_key) else {
                return Err(no_merge_key(&item, merge_key));
            };
            find_by_key(by, merge_key, value)?.is_some()
        };
        if present {
            named.push(item);
        } else {
            others.push(item);
        }
    }
    Ok((named, others))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_sort_matches_a_strict_order() {
        let mut v: Vec<u32> = (0..100).map(|i| (i * 37) % 11).collect();
        let mut want = v.clone();
        want.sort();
        go_stable_sort(&mut v, &|a, b| a < b);
        assert_eq!(v, want);
    }

    #[test]
    fn stable_sort_survives_inconsistent_comparators() {
        let mut v: Vec<u32> = (0..70).collect();
        go_stable_sort(&mut v, &|_, _| true);
        assert_eq!(v.len(), 70);
    }
}
