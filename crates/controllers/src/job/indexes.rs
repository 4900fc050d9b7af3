//! Completion indexes of Indexed Jobs: the pod annotation/label that carries them and the
//! compact interval form of `status.completedIndexes` ("1,3-5,7").

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// The pod's completion index if it is valid for `completions`; the annotation is
/// authoritative, as upstream reads it first.
pub fn of_pod(pod: &Pod, completions: i32) -> Option<i32> {
    let text = pod
        .annotations()
        .get(COMPLETION_INDEX)
        .or_else(|| pod.labels().get(COMPLETION_INDEX))?;
    let index: i32 = text.parse().ok()?;
    (0..completions).contains(&index).then_some(index)
}

/// Parse `status.completedIndexes`, ignoring anything malformed or out of range.
pub fn parse(text: &str, completions: i32) -> BTreeSet<i32> {
    let mut set = BTreeSet::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        if let (Ok(first), Ok(last)) = (first, last) {
            set.extend((first.max(0)..=last.min(completions - 1)).filter(|i| *i >= 0));
        }
    }
    set
}

/// The interval form upstream writes: runs of three or more consecutive indexes become `a-b`,
/// runs of two stay `a,b`.
pub fn format(set: &BTreeSet<i32>) -> String {
    let mut parts = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(first) = iter.next() {
        let mut last = first;
        while iter.peek() == Some(&(last + 1)) {
            last += 1;
            iter.next();
        }
        match last - first {
            0 => parts.push(first.to_string()),
            1 => parts.push(format!("{first},{last}")),
            _ => parts.push(format!("{first}-{last}")),
        }
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let set: BTreeSet<i32> = [0, 1, 3, 4, 5, 7, 9, 10].into_iter().collect();
        assert_eq!(format(&set), "0,1,3-5,7,9,10");
        assert_eq!(parse("0,1,3-5,7,9,10", 11), set);
        assert_eq!(
            parse("0,1,3-5,7,9,10", 5),
            [0, 1, 3, 4].into_iter().collect()
        );
        assert_eq!(format(&BTreeSet::new()), "");
        assert!(parse("", 3).is_empty());
    }
}
