//! Range reads: prefix, end key, single key, limit/more/count, keys_only, past revisions.

use super::bytes;
use crate::{RangeRequest, Store};

fn keys_of(response: &crate::RangeResponse, prefix: &str) -> Vec<String> {
    response
        .kvs
        .iter()
        .map(|kv| kv.key.strip_prefix(prefix).unwrap_or(&kv.key).to_owned())
        .collect()
}

pub(super) async fn ranges(store: &dyn Store, prefix: &str) {
    let key = |name: &str| format!("{prefix}{name}");
    for name in ["a", "b", "c", "d", "e"] {
        store
            .create(&key(name), bytes(&format!("{name}0")), None)
            .await
            .expect("create");
    }
    // A sibling that shares the prefix minus its final '/', so it must not match.
    let sibling = format!("{}~", prefix.trim_end_matches('/'));
    store
        .create(&sibling, bytes("outside"), None)
        .await
        .expect("create sibling");
    let before_changes = store.current_revision().await.expect("current_revision");
    let (b, _) = store.get(&key("b"), None).await.expect("get b");
    store
        .update(
            &key("b"),
            bytes("b1"),
            b.expect("b exists").mod_revision,
            None,
        )
        .await
        .expect("update b");
    store.delete(&key("d"), None).await.expect("delete d");

    let all = store
        .range(RangeRequest::prefix(prefix))
        .await
        .expect("prefix range");
    assert_eq!(
        keys_of(&all, prefix),
        ["a", "b", "c", "e"],
        "prefix range keys"
    );
    assert_eq!((all.count, all.more), (4, false), "prefix range count/more");
    assert_eq!(
        all.kvs[1].value.as_ref(),
        b"b1",
        "prefix range returns current values"
    );
    assert!(
        all.revision > before_changes,
        "range served at {} before the latest writes",
        all.revision
    );

    let limited = store
        .range(RangeRequest {
            limit: Some(2),
            ..RangeRequest::prefix(prefix)
        })
        .await
        .expect("limit");
    assert_eq!(keys_of(&limited, prefix), ["a", "b"], "limited range keys");
    assert_eq!(
        (limited.count, limited.more),
        (4, true),
        "limited range count/more"
    );
    let roomy = store
        .range(RangeRequest {
            limit: Some(10),
            ..RangeRequest::prefix(prefix)
        })
        .await
        .expect("limit");
    assert_eq!(
        (roomy.kvs.len(), roomy.more),
        (4, false),
        "a limit above the count"
    );

    let keys_only = store
        .range(RangeRequest {
            keys_only: true,
            ..RangeRequest::prefix(prefix)
        })
        .await
        .expect("keys_only");
    assert_eq!(
        keys_of(&keys_only, prefix),
        ["a", "b", "c", "e"],
        "keys_only keys"
    );
    assert!(
        keys_only.kvs.iter().all(|kv| kv.value.is_empty()),
        "keys_only returned values"
    );
    assert!(
        keys_only.kvs.iter().all(|kv| kv.mod_revision > 0),
        "keys_only dropped metadata"
    );

    let bounded = RangeRequest {
        start: key("b"),
        end: Some(key("e")),
        ..RangeRequest::default()
    };
    let bounded = store.range(bounded).await.expect("end-key range");
    assert_eq!(keys_of(&bounded, prefix), ["b", "c"], "[b, e) range");
    assert_eq!(bounded.count, 2, "[b, e) count");

    let single = store
        .range(RangeRequest {
            start: key("c"),
            ..RangeRequest::default()
        })
        .await
        .expect("single key");
    assert_eq!(keys_of(&single, prefix), ["c"], "single-key range");
    let absent = store
        .range(RangeRequest {
            start: key("d"),
            ..RangeRequest::default()
        })
        .await
        .expect("deleted key");
    assert_eq!(
        (absent.kvs.len(), absent.count),
        (0, 0),
        "a deleted key's single-key range"
    );

    let past = RangeRequest {
        revision: Some(before_changes),
        ..RangeRequest::prefix(prefix)
    };
    let past = store.range(past).await.expect("range at a past revision");
    assert_eq!(
        keys_of(&past, prefix),
        ["a", "b", "c", "d", "e"],
        "range at a past revision sees deleted keys"
    );
    assert_eq!(
        past.kvs[1].value.as_ref(),
        b"b0",
        "range at a past revision sees old values"
    );
    // The in-process backends report the requested revision; etcd reports its current one.
    assert!(
        past.revision >= before_changes,
        "range at a past revision served at {}",
        past.revision
    );
    let past_limited = RangeRequest {
        revision: Some(before_changes),
        limit: Some(3),
        ..RangeRequest::prefix(prefix)
    };
    let past_limited = store
        .range(past_limited)
        .await
        .expect("limited range at a past revision");
    assert_eq!(
        (
            past_limited.kvs.len(),
            past_limited.count,
            past_limited.more
        ),
        (3, 5, true),
        "limit at a past revision"
    );
}
