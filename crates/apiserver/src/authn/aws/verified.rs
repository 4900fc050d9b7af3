//! Recently verified tokens, so a client's every request does not cost an STS round trip
//! (kube-apiserver caches webhook TokenReviews the same way). Keyed by the token's SHA-256:
//! the cache never holds a token.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use super::identity::AwsIdentity;

/// kube-apiserver's default for successful webhook token reviews.
pub const CACHE_TTL: TimeDelta = TimeDelta::minutes(2);
const MAX_ENTRIES: usize = 10_000;

/// A verified caller and until when the verification may be reused.
type Entry = (AwsIdentity, DateTime<Utc>);

#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

/// What the cache knows a token by.
pub fn token_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    pub fn get(&self, token: &str, now: DateTime<Utc>) -> Option<AwsIdentity> {
        let mut entries = self.entries.lock().expect("token cache lock");
        let key = token_key(token);
        match entries.get(&key) {
            Some((identity, until)) if now <= *until => Some(identity.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Remember a verification until `CACHE_TTL` from now, never past the token's expiry.
    pub fn insert(
        &self,
        token: &str,
        identity: AwsIdentity,
        token_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let until = token_expires_at.min(now + CACHE_TTL);
        let mut entries = self.entries.lock().expect("token cache lock");
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, until)| now <= *until);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(token_key(token), (identity, until));
    }

    pub fn clear(&self) {
        self.entries.lock().expect("token cache lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn identity() -> AwsIdentity {
        AwsIdentity {
            arn: "arn:aws:iam::1:user/a".into(),
            canonical_arn: "arn:aws:iam::1:user/a".into(),
            account_id: "1".into(),
            user_id: "AIDA".into(),
            session_name: String::new(),
            access_key_id: "AKIA".into(),
        }
    }

    #[test]
    fn entries_last_two_minutes_but_never_past_the_token() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let cache = VerifiedTokens::default();
        cache.insert("long", identity(), now + TimeDelta::minutes(10), now);
        cache.insert("short", identity(), now + TimeDelta::seconds(30), now);
        assert!(cache.get("long", now + TimeDelta::seconds(119)).is_some());
        assert!(cache.get("long", now + TimeDelta::seconds(121)).is_none());
        assert!(cache.get("short", now + TimeDelta::seconds(29)).is_some());
        assert!(cache.get("short", now + TimeDelta::seconds(31)).is_none());
        assert!(cache.get("other", now).is_none());
        cache.insert("long", identity(), now + TimeDelta::minutes(10), now);
        cache.clear();
        assert!(cache.get("long", now).is_none());
    }
}
