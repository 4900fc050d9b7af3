//! Watch from a past revision: replay of history, then live events, in order, with prev
//! values and prefix filtering.

use super::{EVENT_TIMEOUT, bytes, next_event};
use crate::{EventKind, Store};

pub(super) async fn watch_replays_then_follows(store: &dyn Store, prefix: &str) {
    let (a, b) = (format!("{prefix}a"), format!("{prefix}b"));
    let sibling = format!("{}~", prefix.trim_end_matches('/'));
    let start = store.current_revision().await.expect("current_revision");

    let a1 = store.create(&a, bytes("a1"), None).await.expect("create a");
    let b1 = store.create(&b, bytes("b1"), None).await.expect("create b");
    store
        .create(&sibling, bytes("outside"), None)
        .await
        .expect("create sibling");
    let a2 = store
        .update(&a, bytes("a2"), a1.mod_revision, None)
        .await
        .expect("update a");
    let (_, b_deleted_at) = store.delete(&b, None).await.expect("delete b");

    let mut watch = store
        .watch(prefix, start)
        .await
        .expect("watch from a past revision");
    let what = "replayed history";
    let e1 = next_event(&mut watch, what, EVENT_TIMEOUT).await;
    assert_eq!(
        (e1.kind, &e1.kv, &e1.prev),
        (EventKind::Put, &a1, &None),
        "{what}: create a"
    );
    let e2 = next_event(&mut watch, what, EVENT_TIMEOUT).await;
    assert_eq!(
        (e2.kind, &e2.kv, &e2.prev),
        (EventKind::Put, &b1, &None),
        "{what}: create b"
    );
    let e3 = next_event(&mut watch, what, EVENT_TIMEOUT).await;
    assert_eq!(
        (e3.kind, &e3.kv, e3.prev.as_ref()),
        (EventKind::Put, &a2, Some(&a1)),
        "{what}: update a"
    );
    let e4 = next_event(&mut watch, what, EVENT_TIMEOUT).await;
    assert_eq!(
        (e4.kind, e4.kv.key.as_str(), e4.revision()),
        (EventKind::Delete, b.as_str(), b_deleted_at),
        "{what}: delete b"
    );
    assert_eq!(
        e4.prev.as_ref(),
        Some(&b1),
        "{what}: delete b carries the deleted value"
    );

    // Live events continue right after the replay.
    let what = "live events";
    store
        .create(&format!("{sibling}2"), bytes("outside"), None)
        .await
        .expect("create sibling 2");
    let a3 = store
        .update(&a, bytes("a3"), a2.mod_revision, None)
        .await
        .expect("update a again");
    let (_, a_deleted_at) = store
        .delete(&a, Some(a3.mod_revision))
        .await
        .expect("delete a");
    let e5 = next_event(&mut watch, what, EVENT_TIMEOUT).await;
    assert_eq!(
        (e5.kind, &e5.kv, e5.prev.as_ref()),
        (EventKind::Put, &a3, Some(&a2)),
        "{what}: update a"
    );
    let e6 = next_event(&mut watch, what, EVENT_TIMEOUT).await;
    assert_eq!(
        (e6.kind, e6.revision(), e6.prev.as_ref()),
        (EventKind::Delete, a_deleted_at, Some(&a3)),
        "{what}: delete a"
    );

    // A watch that starts mid-history begins right after its revision.
    let mut late = store
        .watch(prefix, b1.mod_revision)
        .await
        .expect("watch from the middle");
    let what = "watch from the middle";
    for expected in [a2.mod_revision, b_deleted_at, a3.mod_revision, a_deleted_at] {
        let event = next_event(&mut late, what, EVENT_TIMEOUT).await;
        assert_eq!(
            event.revision(),
            expected,
            "{what}: events in revision order without gaps"
        );
    }
}
