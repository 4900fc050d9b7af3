use std::time::Duration;

/// How to reach etcd and where in its key space the store lives.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// Client URLs of the cluster's members, e.g. `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// Key namespace prepended to every key, e.g. `""` or `"/keelson-test-xyz"`. It is a plain
    /// byte prefix: two stores whose prefixes are prefixes of each other (`/a`, `/ab`) overlap,
    /// so end it with a separator or use keys that start with one.
    pub prefix: String,
    /// How long [`EtcdStore::connect`](crate::EtcdStore::connect) waits for the cluster to
    /// answer, and the TCP connect timeout of every (re)connection.
    pub connect_timeout: Duration,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        Self {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            prefix: String::new(),
            connect_timeout: Duration::from_secs(5),
        }
    }
}
