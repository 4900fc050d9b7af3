//! NodeResourcesFit (filter and LeastAllocated score) and NodeResourcesBalancedAllocation.

use super::{FilterResult, Plugin, Reason, Rejection};
use crate::cache::NodeInfo;
use crate::model::{PodInfo, Resources};

/// Space held on a node for nominated pods of at least the incoming pod's priority.
#[derive(Clone, Debug, Default)]
pub struct Reserved {
    pub requests: Resources,
    pub pods: i64,
}

pub fn fit(pod: &PodInfo, node: &NodeInfo, reserved: Option<&Reserved>) -> FilterResult {
    let empty = Reserved::default();
    let reserved = reserved.unwrap_or(&empty);
    let alloc = &node.spec.allocatable;
    let used = &node.requested;
    let mut reasons = Vec::new();
    if node.pods.len() as i64 + reserved.pods + 1 > alloc.pods {
        reasons.push(Reason::TooManyPods);
    }
    let want = &pod.requests;
    if !want.is_zero() {
        let short =
            |want: i64, alloc: i64, used: i64, held: i64| want > 0 && want > alloc - used - held;
        if short(
            want.milli_cpu,
            alloc.milli_cpu,
            used.milli_cpu,
            reserved.requests.milli_cpu,
        ) {
            reasons.push(Reason::Insufficient("cpu".into()));
        }
        if short(
            want.memory,
            alloc.memory,
            used.memory,
            reserved.requests.memory,
        ) {
            reasons.push(Reason::Insufficient("memory".into()));
        }
        if short(
            want.ephemeral_storage,
            alloc.ephemeral_storage,
            used.ephemeral_storage,
            reserved.requests.ephemeral_storage,
        ) {
            reasons.push(Reason::Insufficient("ephemeral-storage".into()));
        }
        for (name, v) in &want.scalar {
            if short(
                *v,
                alloc.scalar(name),
                used.scalar(name),
                reserved.requests.scalar(name),
            ) {
                reasons.push(Reason::Insufficient(name.clone()));
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            plugin: Plugin::NodeResourcesFit,
            reasons,
            unresolvable: false,
        })
    }
}

fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * 100 / capacity
}

/// LeastAllocated over cpu and memory (weight 1 each), with upstream's non-zero request
/// defaults for containers that request nothing.
pub fn least_allocated_score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let alloc = &node.spec.allocatable;
    let cpu = least_requested(
        node.non_zero_milli_cpu + pod.non_zero_milli_cpu,
        alloc.milli_cpu,
    );
    let memory = least_requested(node.non_zero_memory + pod.non_zero_memory, alloc.memory);
    (cpu + memory) / 2
}

/// BalancedAllocation: 100 × (1 − standard deviation of the cpu and memory fractions), on the
/// actual requests.
pub fn balanced_allocation_score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let alloc = &node.spec.allocatable;
    let fraction = |requested: i64, capacity: i64| -> Option<f64> {
        (capacity > 0).then(|| (requested as f64 / capacity as f64).min(1.0))
    };
    let cpu = fraction(
        node.requested.milli_cpu + pod.requests.milli_cpu,
        alloc.milli_cpu,
    );
    let memory = fraction(node.requested.memory + pod.requests.memory, alloc.memory);
    let std = match (cpu, memory) {
        (Some(a), Some(b)) => (a - b).abs() / 2.0,
        _ => 0.0,
    };
    ((1.0 - std) * 100.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NodeSpec;
    use std::sync::Arc;

    fn node(cpu: i64, memory: i64, pods: i64) -> NodeInfo {
        let mut allocatable = Resources {
            milli_cpu: cpu,
            memory,
            pods,
            ..Default::default()
        };
        allocatable.scalar.insert("example.com/gpu".into(), 1);
        NodeInfo::new(NodeSpec {
            name: "n".into(),
            allocatable,
            ..Default::default()
        })
    }

    fn pod(cpu: i64, memory: i64) -> PodInfo {
        PodInfo {
            uid: format!("{cpu}-{memory}"),
            requests: Resources {
                milli_cpu: cpu,
                memory,
                ..Default::default()
            },
            non_zero_milli_cpu: cpu,
            non_zero_memory: memory,
            ..Default::default()
        }
    }

    #[test]
    fn reports_every_insufficient_resource() {
        let mut n = node(1000, 1000, 1);
        n.add_pod(Arc::new(pod(600, 0)));
        let mut p = pod(500, 2000);
        p.requests.scalar.insert("example.com/gpu".into(), 2);
        let err = fit(&p, &n, None).unwrap_err();
        let text: Vec<String> = err.reasons.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "Too many pods",
                "Insufficient cpu",
                "Insufficient memory",
                "Insufficient example.com/gpu"
            ]
        );
        assert!(fit(&pod(400, 0), &node(1000, 1000, 10), None).is_ok());
    }

    #[test]
    fn reserved_space_counts() {
        let n = node(1000, 1000, 10);
        let reserved = Reserved {
            requests: Resources {
                milli_cpu: 700,
                ..Default::default()
            },
            pods: 1,
        };
        assert!(fit(&pod(400, 0), &n, Some(&reserved)).is_err());
        assert!(fit(&pod(300, 0), &n, Some(&reserved)).is_ok());
    }

    #[test]
    fn least_allocated_and_balanced() {
        let mut n = node(4000, 4000, 10);
        n.add_pod(Arc::new(pod(1000, 3000)));
        // cpu (4000-2000)/4000 = 50, memory (4000-3000)/4000 = 25.
        assert_eq!(least_allocated_score(&pod(1000, 0), &n), 37);
        // fractions 0.5 and 0.75: 100 × (1 − 0.125).
        assert_eq!(balanced_allocation_score(&pod(1000, 0), &n), 87);
        assert_eq!(
            balanced_allocation_score(&pod(0, 0), &node(1000, 1000, 1)),
            100
        );
    }
}
