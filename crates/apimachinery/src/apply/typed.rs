//! Schema-guided walks over wire-form objects: field sets, comparison, removal.
//! The merge walk lives in [`super::merge`].
//!
//! We have no full schema, so each node's shape comes from its JSON type (object,
//! array, scalar) and the [`ListMeta`] answers how it merges — the same information
//! structured-merge-diff gets from its typed schema.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ApplyError;
use super::fieldset::{FieldSet, Path, PathElement};
use super::gojson::values_equal;
use super::listmeta::{GroupKind, ListMeta, ListType, MapType};

/// The schema of one object: its kind plus the merge metadata.
#[derive(Clone, Copy)]
pub(crate) struct Schema<'a> {
    pub meta: &'a dyn ListMeta,
    pub gk: GroupKind<'a>,
}

impl Schema<'_> {
    /// Whether the field named by the last element of `path` is declared in its
    /// parent object; used for upstream's "named fields are members" rule.
    pub fn is_declared(&self, path: &[PathElement]) -> bool {
        let names: Vec<&str> = path.iter().filter_map(PathElement::as_field).collect();
        match names.split_last() {
            Some((field, parent)) => self.meta.is_declared_field(self.gk, parent, field),
            None => false,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Map,
    List,
    Scalar,
}

/// The shape a value has; `None` for null, which takes the shape of the other side.
pub(crate) fn shape_of(value: &Value) -> Option<Shape> {
    match value {
        Value::Object(_) => Some(Shape::Map),
        Value::Array(_) => Some(Shape::List),
        Value::Null => None,
        _ => Some(Shape::Scalar),
    }
}

/// A cursor: the path of elements (for field sets) and of field names (for schema
/// lookups; list items add no name).
pub(crate) struct Walk<'a> {
    pub schema: Schema<'a>,
    pub path: Vec<PathElement>,
    names: Vec<String>,
}

impl<'a> Walk<'a> {
    pub fn new(schema: Schema<'a>) -> Self {
        Walk {
            schema,
            path: Vec::new(),
            names: Vec::new(),
        }
    }

    fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    pub fn list_type(&self) -> ListType {
        self.schema.meta.list_type(self.schema.gk, &self.names())
    }

    pub fn map_type(&self) -> MapType {
        self.schema.meta.map_type(self.schema.gk, &self.names())
    }

    /// Whether the field the cursor is on is a declared field of its parent.
    fn current_field_is_declared(&self) -> bool {
        let names = self.names();
        match names.split_last() {
            Some((field, parent)) => {
                self.schema
                    .meta
                    .is_declared_field(self.schema.gk, parent, field)
            }
            None => false,
        }
    }

    pub fn push_field(&mut self, name: &str) {
        self.path.push(PathElement::field(name));
        self.names.push(name.to_string());
    }

    pub fn pop_field(&mut self) {
        self.path.pop();
        self.names.pop();
    }

    pub fn push_item(&mut self, element: PathElement) {
        self.path.push(element);
    }

    pub fn pop_item(&mut self) {
        self.path.pop();
    }

    pub fn invalid(&self, message: impl std::fmt::Display) -> ApplyError {
        ApplyError::InvalidObject(format!("{}: {message}", Path(self.path.clone())))
    }

    /// The path element naming `item` in a set or list-map.
    pub fn item_element(
        &self,
        list_type: &ListType,
        index: usize,
        item: &Value,
    ) -> Result<PathElement, ApplyError> {
        let fail = |why: String| self.invalid(format!("element {index}: {why}"));
        match list_type {
            ListType::Map(keys) => {
                let Value::Object(fields) = item else {
                    return Err(fail(if item.is_null() {
                        "associative list with keys may not have a null element".into()
                    } else {
                        "associative list with keys may not have non-map elements".into()
                    }));
                };
                let mut key = Vec::new();
                for k in keys {
                    // A key field that is absent and has no default is simply left out,
                    // as upstream does; only an item with no key at all is invalid.
                    if let Some(v) = fields.get(&k.name).or(k.default.as_ref()) {
                        key.push((k.name.clone(), v.clone()));
                    }
                }
                if key.is_empty() {
                    let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
                    return Err(fail(format!(
                        "associative list with keys has an element that omits all key fields {names:?} (and doesn't have default values for any key fields)"
                    )));
                }
                Ok(PathElement::key(key))
            }
            ListType::Set => match item {
                Value::Object(_) => Err(fail(
                    "associative list without keys has an element that's a map type".into(),
                )),
                Value::Array(_) => Err(fail(
                    "not supported: associative list with lists as elements".into(),
                )),
                Value::Null => Err(fail(
                    "associative list without keys has an element that's an explicit null".into(),
                )),
                scalar => Ok(PathElement::Value(scalar.clone())),
            },
            ListType::Atomic => Err(fail("invalid indexing of non-associative list".into())),
        }
    }

    /// Field set of a value, as upstream's `ToFieldSet`: leaves, list items and
    /// undeclared map entries are members; declared struct fields only through what
    /// they contain (unless empty or null).
    pub fn field_set_of(&mut self, value: &Value, out: &mut FieldSet) -> Result<(), ApplyError> {
        match value {
            Value::Object(map) => {
                if self.map_type() == MapType::Atomic {
                    out.insert(&self.path);
                    return Ok(());
                }
                for (key, child) in map {
                    self.push_field(key);
                    self.field_set_of(child, out)?;
                    let empty = matches!(child, Value::Object(m) if m.is_empty());
                    if child.is_null() || empty || !self.current_field_is_declared() {
                        out.insert(&self.path);
                    }
                    self.pop_field();
                }
            }
            Value::Array(items) => {
                let list_type = self.list_type();
                if list_type == ListType::Atomic {
                    out.insert(&self.path);
                    return Ok(());
                }
                let mut elements = Vec::with_capacity(items.len());
                let mut seen: BTreeMap<PathElement, usize> = BTreeMap::new();
                for (i, item) in items.iter().enumerate() {
                    let element = self.item_element(&list_type, i, item)?;
                    *seen.entry(element.clone()).or_default() += 1;
                    elements.push(element);
                }
                for (item, element) in items.iter().zip(elements) {
                    self.push_item(element.clone());
                    // Duplicated items are owned as a whole: there is no way to tell
                    // their fields apart.
                    if seen[&element] == 1 {
                        self.field_set_of(item, out)?;
                    }
                    out.insert(&self.path);
                    self.pop_item();
                }
            }
            _ => out.insert(&self.path),
        }
        Ok(())
    }

    /// Removes the members of `set` (with everything below them) from `value`.
    /// `None` when nothing is left of a map or list.
    pub fn remove_items(&mut self, value: &Value, set: &FieldSet) -> Option<Value> {
        match value {
            Value::Object(map) if !map.is_empty() && self.map_type() != MapType::Atomic => {
                let mut out = Map::new();
                for (key, child) in map {
                    let element = PathElement::field(key);
                    if set.has_member(&element) {
                        continue;
                    }
                    match set.below(&element).filter(|s| !s.is_empty()) {
                        Some(below) => {
                            self.push_field(key);
                            let kept = self.remove_items(child, below);
                            self.pop_field();
                            // Upstream leaves a null here that typed conversion later
                            // drops; for wire JSON we drop the field directly.
                            if let Some(kept) = kept {
                                out.insert(key.clone(), kept);
                            }
                        }
                        None => {
                            out.insert(key.clone(), child.clone());
                        }
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Value::Array(items) if !items.is_empty() => {
                let list_type = self.list_type();
                if list_type == ListType::Atomic {
                    return Some(value.clone());
                }
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let Ok(element) = self.item_element(&list_type, i, item) else {
                        out.push(item.clone());
                        continue;
                    };
                    if set.has_member(&element) {
                        continue;
                    }
                    match set.below(&element).filter(|s| !s.is_empty()) {
                        Some(below) => {
                            self.push_item(element.clone());
                            let kept = self.remove_items(item, below);
                            self.pop_item();
                            if let Some(kept) = kept {
                                out.push(kept);
                            }
                        }
                        None => out.push(item.clone()),
                    }
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
            _ => Some(value.clone()),
        }
    }

    /// The empty shell a freshly created object is compared against: the struct
    /// objects of `value` without any content. Upstream compares against a zero Go
    /// object, whose non-pointer structs exist but whose maps and lists do not, so
    /// creators do not own `spec` itself but do own `metadata.labels`.
    pub fn zero_skeleton(&mut self, value: &Value) -> Value {
        let mut out = Map::new();
        if let Value::Object(map) = value {
            for (key, child) in map {
                self.push_field(key);
                if child.is_object()
                    && self.current_field_is_declared()
                    && self.map_type() == MapType::Struct
                {
                    out.insert(key.clone(), self.zero_skeleton(child));
                } else if self
                    .schema
                    .meta
                    .always_serialized(self.schema.gk, &self.names())
                {
                    out.insert(key.clone(), Value::Null);
                }
                self.pop_field();
            }
        }
        Value::Object(out)
    }
}

/// What changed between two versions of an object.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub removed: FieldSet,
    pub modified: FieldSet,
    pub added: FieldSet,
}

impl Comparison {
    pub fn exclude(&mut self, ignored: &FieldSet) {
        self.removed = self.removed.recursive_difference(ignored);
        self.modified = self.modified.recursive_difference(ignored);
        self.added = self.added.recursive_difference(ignored);
    }
}

impl Walk<'_> {
    /// Upstream's `Compare`: every node only in `new` is added (including containers),
    /// every node only in `old` removed, changed leaves modified.
    pub fn compare(
        &mut self,
        old: Option<&Value>,
        new: Option<&Value>,
        out: &mut Comparison,
    ) -> Result<(), ApplyError> {
        let old_shape = old.and_then(shape_of);
        let new_shape = new.and_then(shape_of);
        let shape = match (old_shape, new_shape) {
            (Some(a), Some(b)) if a != b => {
                // A field that changed type is a changed leaf.
                out.modified.insert(&self.path);
                return Ok(());
            }
            (a, b) => b.or(a).unwrap_or(Shape::Scalar),
        };
        let is_leaf = match shape {
            Shape::Scalar => true,
            Shape::Map => {
                self.map_type() == MapType::Atomic
                    || (is_empty_or_absent(old) && is_empty_or_absent(new))
            }
            Shape::List => {
                self.list_type() == ListType::Atomic
                    || (is_empty_or_absent(old) && is_empty_or_absent(new))
            }
        };
        if is_leaf {
            match (old, new) {
                (None, _) => out.added.insert(&self.path),
                (_, None) => out.removed.insert(&self.path),
                (Some(a), Some(b)) if !values_equal(a, b) => out.modified.insert(&self.path),
                _ => {}
            }
            return Ok(());
        }
        match shape {
            Shape::Map => {
                let empty = Map::new();
                let old_map = old.and_then(Value::as_object).unwrap_or(&empty);
                let new_map = new.and_then(Value::as_object).unwrap_or(&empty);
                for (key, old_child) in old_map {
                    self.push_field(key);
                    self.compare(Some(old_child), new_map.get(key), out)?;
                    self.pop_field();
                }
                for (key, new_child) in new_map {
                    if !old_map.contains_key(key) {
                        self.push_field(key);
                        self.compare(None, Some(new_child), out)?;
                        self.pop_field();
                    }
                }
            }
            Shape::List => self.compare_lists(old, new, out)?,
            Shape::Scalar => {}
        }
        match (old, new) {
            (None, _) => out.added.insert(&self.path),
            (_, None) => out.removed.insert(&self.path),
            _ => {}
        }
        Ok(())
    }

    fn compare_lists(
        &mut self,
        old: Option<&Value>,
        new: Option<&Value>,
        out: &mut Comparison,
    ) -> Result<(), ApplyError> {
        let list_type = self.list_type();
        let none = Vec::new();
        let old_items = old.and_then(Value::as_array).unwrap_or(&none);
        let new_items = new.and_then(Value::as_array).unwrap_or(&none);
        let mut order: Vec<PathElement> = Vec::new();
        let mut by_element: BTreeMap<PathElement, (Vec<&Value>, Vec<&Value>)> = BTreeMap::new();
        for (side, items) in [(0, old_items), (1, new_items)] {
            for (i, item) in items.iter().enumerate() {
                let element = self.item_element(&list_type, i, item)?;
                let entry = by_element.entry(element.clone()).or_insert_with(|| {
                    order.push(element);
                    (Vec::new(), Vec::new())
                });
                if side == 0 {
                    entry.0.push(item);
                } else {
                    entry.1.push(item);
                }
            }
        }
        for element in order {
            let (olds, news) = &by_element[&element];
            self.push_item(element.clone());
            match (olds.len(), news.len()) {
                (0..=1, 0..=1) => {
                    self.compare(olds.first().copied(), news.first().copied(), out)?
                }
                // Duplicates on both sides: compared as one opaque value.
                (2.., 2..) => {
                    let same = olds.len() == news.len()
                        && olds
                            .iter()
                            .zip(news.iter())
                            .all(|(a, b)| values_equal(a, b));
                    if !same {
                        out.modified.insert(&self.path);
                    }
                }
                (2.., _) => {
                    if let Some(new_item) = news.first() {
                        self.compare(None, Some(new_item), out)?;
                    }
                    out.removed.insert(&self.path);
                }
                (_, _) => {
                    if let Some(old_item) = olds.first() {
                        self.compare(Some(old_item), None, out)?;
                    }
                    out.added.insert(&self.path);
                }
            }
            self.pop_item();
        }
        Ok(())
    }
}

fn is_empty_or_absent(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

/// Convenience wrappers used by the updater.
pub(crate) fn field_set(value: &Value, schema: Schema<'_>) -> Result<FieldSet, ApplyError> {
    let mut out = FieldSet::new();
    Walk::new(schema).field_set_of(value, &mut out)?;
    Ok(out)
}

pub(crate) fn compare(
    old: &Value,
    new: &Value,
    schema: Schema<'_>,
) -> Result<Comparison, ApplyError> {
    let mut out = Comparison::default();
    Walk::new(schema).compare(Some(old), Some(new), &mut out)?;
    Ok(out)
}

pub(crate) fn remove_items(value: &Value, set: &FieldSet, schema: Schema<'_>) -> Value {
    Walk::new(schema)
        .remove_items(value, set)
        .unwrap_or_else(|| Value::Object(Map::new()))
}
