//! Field paths and sets of field paths, with upstream's ordering and string forms.
//!
//! A [`FieldSet`] is a set of paths into an object. It is stored as a trie whose nodes
//! remember whether the path ending there is itself a member, which is exactly the shape
//! of upstream's FieldsV1 encoding (see [`super::fieldsv1`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::gojson::{compare_values, write_go_json};

/// One step of a field path.
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A field of an object (`f:<name>`).
    Field(String),
    /// An item of a list-map, named by its key fields sorted by name (`k:{...}`).
    Key(Vec<(String, Value)>),
    /// An item of a set list, named by its scalar value (`v:<json>`).
    Value(Value),
    /// An item of a list addressed by position (`i:<n>`); upstream never produces these
    /// for apply, but they can appear in decoded managedFields.
    Index(i64),
}

impl PathElement {
    pub fn field(name: impl Into<String>) -> Self {
        PathElement::Field(name.into())
    }

    /// A list-map key; the fields are sorted by name as upstream stores them.
    pub fn key<I, S>(fields: I) -> Self
    where
        I: IntoIterator<Item = (S, Value)>,
        S: Into<String>,
    {
        let mut fields: Vec<(String, Value)> =
            fields.into_iter().map(|(n, v)| (n.into(), v)).collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    pub fn as_field(&self) -> Option<&str> {
        match self {
            PathElement::Field(name) => Some(name),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        // Upstream orders field names before keys before values before indices.
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }
}

fn compare_key_fields(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        let by_name = x.0.cmp(&y.0);
        if by_name != Ordering::Equal {
            return by_name;
        }
        let by_value = compare_values(&x.1, &y.1);
        if by_value != Ordering::Equal {
            return by_value;
        }
    }
    a.len().cmp(&b.len())
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => compare_key_fields(a, b),
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

/// Renders a scalar the way upstream's `value.ToString` does inside path strings:
/// strings quoted Go-style, everything else as plain JSON.
fn value_to_path_string(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            // Upstream concatenates `k=v` pairs without a separator; kept for fidelity.
            for (k, v) in map {
                out.push_str(k);
                out.push('=');
                value_to_path_string(v, out);
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                value_to_path_string(item, out);
            }
            out.push(']');
        }
        other => write_go_json(other, out),
    }
}

impl fmt::Display for PathElement {
    /// Upstream's `PathElement.String()`: `.name`, `[k1="a",k2=1]`, `[="v"]`, `[3]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let mut s = String::from("[");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(name);
                    s.push('=');
                    value_to_path_string(value, &mut s);
                }
                s.push(']');
                f.write_str(&s)
            }
            PathElement::Value(value) => {
                let mut s = String::from("[=");
                value_to_path_string(value, &mut s);
                s.push(']');
                f.write_str(&s)
            }
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the object root, e.g. `.spec.containers[name="c"].image`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// A path made only of field names, e.g. `Path::fields(&["spec", "replicas"])`.
    pub fn fields(names: &[&str]) -> Self {
        Path(names.iter().map(|n| PathElement::field(*n)).collect())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.0 {
            write!(f, "{element}")?;
        }
        Ok(())
    }
}

/// A node of the trie: whether the path ending here is owned, and what is owned below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    member: bool,
    below: FieldSet,
}

impl Node {
    fn is_empty(&self) -> bool {
        !self.member && self.below.is_empty()
    }
}

/// A set of field paths. The root itself is never a member: upstream does not track
/// ownership of "the whole object".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    nodes: BTreeMap<PathElement, Node>,
}

impl FieldSet {
    pub fn new() -> Self {
        FieldSet::default()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Adds a path; the empty path is ignored, as upstream does.
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut set = self;
        for element in parents {
            set = &mut set.nodes.entry(element.clone()).or_default().below;
        }
        set.nodes.entry(last.clone()).or_default().member = true;
    }

    pub fn has(&self, path: &[PathElement]) -> bool {
        let Some((last, parents)) = path.split_last() else {
            return false;
        };
        let mut set = self;
        for element in parents {
            match set.nodes.get(element) {
                Some(node) => set = &node.below,
                None => return false,
            }
        }
        set.nodes.get(last).is_some_and(|n| n.member)
    }

    /// The paths owned below `element`, relative to it.
    pub fn with_prefix(&self, element: &PathElement) -> FieldSet {
        self.nodes
            .get(element)
            .map(|n| n.below.clone())
            .unwrap_or_default()
    }

    /// Borrowing variant of [`FieldSet::with_prefix`].
    pub(crate) fn below(&self, element: &PathElement) -> Option<&FieldSet> {
        self.nodes.get(element).map(|n| &n.below)
    }

    pub(crate) fn has_member(&self, element: &PathElement) -> bool {
        self.nodes.get(element).is_some_and(|n| n.member)
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.union_in_place(other);
        out
    }

    pub fn union_in_place(&mut self, other: &FieldSet) {
        for (element, theirs) in &other.nodes {
            let ours = self.nodes.entry(element.clone()).or_default();
            ours.member |= theirs.member;
            ours.below.union_in_place(&theirs.below);
        }
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, ours) in &self.nodes {
            if let Some(theirs) = other.nodes.get(element) {
                let node = Node {
                    member: ours.member && theirs.member,
                    below: ours.below.intersection(&theirs.below),
                };
                if !node.is_empty() {
                    out.nodes.insert(element.clone(), node);
                }
            }
        }
        out
    }

    /// Paths in `self` that are not in `other`. Like upstream this is a plain set
    /// difference: owning `a` in `other` does not remove `a.b` from `self`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, ours) in &self.nodes {
            let node = match other.nodes.get(element) {
                Some(theirs) => Node {
                    member: ours.member && !theirs.member,
                    below: ours.below.difference(&theirs.below),
                },
                None => ours.clone(),
            };
            if !node.is_empty() {
                out.nodes.insert(element.clone(), node);
            }
        }
        out
    }

    /// Paths in `self` that are neither in `other` nor below a member of `other`.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, ours) in &self.nodes {
            let node = match other.nodes.get(element) {
                Some(theirs) if theirs.member => continue,
                Some(theirs) => Node {
                    member: ours.member,
                    below: ours.below.recursive_difference(&theirs.below),
                },
                None => ours.clone(),
            };
            if !node.is_empty() {
                out.nodes.insert(element.clone(), node);
            }
        }
        out
    }

    /// Every member path, in upstream's iteration order (a level's members before
    /// the contents of its children).
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect_paths(&mut prefix, &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for (element, node) in &self.nodes {
            if node.member {
                let mut path = prefix.clone();
                path.push(element.clone());
                out.push(Path(path));
            }
        }
        for (element, node) in &self.nodes {
            if !node.below.is_empty() {
                prefix.push(element.clone());
                node.below.collect_paths(prefix, out);
                prefix.pop();
            }
        }
    }

    /// Calls `visit` with each (element, is-member, set-below) of this level, in order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&PathElement, bool, &FieldSet)> {
        self.nodes.iter().map(|(e, n)| (e, n.member, &n.below))
    }

    /// Builds one level from already-decoded parts; used by the FieldsV1 decoder.
    pub(crate) fn insert_node(&mut self, element: PathElement, member: bool, below: FieldSet) {
        // An entry that owns nothing is not kept, so sets stay canonical.
        if !member && below.is_empty() {
            return;
        }
        let node = self.nodes.entry(element).or_default();
        node.member |= member;
        node.below.union_in_place(&below);
    }

    /// Adds as members all ancestors that are plain field names and for which
    /// `is_declared` says the field is a declared (struct) field. Mirrors upstream's
    /// `EnsureNamedFieldsAreMembers`, used when pruning so that removing a
    /// struct's last owned field also removes the struct.
    pub(crate) fn with_named_ancestors(
        &self,
        is_declared: &dyn Fn(&[PathElement]) -> bool,
    ) -> FieldSet {
        let mut prefix = Vec::new();
        self.named_ancestors_at(&mut prefix, is_declared)
    }

    fn named_ancestors_at(
        &self,
        prefix: &mut Vec<PathElement>,
        is_declared: &dyn Fn(&[PathElement]) -> bool,
    ) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, node) in &self.nodes {
            prefix.push(element.clone());
            let mut member = node.member;
            if !node.below.is_empty() && element.as_field().is_some() && is_declared(prefix) {
                member = true;
            }
            let below = node.below.named_ancestors_at(prefix, is_declared);
            prefix.pop();
            out.nodes.insert(element.clone(), Node { member, below });
        }
        out
    }
}

impl FromIterator<Path> for FieldSet {
    fn from_iter<T: IntoIterator<Item = Path>>(iter: T) -> Self {
        let mut set = FieldSet::new();
        for path in iter {
            set.insert(&path.0);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(names: &[&str]) -> Path {
        Path::fields(names)
    }

    #[test]
    fn set_operations_follow_upstream_semantics() {
        let a: FieldSet = [p(&["a"]), p(&["a", "b"]), p(&["c"])].into_iter().collect();
        let b: FieldSet = [p(&["a"]), p(&["d"])].into_iter().collect();

        assert_eq!(
            a.union(&b).paths(),
            vec![p(&["a"]), p(&["c"]), p(&["d"]), p(&["a", "b"])]
        );
        assert_eq!(a.intersection(&b).paths(), vec![p(&["a"])]);
        // Plain difference keeps a.b even though a is in b.
        assert_eq!(a.difference(&b).paths(), vec![p(&["c"]), p(&["a", "b"])]);
        assert_eq!(a.recursive_difference(&b).paths(), vec![p(&["c"])]);
        assert!(a.has(&p(&["a", "b"]).0));
        assert!(!a.has(&p(&["b"]).0));
        assert!(a.difference(&a).is_empty());
    }

    #[test]
    fn path_strings_match_upstream() {
        let path = Path(vec![
            PathElement::field("spec"),
            PathElement::field("containers"),
            PathElement::key([("name", json!("c"))]),
            PathElement::field("ports"),
            PathElement::key([("protocol", json!("TCP")), ("containerPort", json!(80))]),
        ]);
        assert_eq!(
            path.to_string(),
            r#".spec.containers[name="c"].ports[containerPort=80,protocol="TCP"]"#
        );
        let set_item = Path(vec![
            PathElement::field("metadata"),
            PathElement::field("finalizers"),
            PathElement::Value(json!("x")),
        ]);
        assert_eq!(set_item.to_string(), r#".metadata.finalizers[="x"]"#);
    }

    #[test]
    fn element_order_is_fields_keys_values_indices() {
        let mut elements = [
            PathElement::Index(0),
            PathElement::Value(json!("a")),
            PathElement::key([("name", json!("a"))]),
            PathElement::field("z"),
        ];
        elements.sort();
        assert!(matches!(elements[0], PathElement::Field(_)));
        assert!(matches!(elements[1], PathElement::Key(_)));
        assert!(matches!(elements[2], PathElement::Value(_)));
        assert!(matches!(elements[3], PathElement::Index(_)));
        // Numbers inside keys compare numerically, not as text.
        assert!(PathElement::key([("port", json!(9))]) < PathElement::key([("port", json!(10))]));
    }
}
