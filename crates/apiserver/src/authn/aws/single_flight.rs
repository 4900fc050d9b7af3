//! One STS call per token at a time: kubectl opens with a burst of parallel discovery requests
//! carrying the same new token, and all of them wait for the first one's verification (as
//! kube-apiserver's cached token authenticator does).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

type Calls<T> = Mutex<HashMap<[u8; 32], Arc<OnceCell<T>>>>;

pub struct SingleFlight<T> {
    calls: Calls<T>,
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            calls: Mutex::new(HashMap::new()),
        }
    }
}

/// Forgets a call when its caller finishes or gives up (a dropped request): later callers
/// start afresh rather than wait on a call nobody drives. Callers already waiting keep their
/// handle and drive it themselves if need be.
struct Forget<'a, T> {
    calls: &'a Calls<T>,
    key: [u8; 32],
    cell: Arc<OnceCell<T>>,
}

impl<T> Drop for Forget<'_, T> {
    fn drop(&mut self) {
        let mut calls = self.calls.lock().expect("single-flight lock");
        if calls
            .get(&self.key)
            .is_some_and(|cell| Arc::ptr_eq(cell, &self.cell))
        {
            calls.remove(&self.key);
        }
    }
}

impl<T: Clone> SingleFlight<T> {
    /// Run `work` for `key`, or share the result of a run already under way.
    pub async fn run<F: Future<Output = T>>(&self, key: [u8; 32], work: F) -> T {
        let cell = self
            .calls
            .lock()
            .expect("single-flight lock")
            .entry(key)
            .or_default()
            .clone();
        let _forget = Forget {
            calls: &self.calls,
            key,
            cell: cell.clone(),
        };
        cell.get_or_init(|| work).await.clone()
    }

    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.calls.lock().expect("single-flight lock").len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_run_and_later_ones_run_again() {
        let flight = Arc::new(SingleFlight::<usize>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let call = |flight: Arc<SingleFlight<usize>>, runs: Arc<AtomicUsize>, key: u8| async move {
            flight
                .run([key; 32], async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    runs.fetch_add(1, Ordering::SeqCst) + 1
                })
                .await
        };
        let results =
            futures::future::join_all((0..10).map(|_| call(flight.clone(), runs.clone(), 1))).await;
        assert!(results.iter().all(|r| *r == 1));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flight.pending(), 0);
        assert_eq!(call(flight.clone(), runs.clone(), 1).await, 2);
        assert_eq!(call(flight.clone(), runs.clone(), 2).await, 3);
    }

    #[tokio::test]
    async fn an_abandoned_call_is_forgotten() {
        let flight = SingleFlight::<u8>::default();
        let abandoned = tokio::time::timeout(
            Duration::from_millis(10),
            flight.run([0; 32], std::future::pending()),
        )
        .await;
        assert!(abandoned.is_err());
        assert_eq!(flight.pending(), 0);
        assert_eq!(flight.run([0; 32], async { 7 }).await, 7);
    }
}
