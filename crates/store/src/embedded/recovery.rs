//! Opening a store directory: load the snapshot, replay the log segments after it, and cut off
//! a torn tail (the last record of a write that was interrupted by a crash and never
//! acknowledged).

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use bytes::Bytes;

use super::files::{self, SEGMENT_MAGIC};
use super::record::Reader;
use crate::StoreError;
use crate::mvcc::State;

/// TTL, in seconds, of a lease recreated for keys whose revocation was interrupted.
const ORPHANED_LEASE_TTL: i64 = 1;

pub(super) struct Recovered {
    pub state: State,
    pub segment: File,
    pub segment_seq: u64,
    pub segment_len: u64,
}

pub(super) fn recover(dir: &Path) -> Result<Recovered, StoreError> {
    let (mut state, first_seq) =
        super::snapshot::load(dir)?.unwrap_or_else(|| (State::default(), 1));
    files::remove_segments_before(dir, first_seq)?;
    let segments = files::list_segments(dir)?;
    let Some(&last_seq) = segments.last() else {
        state.adopt_orphaned_lease_keys(ORPHANED_LEASE_TTL);
        let segment = files::create_segment(dir, first_seq)?;
        return Ok(Recovered {
            state,
            segment,
            segment_seq: first_seq,
            segment_len: SEGMENT_MAGIC.len() as u64,
        });
    };
    let mut last_len = 0;
    for &seq in &segments {
        last_len = replay_segment(dir, seq, seq == last_seq, &mut state)?;
    }
    state.adopt_orphaned_lease_keys(ORPHANED_LEASE_TTL);
    let segment = OpenOptions::new()
        .append(true)
        .open(files::segment_path(dir, last_seq))?;
    Ok(Recovered {
        state,
        segment,
        segment_seq: last_seq,
        segment_len: last_len,
    })
}

/// Replay one segment into `state`; returns the segment's valid length.
fn replay_segment(
    dir: &Path,
    seq: u64,
    is_last: bool,
    state: &mut State,
) -> Result<u64, StoreError> {
    let path = files::segment_path(dir, seq);
    let data = Bytes::from(fs::read(&path)?);
    if data.len() < SEGMENT_MAGIC.len() && is_last {
        // Crashed while creating the segment: nothing was ever acknowledged from it.
        files::create_segment(dir, seq)?;
        return Ok(SEGMENT_MAGIC.len() as u64);
    }
    if !data.starts_with(SEGMENT_MAGIC) {
        return Err(StoreError::Corrupt(format!(
            "{} is not a store log segment",
            path.display()
        )));
    }
    let mut reader = Reader::new(data.slice(SEGMENT_MAGIC.len()..));
    while let Some(change) = reader.record()? {
        state.replay(change);
    }
    let valid = (SEGMENT_MAGIC.len() + reader.position()) as u64;
    if reader.remaining() > 0 {
        if !is_last {
            return Err(StoreError::Corrupt(format!(
                "{} has a damaged record at offset {valid}",
                path.display()
            )));
        }
        tracing::warn!(
            segment = %path.display(),
            dropped_bytes = reader.remaining(),
            "truncating a torn record at the end of the store log"
        );
        let file = OpenOptions::new().write(true).open(&path)?;
        file.set_len(valid)?;
        file.sync_all()?;
    }
    Ok(valid)
}
