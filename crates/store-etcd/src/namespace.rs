//! The store's key namespace: how store keys and ranges become etcd keys and back.

use keelson_store::StoreError;

/// Prepends the namespace prefix to keys sent to etcd and strips it from keys read back.
#[derive(Clone, Debug)]
pub(crate) struct Namespace {
    prefix: String,
}

impl Namespace {
    pub(crate) fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The etcd key of store key `key`.
    pub(crate) fn key(&self, key: &str) -> Vec<u8> {
        let mut raw = Vec::with_capacity(self.prefix.len() + key.len());
        raw.extend_from_slice(self.prefix.as_bytes());
        raw.extend_from_slice(key.as_bytes());
        raw
    }

    /// The etcd `[key, range_end)` covering every store key that starts with `prefix`.
    pub(crate) fn prefix_range(&self, prefix: &str) -> (Vec<u8>, Vec<u8>) {
        let key = self.key(prefix);
        let end = prefix_end(&key);
        // etcd rejects an empty key; "\0" is the smallest key it accepts.
        let start = if key.is_empty() { vec![0] } else { key };
        (start, end)
    }

    /// A key inside the namespace for requests that need some key but read nothing of it
    /// (etcd rejects an empty key, which `key("")` is when the prefix is empty).
    pub(crate) fn probe_key(&self) -> Vec<u8> {
        self.key("/")
    }

    /// The store key of etcd key `raw`.
    pub(crate) fn strip(&self, raw: Vec<u8>) -> Result<String, StoreError> {
        let Some(rest) = raw.strip_prefix(self.prefix.as_bytes()) else {
            return Err(StoreError::Corrupt(format!(
                "etcd returned key {:?} outside the namespace {:?}",
                String::from_utf8_lossy(&raw),
                self.prefix
            )));
        };
        String::from_utf8(rest.to_vec()).map_err(|_| {
            StoreError::Corrupt(format!(
                "etcd key {:?} is not UTF-8",
                String::from_utf8_lossy(&raw)
            ))
        })
    }
}

/// The smallest key greater than every key starting with `prefix`, as etcd's `range_end`.
/// Trailing 0xff bytes cannot be incremented, so they are dropped; a prefix of only 0xff bytes
/// (or an empty one) has no upper bound, which etcd spells `"\0"` ("to the end of the keys").
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end(b"/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end(b"a\xff\xff"), b"b".to_vec());
    }

    #[test]
    fn unbounded_prefixes_end_at_the_end_of_the_key_space() {
        assert_eq!(prefix_end(b""), vec![0]);
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }

    #[test]
    fn keys_round_trip_through_the_namespace() {
        let ns = Namespace::new("/test");
        let raw = ns.key("/pods/a");
        assert_eq!(raw, b"/test/pods/a".to_vec());
        assert_eq!(ns.strip(raw).unwrap(), "/pods/a");
        assert_eq!(
            ns.prefix_range("/pods/"),
            (b"/test/pods/".to_vec(), b"/test/pods0".to_vec())
        );
    }

    #[test]
    fn keys_outside_the_namespace_are_corrupt() {
        let ns = Namespace::new("/test");
        assert!(matches!(
            ns.strip(b"/other/a".to_vec()),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn the_empty_namespace_covers_every_key() {
        let ns = Namespace::new("");
        assert_eq!(ns.prefix_range(""), (vec![0], vec![0]));
        assert_eq!(ns.probe_key(), b"/".to_vec());
    }
}
