//! The store directory's files: `LOCK`, `snapshot` and the log segments `wal-<seq>.log`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// Every log segment starts with this, so a foreign or garbled file is not mistaken for a log.
pub(super) const SEGMENT_MAGIC: &[u8; 8] = b"KLSNWAL1";

pub(super) fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("wal-{seq:016}.log"))
}

/// The sequence numbers of the log segments in `dir`, ascending.
pub(super) fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut seqs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        let seq = name
            .strip_prefix("wal-")
            .and_then(|n| n.strip_suffix(".log"));
        if let Some(Ok(seq)) = seq.map(str::parse) {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// Make renames and file creations in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Create (or reset) segment `seq` with just its header, durably, and open it for appending.
pub(super) fn create_segment(dir: &Path, seq: u64) -> io::Result<File> {
    let path = segment_path(dir, seq);
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    file.write_all(SEGMENT_MAGIC)?;
    file.sync_all()?;
    sync_dir(dir)?;
    OpenOptions::new().append(true).open(&path)
}

pub(super) fn remove_segments_before(dir: &Path, seq: u64) -> io::Result<()> {
    for old in list_segments(dir)?.into_iter().filter(|s| *s < seq) {
        fs::remove_file(segment_path(dir, old))?;
    }
    Ok(())
}

/// Take the directory's exclusive lock, so two processes never write the same log.
pub(super) fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("LOCK"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::Backend(format!(
            "store directory {} is in use by another process",
            dir.display()
        ))),
        Err(fs::TryLockError::Error(err)) => Err(err.into()),
    }
}
