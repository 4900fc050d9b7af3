//! Watches: an etcd watch from `after_revision + 1`, its events converted as they arrive.
//!
//! etcd reports a watch that starts below the compaction point late and in-band: the watch is
//! first `created`, and only etcd's next re-sync of lagging watchers (every 100 ms) cancels it
//! with a `compact_revision`. An idle, healthy watch sends nothing at all, so waiting for that
//! notice cannot tell the two apart; instead `open_watch` asks a range read whether the start
//! revision is still readable, and only then waits for the notice (to learn the compaction
//! point). A compaction that overtakes the watch later ends its stream with `Compacted`.

use std::collections::VecDeque;
use std::time::Duration;

use etcd_client::{WatchOptions, WatchResponse};
use futures::StreamExt;
use keelson_store::{Revision, StoreError, WatchEvent, WatchStream};

use crate::EtcdStore;
use crate::convert::watch_event;
use crate::error::{Facts, Failure, classify, store_error};
use crate::namespace::Namespace;

/// How long to wait for etcd's compaction notice once a read has shown the revision is gone.
/// etcd sends it within one re-sync period (100 ms); the margin is for a loaded machine.
const COMPACTION_NOTICE_TIMEOUT: Duration = Duration::from_secs(3);

impl EtcdStore {
    pub(crate) async fn open_watch(
        &self,
        prefix: &str,
        after_revision: Revision,
    ) -> Result<WatchStream, StoreError> {
        let start = after_revision + 1;
        let facts = Facts::read_at(Some(start));
        let (key, end) = self.ns.prefix_range(prefix);
        let options = WatchOptions::new()
            .with_range(end)
            .with_start_revision(start)
            .with_prev_key();
        let mut stream = self
            .checked(self.watch_client().watch(key, Some(options)).await, facts)
            .await?;

        let mut decoder = EventDecoder::new(self.ns.clone(), start);
        // The first response confirms (or refuses) the watch's creation.
        match stream.message().await {
            Ok(Some(response)) => decoder.absorb(&response),
            Ok(None) => decoder.fail(closed()),
            Err(err) => decoder.fail(self.map_error(err, facts).await),
        }
        if let Some(err) = decoder.failure.take() {
            return Err(err);
        }

        if let Err(err) = self.probe_revision(Some(start)).await {
            match classify(&err) {
                Failure::Compacted => {
                    let compacted = await_compaction_notice(&mut stream)
                        .await
                        .unwrap_or(start + 1);
                    return Err(StoreError::Compacted {
                        requested: start,
                        compacted,
                    });
                }
                // Watching from a revision not yet written is fine: the watch waits for it.
                Failure::FutureRevision => {}
                _ => return Err(self.map_error(err, facts).await),
            }
        }
        Ok(decoder.into_stream(stream))
    }

    /// etcd's compaction point, which it only reveals by cancelling a watch that starts below
    /// it. `None` if `requested` turns out not to be compacted or etcd does not say in time.
    pub(crate) async fn compaction_point(&self, requested: Revision) -> Option<Revision> {
        let options = WatchOptions::new().with_start_revision(requested);
        let mut stream = self
            .watch_client()
            .watch(self.ns.probe_key(), Some(options))
            .await
            .ok()?;
        await_compaction_notice(&mut stream).await
    }
}

/// The `compact_revision` of the response that cancels `stream`, if one comes in time.
async fn await_compaction_notice(stream: &mut etcd_client::WatchStream) -> Option<Revision> {
    let notice = async {
        while let Ok(Some(response)) = stream.message().await {
            if response.compact_revision() > 0 {
                return Some(response.compact_revision());
            }
            if response.canceled() {
                return None;
            }
        }
        None
    };
    tokio::time::timeout(COMPACTION_NOTICE_TIMEOUT, notice)
        .await
        .ok()
        .flatten()
}

fn closed() -> StoreError {
    StoreError::Backend("etcd closed the watch stream".into())
}

/// Turns etcd watch responses into store events, remembering the first failure so the events
/// before it are still delivered.
struct EventDecoder {
    ns: Namespace,
    /// The revision the watcher is waiting for: the `requested` of a later `Compacted`.
    next_revision: Revision,
    pending: VecDeque<WatchEvent>,
    failure: Option<StoreError>,
}

impl EventDecoder {
    fn new(ns: Namespace, start: Revision) -> Self {
        Self {
            ns,
            next_revision: start,
            pending: VecDeque::new(),
            failure: None,
        }
    }

    fn absorb(&mut self, response: &WatchResponse) {
        for event in response.events() {
            match watch_event(&self.ns, event) {
                Ok(event) => {
                    self.next_revision = event.revision() + 1;
                    self.pending.push_back(event);
                }
                Err(err) => return self.fail(err),
            }
        }
        if response.compact_revision() > 0 {
            let compacted = response.compact_revision();
            self.fail(StoreError::Compacted {
                requested: self.next_revision,
                compacted,
            });
        } else if response.canceled() {
            self.fail(StoreError::Backend(format!(
                "etcd cancelled the watch: {}",
                response.cancel_reason()
            )));
        }
    }

    fn fail(&mut self, err: StoreError) {
        self.failure.get_or_insert(err);
    }

    /// The store's stream: pending events, then the failure, then the end. Dropping it drops
    /// the etcd watch stream, which cancels the watch on the server.
    fn into_stream(self, stream: etcd_client::WatchStream) -> WatchStream {
        futures::stream::unfold(Some((stream, self)), |state| async move {
            let (mut stream, mut decoder) = state?;
            loop {
                if let Some(event) = decoder.pending.pop_front() {
                    return Some((Ok(event), Some((stream, decoder))));
                }
                if let Some(err) = decoder.failure.take() {
                    return Some((Err(err), None));
                }
                match stream.message().await {
                    Ok(Some(response)) => decoder.absorb(&response),
                    Ok(None) => decoder.fail(closed()),
                    Err(err) => decoder.fail(store_error(&err, &Facts::default())),
                }
            }
        })
        .boxed()
    }
}
