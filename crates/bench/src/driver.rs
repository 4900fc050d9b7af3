//! N concurrent clients, each doing sequential requests, for a fixed time or a fixed total count.
//! Every request's latency is recorded; failed requests are counted, not timed.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::BenchError;
use crate::stats::Sample;

/// One client's work. `step` does one request; `seq` is unique across all clients of the phase
/// (for naming objects).
pub trait Worker: Send + 'static {
    fn step(&mut self, seq: u64) -> impl Future<Output = Result<(), BenchError>> + Send;
}

#[derive(Clone, Copy, Debug)]
pub enum Limit {
    /// Each client runs until this much time has passed since the phase started (at least one
    /// request each, so every client is measured).
    Time(Duration),
    /// The clients share this many requests.
    Count(u64),
}

/// Run `workers` concurrently and merge their latencies; the workers come back (in no
/// particular order) with whatever state they built, e.g. the objects they created. If a
/// worker's task panics, the phase fails; the other tasks are aborted when the set is dropped.
pub async fn drive<W: Worker>(
    workers: Vec<W>,
    limit: Limit,
) -> Result<(Sample, Vec<W>), BenchError> {
    let seq = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for mut worker in workers {
        let seq = seq.clone();
        tasks.spawn(async move {
            let mut sample = Sample::default();
            loop {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                match limit {
                    Limit::Time(d) if !sample.latencies.is_empty() && started.elapsed() >= d => {
                        break;
                    }
                    Limit::Count(total) if n >= total => break,
                    _ => {}
                }
                let t = Instant::now();
                match worker.step(n).await {
                    Ok(()) => sample.latencies.push(t.elapsed()),
                    Err(e) => {
                        sample.errors += 1;
                        sample.first_error.get_or_insert_with(|| e.to_string());
                        // A client that only fails would otherwise spin; back off a little.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        if let Limit::Time(d) = limit
                            && started.elapsed() >= d
                        {
                            break;
                        }
                    }
                }
            }
            (sample, worker)
        });
    }
    let mut merged = Sample::default();
    let mut returned = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let (s, worker) = result?;
        returned.push(worker);
        merged.latencies.extend(s.latencies);
        merged.errors += s.errors;
        if merged.first_error.is_none() {
            merged.first_error = s.first_error;
        }
    }
    merged.wall = started.elapsed();
    if let Some(e) = &merged.first_error {
        tracing::warn!(errors = merged.errors, first = %e, "requests failed during a phase");
    }
    Ok((merged, returned))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(Arc<AtomicU64>);
    impl Worker for Counter {
        async fn step(&mut self, _seq: u64) -> Result<(), BenchError> {
            if self.0.fetch_add(1, Ordering::Relaxed) % 4 == 3 {
                return Err(BenchError::Invalid("every fourth fails".into()));
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn count_limit_is_shared_and_errors_counted() {
        let calls = Arc::new(AtomicU64::new(0));
        let workers = (0..3).map(|_| Counter(calls.clone())).collect();
        let (s, back) = drive(workers, Limit::Count(100)).await.unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(calls.load(Ordering::Relaxed), 100);
        assert_eq!(s.latencies.len() as u64 + s.errors, 100);
        assert_eq!(s.errors, 25);
        assert!(s.first_error.unwrap().contains("fourth"));
    }
}
