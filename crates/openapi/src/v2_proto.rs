//! stub
use crate::OpenApiError;
use keelson_api_types::ResourceInfo;
pub fn v2_protobuf(resources: &[ResourceInfo]) -> Result<Vec<u8>, OpenApiError> { let _ = resources; Ok(vec![]) }
