//! The v2 document in gnostic's protobuf form (`openapi_v2.Document`), which kubectl asks for
//! with `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`.

mod convert;
mod messages;

use keelson_api_types::ResourceInfo;
use prost::Message;

use crate::OpenApiError;

/// [`crate::v2_document`] encoded as an `openapi_v2.Document` protobuf message.
pub fn v2_protobuf(resources: &[ResourceInfo]) -> Result<Vec<u8>, OpenApiError> {
    let document = convert::document(&crate::v2_document(resources))?;
    Ok(document.encode_to_vec())
}

#[cfg(test)]
mod tests;
