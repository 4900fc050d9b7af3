//! Decoding of Kubernetes protobuf request bodies into their JSON form.
//!
//! kubectl 1.32+ sends `application/vnd.kubernetes.protobuf` bodies for everything built on the
//! typed clientset (`create configmap`, `auth can-i`, `create token`, drain's evictions, ...)
//! and does not retry as JSON after a 415, so the API server decodes them here and continues
//! with the JSON it would otherwise have received. Responses stay JSON.
//!
//! The decoding is generic: one walk over a generated field table (`schema`) covers every kind
//! of the served groups. The output is what upstream's JSON serializer makes of the same body.
//! Sans-IO: bytes in, `serde_json::Value` out; malformed input yields a [`ProtoError`], never a
//! panic.

mod envelope;
mod error;
mod path;
mod schema;
mod special;
mod transcode;
mod wire;

pub use envelope::is_protobuf_content_type;
pub use error::ProtoError;
pub use schema::kinds;

/// The generated field table of every built-in message (JSON names, types, cardinality), for
/// crates that derive other views of the same types, such as OpenAPI schemas.
pub mod table {
    pub use crate::schema::{Card, Field, KINDS, MESSAGES, Message, Scalar, Special, Ty};
}

use serde_json::Value;

/// Decodes a protobuf request body (`k8s\0` + runtime.Unknown) into the object's JSON form,
/// with `apiVersion` and `kind` taken from the envelope's TypeMeta.
pub fn decode_object(body: &[u8]) -> Result<Value, ProtoError> {
    let env = envelope::parse(body)?;
    let index = schema::lookup_kind(&env.api_version, &env.kind).ok_or_else(|| {
        ProtoError::UnknownKind {
            api_version: env.api_version.clone(),
            kind: env.kind.clone(),
        }
    })?;
    let mut value = transcode::message(
        index,
        Some(env.raw.unwrap_or_default()),
        &path::Path::root(),
    )?;
    if let Value::Object(object) = &mut value {
        // Go's TypeMeta order: kind, then apiVersion; both first in the object.
        let mut typed = serde_json::Map::new();
        typed.insert("kind".into(), Value::String(env.kind));
        typed.insert("apiVersion".into(), Value::String(env.api_version));
        typed.append(object);
        *object = typed;
    }
    Ok(value)
}
