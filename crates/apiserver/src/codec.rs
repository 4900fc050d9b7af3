//! Request body decoding and response media-type negotiation.

use bytes::Bytes;
use serde_json::Value;

use crate::status::ApiError;

/// Upstream's request body limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The media type part of a Content-Type or Accept entry, lower-cased, without parameters.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Decode a create/update body (JSON, YAML or Kubernetes protobuf) into its JSON form.
pub fn decode_object(content_type: Option<&str>, body: &Bytes) -> Result<Value, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::TooLarge);
    }
    let media = content_type
        .map(media_type)
        .unwrap_or_else(|| "application/json".into());
    match media.as_str() {
        "application/json" | "" | "*/*" => decode_json(body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => decode_yaml(body),
        "application/vnd.kubernetes.protobuf" => keelson_proto::decode_object(body)
            .map_err(|e| ApiError::BadRequest(format!("unable to decode protobuf body: {e}"))),
        other => Err(unsupported(other)),
    }
}

pub fn unsupported(media: &str) -> ApiError {
    ApiError::UnsupportedMediaType(format!(
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {media:?})"
    ))
}

pub fn decode_json(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("error decoding JSON body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the request body must be a JSON object, not ".to_string() + json_type(&value),
        ));
    }
    Ok(value)
}

pub fn decode_yaml(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_yaml::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("error decoding YAML body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the request body must be a YAML mapping".into(),
        ));
    }
    Ok(value)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The representation a client asked for in `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Representation {
    Object,
    Table,
    PartialObjectMetadata,
    PartialObjectMetadataList,
}

/// Pick the first representation in `Accept` that we serve. Only JSON is produced; protobuf
/// clients list JSON as an alternative.
pub fn negotiate(accept: Option<&str>) -> Result<Representation, ApiError> {
    let Some(accept) = accept else {
        return Ok(Representation::Object);
    };
    let mut saw_any = false;
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let (mut as_, mut group, mut version) = ("", "", "");
        for param in parts {
            if let Some((k, v)) = param.split_once('=') {
                match k.trim() {
                    "as" => as_ = v.trim(),
                    "g" => group = v.trim(),
                    "v" => version = v.trim(),
                    _ => {}
                }
            }
        }
        if !matches!(
            media.as_str(),
            "application/json" | "*/*" | "application/*" | "application/yaml"
        ) {
            if media == "application/vnd.kubernetes.protobuf" {
                saw_any = true;
            }
            continue;
        }
        saw_any = true;
        match (as_, group, version) {
            ("", _, _) => return Ok(Representation::Object),
            ("Table", "meta.k8s.io", "v1" | "v1beta1") => return Ok(Representation::Table),
            ("PartialObjectMetadata", "meta.k8s.io", "v1" | "v1beta1") => {
                return Ok(Representation::PartialObjectMetadata);
            }
            ("PartialObjectMetadataList", "meta.k8s.io", "v1" | "v1beta1") => {
                return Ok(Representation::PartialObjectMetadataList);
            }
            _ => continue,
        }
    }
    if saw_any {
        // Only protobuf or unknown `as=` variants were offered besides: answer JSON, which
        // typed clients accept.
        return Ok(Representation::Object);
    }
    Err(ApiError::NotAcceptable(format!(
        "only the following media types are accepted: application/json, application/yaml (got {accept:?})"
    )))
}

/// Whether the client asked for YAML output.
pub fn wants_yaml(accept: Option<&str>) -> bool {
    accept
        .is_some_and(|a| media_type(a.split(',').next().unwrap_or_default()) == "application/yaml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_table_and_metadata() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(kubectl)).unwrap(), Representation::Table);
        assert_eq!(
            negotiate(Some(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
            ))
            .unwrap(),
            Representation::PartialObjectMetadataList
        );
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf, */*")).unwrap(),
            Representation::Object
        );
        assert!(negotiate(Some("text/html")).is_err());
    }

    #[test]
    fn rejects_non_objects_and_garbage() {
        assert!(decode_object(Some("application/json"), &Bytes::from_static(b"[1]")).is_err());
        assert!(decode_object(Some("application/json"), &Bytes::from_static(b"{")).is_err());
        let err = decode_object(Some("text/plain"), &Bytes::from_static(b"{}")).unwrap_err();
        assert_eq!(err.code(), http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
