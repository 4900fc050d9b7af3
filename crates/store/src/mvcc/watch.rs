//! Watch streams: a replay of retained history followed by live events from the broadcast hub.
//!
//! The engine takes the replay snapshot and subscribes to the hub under the same lock that
//! publishing holds, so the replay ends exactly where the live events begin: no gap, no
//! duplicate.

use std::collections::VecDeque;

use futures::StreamExt;
use tokio::sync::broadcast;

use crate::{Revision, StoreError, WatchEvent, WatchStream};

struct WatchCursor {
    replay: VecDeque<WatchEvent>,
    live: broadcast::Receiver<WatchEvent>,
    prefix: String,
    /// Live events at or below this revision were already covered by the replay (or were
    /// before the requested start).
    after: Revision,
    finished: bool,
}

pub(crate) fn watch_stream(
    replay: Vec<WatchEvent>,
    live: broadcast::Receiver<WatchEvent>,
    prefix: String,
    after: Revision,
) -> WatchStream {
    let cursor = WatchCursor {
        replay: replay.into(),
        live,
        prefix,
        after,
        finished: false,
    };
    futures::stream::unfold(cursor, |mut cursor| async move {
        if cursor.finished {
            return None;
        }
        if let Some(event) = cursor.replay.pop_front() {
            return Some((Ok(event), cursor));
        }
        loop {
            match cursor.live.recv().await {
                Ok(event)
                    if event.revision() > cursor.after
                        && event.kv.key.starts_with(&cursor.prefix) =>
                {
                    return Some((Ok(event), cursor));
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Events were dropped for this watcher: ending the stream is the only way
                    // to keep the "no gaps" promise. The client re-lists and watches again.
                    cursor.finished = true;
                    return Some((Err(StoreError::WatchLagged), cursor));
                }
                Err(broadcast::error::RecvError::Closed) => {
                    cursor.finished = true;
                    return Some((Err(StoreError::Closed), cursor));
                }
            }
        }
    })
    .boxed()
}
