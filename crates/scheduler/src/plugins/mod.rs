//! The default profile's plugins as plain functions over the cache's types. Filters return a
//! [`Rejection`] with upstream's reason strings; scores return raw values that
//! `framework` normalizes to 0..=100 and weights as upstream's default profile does.

pub mod basic;
pub mod fit;
pub mod interpod;
pub mod spread;

use std::fmt;

/// The plugins, as bits, so an unschedulable pod remembers which ones rejected it and is only
/// requeued by cluster events that could change their verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plugin {
    NodeUnschedulable = 1,
    NodeName = 2,
    TaintToleration = 4,
    NodeAffinity = 8,
    NodePorts = 16,
    NodeResourcesFit = 32,
    PodTopologySpread = 64,
    InterPodAffinity = 128,
    SchedulingGates = 256,
}

pub type PluginSet = u16;

pub const ALL_PLUGINS: PluginSet = 0x1ff;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    NodeName,
    Unschedulable,
    Taint { key: String, value: String },
    NodeAffinity,
    Ports,
    Insufficient(String),
    TooManyPods,
    SpreadMissingLabel,
    Spread,
    AffinityRules,
    AntiAffinityRules,
    ExistingAntiAffinity,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NodeName => f.write_str("node(s) didn't match the requested node name"),
            Reason::Unschedulable => f.write_str("node(s) were unschedulable"),
            Reason::Taint { key, value } => {
                write!(f, "node(s) had untolerated taint {{{key}: {value}}}")
            }
            Reason::NodeAffinity => {
                f.write_str("node(s) didn't match Pod's node affinity/selector")
            }
            Reason::Ports => {
                f.write_str("node(s) didn't have free ports for the requested pod ports")
            }
            Reason::Insufficient(resource) => write!(f, "Insufficient {resource}"),
            Reason::TooManyPods => f.write_str("Too many pods"),
            Reason::SpreadMissingLabel => f.write_str(
                "node(s) didn't match pod topology spread constraints (missing required label)",
            ),
            Reason::Spread => f.write_str("node(s) didn't match pod topology spread constraints"),
            Reason::AffinityRules => f.write_str("node(s) didn't match pod affinity rules"),
            Reason::AntiAffinityRules => {
                f.write_str("node(s) didn't match pod anti-affinity rules")
            }
            Reason::ExistingAntiAffinity => {
                f.write_str("node(s) didn't satisfy existing pods anti-affinity rules")
            }
        }
    }
}

/// A filter's verdict against one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub plugin: Plugin,
    pub reasons: Vec<Reason>,
    /// UnschedulableAndUnresolvable: evicting pods cannot help, so preemption skips the node.
    pub unresolvable: bool,
}

impl Rejection {
    pub fn new(plugin: Plugin, reason: Reason, unresolvable: bool) -> Rejection {
        Rejection {
            plugin,
            reasons: vec![reason],
            unresolvable,
        }
    }
}

pub type FilterResult = Result<(), Rejection>;

/// Upstream's DefaultNormalizeScore: scale to 0..=100 by the maximum, optionally reversed.
pub fn normalize_by_max(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    for s in scores.iter_mut() {
        let scaled = if max == 0 { 0 } else { *s * 100 / max };
        *s = if reverse { 100 - scaled } else { scaled };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_strings_match_upstream() {
        let taint = Reason::Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
        };
        assert_eq!(
            taint.to_string(),
            "node(s) had untolerated taint {dedicated: gpu}"
        );
        assert_eq!(
            Reason::Insufficient("cpu".into()).to_string(),
            "Insufficient cpu"
        );
    }

    #[test]
    fn default_normalize() {
        let mut s = [0, 5, 10];
        normalize_by_max(&mut s, false);
        assert_eq!(s, [0, 50, 100]);
        let mut r = [0, 5, 10];
        normalize_by_max(&mut r, true);
        assert_eq!(r, [100, 50, 0]);
        let mut z = [0, 0];
        normalize_by_max(&mut z, true);
        assert_eq!(z, [100, 100]);
    }
}
