use std::path::PathBuf;
use std::time::Duration;

/// Which store backend the control plane (and the raw-store comparison) runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreChoice {
    Embedded,
    Etcd,
}

impl StoreChoice {
    pub fn name(self) -> &'static str {
        match self {
            StoreChoice::Embedded => "embedded",
            StoreChoice::Etcd => "etcd",
        }
    }
}

impl std::str::FromStr for StoreChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "embedded" => Ok(StoreChoice::Embedded),
            "etcd" => Ok(StoreChoice::Etcd),
            other => Err(format!("unknown store {other:?} (embedded or etcd)")),
        }
    }
}

/// What to run. The defaults match the targets (see `keelson bench api --help`).
#[derive(Clone)]
pub struct BenchOptions {
    /// Opens the raw store backends for the API/raw write-rate ratio.
    pub open_store: crate::raw::StoreOpener,
    /// The `keelson` binary to run as `control-plane` (normally the current executable).
    pub keelson_exe: PathBuf,
    /// Concurrent client counts, e.g. 1, 16, 256.
    pub clients: Vec<usize>,
    /// ConfigMaps in the list namespace.
    pub objects: usize,
    /// Concurrent watch streams for the fan-out measurement.
    pub watchers: usize,
    /// Pods stored before the restart measurement (0 skips it).
    pub pods: usize,
    /// Length of each timed create/get/update/list phase.
    pub duration: Duration,
    /// Repeats of each timed phase; the report shows the median.
    pub repeats: usize,
    pub stores: Vec<StoreChoice>,
    /// Client tasks per HTTP/2 connection.
    pub clients_per_connection: usize,
    /// Updates the watch writer sends (each delivered to every watcher).
    pub watch_events: usize,
    /// etcd binary for `--stores etcd`.
    pub etcd_binary: PathBuf,
}

impl BenchOptions {
    pub fn validate(&self) -> Result<(), crate::BenchError> {
        let bad = |m: &str| Err(crate::BenchError::Invalid(m.to_string()));
        if self.clients.is_empty() || self.clients.contains(&0) {
            return bad("--clients needs one or more positive counts");
        }
        if self.stores.is_empty() {
            return bad("--stores needs embedded, etcd or both");
        }
        if self.repeats == 0 || self.clients_per_connection == 0 {
            return bad("--repeats and --clients-per-connection must be positive");
        }
        if self.duration.is_zero() {
            return bad("--duration-secs must be positive");
        }
        Ok(())
    }

    /// The highest concurrency run: single-object write p99 targets are judged there.
    pub fn max_clients(&self) -> usize {
        self.clients.iter().copied().max().unwrap_or(1)
    }
}
