//! Concurrent writers on a few keys while a watcher records the history. Checks that the watch
//! saw every acknowledged write exactly once, in revision order, and that the acknowledged
//! history is linearizable.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::linearizability::{self, CasRegister, Operation, RegisterInput, RegisterOutput};
use crate::{EventKind, Revision, Store, StoreError, WatchEvent};

const WRITERS: u64 = 16;
const OPS_PER_WRITER: u64 = 30;
const KEYS: u64 = 4;

type Recorded = Operation<RegisterInput, RegisterOutput>;

/// A tiny deterministic PRNG (xorshift64*), so the suite needs no dependency for randomness.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

pub(super) async fn concurrent_writers(store: Arc<dyn Store>, prefix: &str) {
    let start = store.current_revision().await.expect("current_revision");
    let epoch = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| tokio::spawn(run_writer(store.clone(), prefix.to_owned(), writer, epoch)))
        .collect();

    // Join while the writers are busy, from the revision before they started: the watch must
    // replay what it missed and switch to live events without a gap or a duplicate.
    wait_for_some_writes(&*store, start).await;
    let mut watch = store.watch(prefix, start).await.expect("watch");
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(async move {
        while let Some(event) = watch.next().await {
            if events_tx.send(event).is_err() {
                return;
            }
        }
    });

    let mut history = Vec::new();
    for writer in writers {
        match writer.await {
            Ok(ops) => history.extend(ops),
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }

    let acknowledged: BTreeMap<Revision, &Recorded> = history
        .iter()
        .filter_map(|op| match op.output {
            RegisterOutput::Written(revision) => Some((revision, op)),
            _ => None,
        })
        .collect();
    assert_eq!(
        acknowledged.len(),
        history
            .iter()
            .filter(|op| matches!(op.output, RegisterOutput::Written(_)))
            .count(),
        "two acknowledged writes share a revision"
    );
    let last = acknowledged.keys().next_back().copied().unwrap_or(start);
    let mut seen = Vec::new();
    while seen.last().is_none_or(|e: &WatchEvent| e.revision() < last) {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(Ok(event))) => seen.push(event),
            Ok(Some(Err(err))) => panic!("concurrent writers: watch failed: {err}"),
            Ok(None) => panic!(
                "concurrent writers: watch ended after {} events",
                seen.len()
            ),
            Err(_) => panic!(
                "concurrent writers: watch stalled after {} events (last write {last})",
                seen.len()
            ),
        }
    }
    recorder.abort();

    check_watch_matches_writes(&seen, &acknowledged);
    if let Err(err) = linearizability::check(&CasRegister, &history) {
        panic!("concurrent writers: {err}; history: {history:#?}");
    }
}

async fn wait_for_some_writes(store: &dyn Store, start: Revision) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if store.current_revision().await.expect("current_revision") > start + 20 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Every acknowledged write appears exactly once, in revision order, with the right content,
/// and each event's `prev` is the key's previous version as the watch itself reported it.
fn check_watch_matches_writes(seen: &[WatchEvent], acknowledged: &BTreeMap<Revision, &Recorded>) {
    let revisions: Vec<Revision> = seen.iter().map(WatchEvent::revision).collect();
    assert!(
        revisions.windows(2).all(|w| w[0] < w[1]),
        "watch events out of order or repeated: {revisions:?}"
    );
    let expected: Vec<Revision> = acknowledged.keys().copied().collect();
    assert_eq!(
        revisions, expected,
        "watch events differ from the acknowledged writes"
    );

    let mut latest: HashMap<&str, Option<&WatchEvent>> = HashMap::new();
    for event in seen {
        let op = acknowledged[&event.revision()];
        assert_eq!(
            event.kv.key,
            op.key,
            "event at {} is for the wrong key",
            event.revision()
        );
        match (&op.input, event.kind) {
            (
                RegisterInput::Create(value) | RegisterInput::Update { value, .. },
                EventKind::Put,
            ) => {
                assert_eq!(
                    &event.kv.value,
                    value,
                    "event at {} has the wrong value",
                    event.revision()
                );
            }
            (RegisterInput::Delete { .. }, EventKind::Delete) => {}
            (input, kind) => panic!(
                "event at {} is a {kind:?} but the write was {input:?}",
                event.revision()
            ),
        }
        let previous = latest.entry(&event.kv.key).or_insert(None);
        if let Some(previous) = previous {
            let expected_prev = (previous.kind == EventKind::Put).then_some(&previous.kv);
            assert_eq!(
                event.prev.as_ref(),
                expected_prev,
                "event at {} has the wrong prev",
                event.revision()
            );
        }
        *previous = Some(event);
    }
}

async fn run_writer(
    store: Arc<dyn Store>,
    prefix: String,
    writer: u64,
    epoch: Instant,
) -> Vec<Recorded> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (writer + 1).wrapping_mul(0x1000_0001));
    // The last mod_revision this writer saw per key: what its conditional writes expect.
    let mut known: HashMap<String, Revision> = HashMap::new();
    let mut ops = Vec::new();
    for n in 0..OPS_PER_WRITER {
        let key = format!("{prefix}k{}", rng.below(KEYS));
        let expected = known.get(&key).copied().unwrap_or(1);
        let value = Bytes::from(format!("w{writer}-{n}"));
        let input = match rng.below(8) {
            0 | 1 => RegisterInput::Get,
            2 | 3 => RegisterInput::Create(value),
            4..=6 => RegisterInput::Update { value, expected },
            _ => RegisterInput::Delete {
                expected: (rng.below(2) == 0).then_some(expected),
            },
        };
        let call = epoch.elapsed().as_nanos() as u64;
        let output = execute(&*store, &key, &input).await;
        let ret = epoch.elapsed().as_nanos() as u64;
        match &output {
            (RegisterOutput::Written(revision), _) => known.insert(key.clone(), *revision),
            (_, Some(current)) => known.insert(key.clone(), *current),
            _ => None,
        };
        ops.push(Operation {
            key,
            call,
            ret,
            input,
            output: output.0,
        });
    }
    ops
}

/// Run one operation; also returns the key's current mod_revision when the store reported it.
async fn execute(
    store: &dyn Store,
    key: &str,
    input: &RegisterInput,
) -> (RegisterOutput, Option<Revision>) {
    let result = match input {
        RegisterInput::Get => {
            let (kv, _) = store.get(key, None).await.expect("get");
            let revision = kv.as_ref().map(|kv| kv.mod_revision);
            return (
                RegisterOutput::Read(kv.map(|kv| (kv.value, kv.mod_revision))),
                revision,
            );
        }
        RegisterInput::Create(value) => store
            .create(key, value.clone(), None)
            .await
            .map(|kv| kv.mod_revision),
        RegisterInput::Update { value, expected } => store
            .update(key, value.clone(), *expected, None)
            .await
            .map(|kv| kv.mod_revision),
        RegisterInput::Delete { expected } => store
            .delete(key, *expected)
            .await
            .map(|(_, revision)| revision),
    };
    match result {
        Ok(revision) => (RegisterOutput::Written(revision), None),
        Err(StoreError::AlreadyExists { current }) => {
            (RegisterOutput::AlreadyExists, Some(current.mod_revision))
        }
        Err(StoreError::Conflict { current, .. }) => {
            (RegisterOutput::Conflict, Some(current.mod_revision))
        }
        Err(StoreError::NotFound) => (RegisterOutput::NotFound, None),
        Err(err) => panic!("concurrent writers: {input:?} on {key} failed: {err}"),
    }
}
