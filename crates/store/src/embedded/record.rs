//! The on-disk encoding of a [`Change`].
//!
//! A log record is `[payload length: u32 LE][crc32 of payload: u32 LE][payload]`. The payload is
//! an op byte followed by fixed-width little-endian integers and length-prefixed strings. The
//! crc lets replay tell a torn (half-written) tail from a complete record.

use bytes::Bytes;

use crate::mvcc::Change;
use crate::{KeyValue, StoreError};

pub(super) const FRAME_HEADER: usize = 8;

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const OP_LEASE_GRANT: u8 = 3;
const OP_LEASE_REVOKE: u8 = 4;
const OP_COMPACT: u8 = 5;

fn put_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Append the unframed encoding of `change` to `out`.
pub(super) fn encode_payload(change: &Change, out: &mut Vec<u8>) {
    match change {
        Change::Put(kv) => {
            out.push(OP_PUT);
            for n in [kv.mod_revision, kv.create_revision, kv.version, kv.lease] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            put_str(out, kv.key.as_bytes());
            put_str(out, &kv.value);
        }
        Change::Delete { key, revision } => {
            out.push(OP_DELETE);
            out.extend_from_slice(&revision.to_le_bytes());
            put_str(out, key.as_bytes());
        }
        Change::LeaseGrant { id, ttl } => {
            out.push(OP_LEASE_GRANT);
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&ttl.to_le_bytes());
        }
        Change::LeaseRevoke { id } => {
            out.push(OP_LEASE_REVOKE);
            out.extend_from_slice(&id.to_le_bytes());
        }
        Change::Compact { revision } => {
            out.push(OP_COMPACT);
            out.extend_from_slice(&revision.to_le_bytes());
        }
    }
}

/// Append `change` as a framed, checksummed record.
pub(super) fn encode_record(change: &Change, out: &mut Vec<u8>) {
    let header_at = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    encode_payload(change, out);
    let payload = &out[header_at + FRAME_HEADER..];
    let length = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    out[header_at..header_at + 4].copy_from_slice(&length);
    out[header_at + 4..header_at + 8].copy_from_slice(&crc);
}

/// Reads little-endian fields out of a shared buffer; values are zero-copy slices of it.
pub(super) struct Reader {
    data: Bytes,
    at: usize,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("truncated or malformed {what}"))
}

impl Reader {
    pub fn new(data: Bytes) -> Self {
        Self { data, at: 0 }
    }

    pub fn position(&self) -> usize {
        self.at
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.at
    }

    pub fn bytes(&mut self, len: usize) -> Result<Bytes, StoreError> {
        if self.remaining() < len {
            return Err(corrupt("field"));
        }
        let out = self.data.slice(self.at..self.at + len);
        self.at += len;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let bytes = self.bytes(N)?;
        let mut out = [0; N];
        out.copy_from_slice(&bytes);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn i64(&mut self) -> Result<i64, StoreError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn sized_bytes(&mut self) -> Result<Bytes, StoreError> {
        let len = self.u32()? as usize;
        self.bytes(len)
    }

    fn string(&mut self) -> Result<String, StoreError> {
        String::from_utf8(self.sized_bytes()?.to_vec()).map_err(|_| corrupt("key (not UTF-8)"))
    }

    /// Decode one unframed change.
    pub fn change(&mut self) -> Result<Change, StoreError> {
        Ok(match self.u8()? {
            OP_PUT => {
                let (mod_revision, create_revision, version, lease) =
                    (self.i64()?, self.i64()?, self.i64()?, self.i64()?);
                let key = self.string()?;
                let value = self.sized_bytes()?;
                Change::Put(KeyValue {
                    key,
                    value,
                    create_revision,
                    mod_revision,
                    version,
                    lease,
                })
            }
            OP_DELETE => {
                let revision = self.i64()?;
                Change::Delete {
                    key: self.string()?,
                    revision,
                }
            }
            OP_LEASE_GRANT => Change::LeaseGrant {
                id: self.i64()?,
                ttl: self.i64()?,
            },
            OP_LEASE_REVOKE => Change::LeaseRevoke { id: self.i64()? },
            OP_COMPACT => Change::Compact {
                revision: self.i64()?,
            },
            op => return Err(StoreError::Corrupt(format!("unknown record op {op}"))),
        })
    }

    /// Decode the next framed record. `Ok(None)` means the rest of the buffer is not a complete,
    /// intact record (end of data or a torn tail); the position is left at its start.
    pub fn record(&mut self) -> Result<Option<Change>, StoreError> {
        let start = self.at;
        if self.remaining() < FRAME_HEADER {
            return Ok(None);
        }
        let length = self.u32()? as usize;
        let crc = self.u32()?;
        if self.remaining() < length
            || crc32fast::hash(&self.data[self.at..self.at + length]) != crc
        {
            self.at = start;
            return Ok(None);
        }
        let mut payload = Reader::new(self.bytes(length)?);
        let change = payload.change()?;
        if payload.remaining() != 0 {
            return Err(corrupt("record (trailing bytes)"));
        }
        Ok(Some(change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_round_trips() {
        let changes = vec![
            Change::Put(KeyValue {
                key: "/a/b".into(),
                value: Bytes::from_static(b"value"),
                create_revision: 2,
                mod_revision: 5,
                version: 3,
                lease: 7,
            }),
            Change::Delete {
                key: "/a/b".into(),
                revision: 6,
            },
            Change::LeaseGrant { id: 7, ttl: 30 },
            Change::LeaseRevoke { id: 7 },
            Change::Compact { revision: 4 },
        ];
        let mut buf = Vec::new();
        for change in &changes {
            encode_record(change, &mut buf);
        }
        let full_len = buf.len();
        buf.extend_from_slice(&[1, 2, 3]); // a torn tail
        let mut reader = Reader::new(Bytes::from(buf));
        let mut decoded = Vec::new();
        while let Some(change) = reader.record().unwrap() {
            decoded.push(change);
        }
        assert_eq!(decoded, changes);
        assert_eq!(reader.position(), full_len);
    }
}
