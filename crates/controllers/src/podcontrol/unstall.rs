//! A guard for the shared change streams. kube-runtime 5's `ReflectHandle` returns `Pending`
//! without registering a waker when the object it was told about left the cache before it was
//! polled (a pod deleted right after an update, say). Inside a Controller's trigger selector
//! nothing would poll that stream again, so the controller would stop seeing changes and the
//! shared watch would eventually block on its full buffer. The guard re-polls a pending
//! stream on a slow tick, so such a stall lasts at most one tick.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::time::{Interval, MissedTickBehavior};

/// How long a stalled stream can stay stalled.
pub const TICK: Duration = Duration::from_secs(1);

pub struct Unstall<S> {
    inner: Pin<Box<S>>,
    tick: Interval,
}

pub fn unstall<S: Stream>(stream: S) -> Unstall<S> {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    Unstall {
        inner: Box::pin(stream),
        tick,
    }
}

impl<S: Stream> Stream for Unstall<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        loop {
            if let Poll::Ready(item) = this.inner.as_mut().poll_next(cx) {
                return Poll::Ready(item);
            }
            // Pending: make sure something wakes this task again, then retry once the tick
            // has fired.
            if this.tick.poll_tick(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A stream that returns Pending without arranging a wake-up once, then an item.
    struct Forgetful {
        polls: Arc<AtomicUsize>,
    }

    impl Stream for Forgetful {
        type Item = usize;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<usize>> {
            let n = self.polls.fetch_add(1, Ordering::SeqCst);
            if n == 0 {
                Poll::Pending
            } else {
                Poll::Ready(Some(n))
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_forgetful_stream_is_polled_again() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut stream = unstall(Forgetful {
            polls: polls.clone(),
        });
        let item = tokio::time::timeout(TICK * 3, stream.next()).await;
        assert!(matches!(item, Ok(Some(_))), "{item:?}");
    }
}
