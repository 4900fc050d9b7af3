//! Latency percentiles and throughput. Pure functions, unit tested.

use std::time::Duration;

/// Nearest-rank percentile (`q` in 0..=1) of an ascending slice: the smallest sample with at
/// least `q` of all samples at or below it. `None` for no samples.
pub fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let q = q.clamp(0.0, 1.0);
    // ceil(q * n) is the 1-based rank; rank 0 (q = 0) means the minimum.
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.saturating_sub(1).min(sorted.len() - 1)])
}

/// The median of unordered values (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// One timed phase: every request's latency and the wall time it took.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    pub latencies: Vec<Duration>,
    pub wall: Duration,
    pub errors: u64,
    /// First error message, to show why requests failed.
    pub first_error: Option<String>,
}

/// What a report row shows for one phase (the median over repeats).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub ops: u64,
    pub errors: u64,
    pub ops_per_sec: f64,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
}

impl Sample {
    pub fn summarize(&mut self) -> Summary {
        self.latencies.sort_unstable();
        let ops = self.latencies.len() as u64;
        let secs = self.wall.as_secs_f64();
        Summary {
            ops,
            errors: self.errors,
            ops_per_sec: if secs > 0.0 { ops as f64 / secs } else { 0.0 },
            p50: percentile(&self.latencies, 0.50),
            p99: percentile(&self.latencies, 0.99),
        }
    }
}

/// Combine repeats of one phase: the median of each figure, so one noisy repeat on a shared
/// machine does not decide the result. Counts are summed.
pub fn median_of(summaries: &[Summary]) -> Summary {
    let pick = |f: &dyn Fn(&Summary) -> Option<f64>| {
        median(&summaries.iter().filter_map(f).collect::<Vec<_>>())
    };
    let dur = |v: Option<f64>| v.map(Duration::from_secs_f64);
    Summary {
        ops: summaries.iter().map(|s| s.ops).sum(),
        errors: summaries.iter().map(|s| s.errors).sum(),
        ops_per_sec: pick(&|s| Some(s.ops_per_sec)).unwrap_or(0.0),
        p50: dur(pick(&|s| s.p50.map(|d| d.as_secs_f64()))),
        p99: dur(pick(&|s| s.p99.map(|d| d.as_secs_f64()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn percentile_nearest_rank() {
        let v: Vec<_> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&v, 0.50), Some(ms(50)));
        assert_eq!(percentile(&v, 0.99), Some(ms(99)));
        assert_eq!(percentile(&v, 1.0), Some(ms(100)));
        assert_eq!(percentile(&v, 0.0), Some(ms(1)));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[ms(7)], 0.99), Some(ms(7)));
        // With 10 samples, p99 is the maximum: one slow request must show.
        let mut v: Vec<_> = (1..=9).map(|_| ms(1)).collect();
        v.push(ms(500));
        assert_eq!(percentile(&v, 0.99), Some(ms(500)));
        assert_eq!(percentile(&v, 0.50), Some(ms(1)));
    }

    #[test]
    fn median_odd_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn summarize_sorts_and_rates() {
        let mut s = Sample {
            latencies: vec![ms(3), ms(1), ms(2), ms(4)],
            wall: ms(2000),
            ..Default::default()
        };
        let sum = s.summarize();
        assert_eq!(sum.ops, 4);
        assert!((sum.ops_per_sec - 2.0).abs() < 1e-9);
        assert_eq!(sum.p50, Some(ms(2)));
        assert_eq!(sum.p99, Some(ms(4)));
        let empty = Sample::default().summarize();
        assert_eq!(empty.ops_per_sec, 0.0);
        assert_eq!(empty.p99, None);
    }

    #[test]
    fn median_of_repeats() {
        let a = Summary {
            ops: 10,
            ops_per_sec: 100.0,
            p50: Some(ms(1)),
            p99: Some(ms(10)),
            ..Default::default()
        };
        let b = Summary {
            ops: 20,
            ops_per_sec: 300.0,
            p50: Some(ms(3)),
            p99: Some(ms(90)),
            ..Default::default()
        };
        let c = Summary {
            ops: 30,
            ops_per_sec: 200.0,
            p50: Some(ms(2)),
            p99: Some(ms(20)),
            ..Default::default()
        };
        let m = median_of(&[a, b, c]);
        assert_eq!(m.ops, 60);
        assert_eq!(m.ops_per_sec, 200.0);
        assert_eq!(m.p50, Some(ms(2)));
        assert_eq!(m.p99, Some(ms(20)));
    }
}
