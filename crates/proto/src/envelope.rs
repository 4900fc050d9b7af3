//! The `k8s\0` + runtime.Unknown envelope around every Kubernetes protobuf object.

use crate::ProtoError;
use crate::wire::{Reader, Value, WireError};

pub(crate) const MAGIC: &[u8; 4] = b"k8s\0";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

pub(crate) struct Envelope<'a> {
    pub api_version: String,
    pub kind: String,
    /// The object's own message; None when the envelope carries no `raw` field.
    pub raw: Option<&'a [u8]>,
}

pub(crate) fn parse(body: &[u8]) -> Result<Envelope<'_>, ProtoError> {
    let rest = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtoError::BadMagic)?;
    let mut env = Envelope {
        api_version: String::new(),
        kind: String::new(),
        raw: None,
    };
    let mut reader = Reader::new(rest);
    while let Some((num, value)) = reader.field().map_err(|e| err(e, "<envelope>"))? {
        let Value::Bytes(bytes) = value else {
            if (1..=4).contains(&num) {
                return Err(err(WireError::Invalid("wrong wire type"), "<envelope>"));
            }
            continue;
        };
        match num {
            1 => type_meta(bytes, &mut env)?,
            2 => env.raw = Some(bytes),
            // Upstream never sets an encoding; a compressed or otherwise wrapped body is refused.
            3 if !bytes.is_empty() => {
                return Err(ProtoError::UnsupportedEnvelope(format!(
                    "contentEncoding {:?}",
                    String::from_utf8_lossy(bytes)
                )));
            }
            4 if !bytes.is_empty() && bytes != PROTOBUF.as_bytes() => {
                return Err(ProtoError::UnsupportedEnvelope(format!(
                    "contentType {:?}",
                    String::from_utf8_lossy(bytes)
                )));
            }
            _ => {}
        }
    }
    Ok(env)
}

fn type_meta(bytes: &[u8], env: &mut Envelope<'_>) -> Result<(), ProtoError> {
    let mut reader = Reader::new(bytes);
    while let Some((num, value)) = reader.field().map_err(|e| err(e, "<envelope>.typeMeta"))? {
        match (num, value) {
            (1, Value::Bytes(b)) => env.api_version = String::from_utf8_lossy(b).into_owned(),
            (2, Value::Bytes(b)) => env.kind = String::from_utf8_lossy(b).into_owned(),
            (1 | 2, _) => {
                return Err(err(
                    WireError::Invalid("wrong wire type"),
                    "<envelope>.typeMeta",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn err(e: WireError, path: &str) -> ProtoError {
    match e {
        WireError::Truncated => ProtoError::Truncated { path: path.into() },
        WireError::Invalid(reason) => ProtoError::InvalidWireData {
            path: path.into(),
            reason,
        },
    }
}

/// True for `application/vnd.kubernetes.protobuf`, with or without parameters.
pub fn is_protobuf_content_type(ct: &str) -> bool {
    let essence = ct.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(PROTOBUF)
}
