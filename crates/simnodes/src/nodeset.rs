//! The nodes one simulator owns: `<prefix><index>` for a contiguous range of indexes.

use std::ops::Range;

#[derive(Clone, Debug)]
pub struct NodeSet {
    prefix: String,
    indexes: Range<u32>,
}

impl NodeSet {
    pub fn new(prefix: &str, start: u32, count: u32) -> NodeSet {
        NodeSet {
            prefix: prefix.to_string(),
            indexes: start..start.saturating_add(count),
        }
    }

    pub fn name(&self, index: u32) -> String {
        format!("{}{index}", self.prefix)
    }

    pub fn indexes(&self) -> Range<u32> {
        self.indexes.clone()
    }

    /// The index of `name` when this simulator owns that node. `sim-07` is not `sim-7`: only the
    /// exact names this set generates belong to it.
    pub fn index_of(&self, name: &str) -> Option<u32> {
        let digits = name.strip_prefix(&self.prefix)?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits.len() == 1 || !digits.starts_with('0'));
        if !canonical {
            return None;
        }
        let index: u32 = digits.parse().ok()?;
        self.indexes.contains(&index).then_some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owns_exactly_its_generated_names() {
        let set = NodeSet::new("sim-", 10, 5);
        assert_eq!(set.name(12), "sim-12");
        assert_eq!(set.index_of("sim-12"), Some(12));
        assert_eq!(set.index_of("sim-14"), Some(14));
        assert_eq!(set.index_of("sim-15"), None);
        assert_eq!(set.index_of("sim-9"), None);
        assert_eq!(set.index_of("sim-012"), None);
        assert_eq!(set.index_of("sim-+12"), None);
        assert_eq!(set.index_of("other-12"), None);
        assert_eq!(set.index_of("sim-"), None);
    }
}
