//! Field paths for error messages ("spec.template.spec.containers[0].ports[1]"), built as a
//! linked list on the stack so that successful decoding allocates nothing for them.

use std::fmt;

#[derive(Clone, Copy)]
pub(crate) enum Seg<'a> {
    Root,
    Field(&'a str),
    Index(usize),
    Key(&'a str),
}

#[derive(Clone, Copy)]
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
    pub depth: usize,
}

impl<'a> Path<'a> {
    pub(crate) fn root() -> Self {
        Path {
            parent: None,
            seg: Seg::Root,
            depth: 0,
        }
    }

    pub(crate) fn child(&'a self, seg: Seg<'a>) -> Path<'a> {
        Path {
            parent: Some(self),
            seg,
            depth: self.depth + 1,
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            parent.fmt(f)?;
        }
        match self.seg {
            Seg::Root => f.write_str("<object>"),
            // Inline (embedded) structs have no JSON name and add nothing to the path.
            Seg::Field("") => Ok(()),
            Seg::Field(name) => write!(f, ".{name}"),
            Seg::Index(i) => write!(f, "[{i}]"),
            Seg::Key(k) => write!(f, "[{k:?}]"),
        }
    }
}
