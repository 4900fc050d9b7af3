//! Snapshots: the full retained MVCC state at one committed revision, written atomically
//! (temp file, fsync, rename, fsync of the directory). It names the first log segment that
//! must be replayed on top of it; older segments are then deleted.
//!
//! Layout: magic, `first_segment: u64`, `revision`, `compacted`, `next_lease_id`,
//! `lease_count: u32`, `(id, ttl)` pairs, then framed records (one per retained version), then
//! a crc32 of everything before it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use bytes::Bytes;

use super::files::sync_dir;
use super::record::{Reader, encode_record};
use crate::StoreError;
use crate::mvcc::{Change, State};

const MAGIC: &[u8; 8] = b"KLSNSNP1";
const FILE_NAME: &str = "snapshot";
const TEMP_NAME: &str = "snapshot.tmp";

/// Encode the committed part of `state`. Versions above `state.committed` belong to batches
/// still queued for the log; they will be in the segments replayed after this snapshot.
pub(super) fn encode(state: &State, first_segment: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&first_segment.to_le_bytes());
    for n in [state.committed, state.compacted, state.leases.next_id] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&(state.leases.leases.len() as u32).to_le_bytes());
    for (id, lease) in &state.leases.leases {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&lease.ttl.to_le_bytes());
    }
    for (key, versions) in &state.keys {
        for version in versions
            .iter()
            .take_while(|v| v.mod_revision <= state.committed)
        {
            let change = match &version.kv {
                Some(kv) => Change::Put(kv.clone()),
                None => Change::Delete {
                    key: key.clone(),
                    revision: version.mod_revision,
                },
            };
            encode_record(&change, &mut out);
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

pub(super) fn write(dir: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = dir.join(TEMP_NAME);
    let mut file = File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&temp, dir.join(FILE_NAME))?;
    sync_dir(dir)
}

/// Load the snapshot, if there is one: the state and the first segment to replay.
pub(super) fn load(dir: &Path) -> Result<Option<(State, u64)>, StoreError> {
    let _ = fs::remove_file(dir.join(TEMP_NAME));
    let data = match fs::read(dir.join(FILE_NAME)) {
        Ok(data) => Bytes::from(data),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let corrupt = |what: &str| StoreError::Corrupt(format!("snapshot: {what}"));
    if data.len() < MAGIC.len() + 4 || &data[..MAGIC.len()] != MAGIC {
        return Err(corrupt("bad header"));
    }
    let (body, trailer) = data.split_at(data.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != trailer {
        return Err(corrupt("checksum mismatch"));
    }
    let mut reader = Reader::new(data.slice(MAGIC.len()..data.len() - 4));
    let first_segment = reader.i64()? as u64;
    let (revision, compacted, next_lease_id) = (reader.i64()?, reader.i64()?, reader.i64()?);
    let mut state = State::default();
    for _ in 0..reader.u32()? {
        let (id, ttl) = (reader.i64()?, reader.i64()?);
        state.leases.grant(id, ttl);
    }
    state.leases.next_id = state.leases.next_id.max(next_lease_id);
    while let Some(change) = reader.record()? {
        state.replay(change);
    }
    if reader.remaining() != 0 {
        return Err(corrupt("malformed record"));
    }
    state.head = state.head.max(revision);
    state.committed = state.head;
    state.compacted = compacted;
    Ok(Some((state, first_segment)))
}
