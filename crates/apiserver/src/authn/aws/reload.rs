//! Following the config file: the EKS service replaces it (write then rename) whenever an
//! access entry or the authentication mode changes.

use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::authenticator::AwsAuthenticator;

const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What identifies one version of the file: a rename gives a new inode, an in-place write a
/// new mtime or size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    modified_ns: i128,
    len: u64,
}

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        inode: meta.ino(),
        modified_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        len: meta.len(),
    })
}

/// Poll the file until `shutdown`, reloading it whenever it changes.
pub async fn follow_config_file(authenticator: Arc<AwsAuthenticator>, shutdown: CancellationToken) {
    let mut seen = stamp(authenticator.path());
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
        let current = stamp(authenticator.path());
        if current != seen && current.is_some() {
            seen = current;
            authenticator.reload();
        }
    }
}
