//! OpenAPI documents, generated for the current set of served resources and cached until it
//! changes (a CRD is added, changed or removed).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Response, StatusCode};
use sha2::Digest;

use crate::registry::Snapshot;
use crate::response::{self, Body};
use crate::status::ApiError;

struct Documents {
    /// The registry snapshot these documents describe.
    snapshot: Arc<Snapshot>,
    /// "api/v1" or "apis/<g>/<v>" -> (document, hash).
    v3: BTreeMap<String, (Bytes, String)>,
}

#[derive(Default)]
pub struct OpenApiCache {
    documents: Mutex<Option<Arc<Documents>>>,
}

impl OpenApiCache {
    fn current(&self, snapshot: &Arc<Snapshot>) -> Arc<Documents> {
        let mut documents = self.documents.lock().expect("openapi lock");
        if let Some(docs) = documents.as_ref()
            && Arc::ptr_eq(&docs.snapshot, snapshot)
        {
            return docs.clone();
        }
        let docs = Arc::new(generate(snapshot));
        *documents = Some(docs.clone());
        docs
    }

    pub fn index(&self, snapshot: &Arc<Snapshot>) -> serde_json::Value {
        let docs = self.current(snapshot);
        let entries: Vec<(String, String)> = docs
            .v3
            .iter()
            .map(|(gv, (_, hash))| (gv.clone(), hash.clone()))
            .collect();
        keelson_openapi::v3_index(&entries)
    }

    pub fn document(&self, snapshot: &Arc<Snapshot>, group_version: &str) -> Option<Bytes> {
        self.current(snapshot)
            .v3
            .get(group_version)
            .map(|(doc, _)| doc.clone())
    }

    pub fn v2(
        &self,
        snapshot: &Arc<Snapshot>,
        accept: Option<&str>,
    ) -> Result<Response<Body>, ApiError> {
        let wants_protobuf =
            accept.is_some_and(|a| a.contains("application/com.github.proto-openapi.spec.v2"));
        let resources: Vec<_> = snapshot.resources.iter().map(|r| r.info.clone()).collect();
        if wants_protobuf {
            let bytes = keelson_openapi::v2_protobuf(&resources)
                .map_err(|e| ApiError::NotAcceptable(format!("OpenAPI v2 protobuf: {e}")))?;
            return Ok(response::bytes_response(
                StatusCode::OK,
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                bytes,
            ));
        }
        Ok(response::json(
            StatusCode::OK,
            &keelson_openapi::v2_document(&resources),
        ))
    }
}

fn generate(snapshot: &Arc<Snapshot>) -> Documents {
    let mut v3 = BTreeMap::new();
    for (group, versions) in &snapshot.groups {
        for version in versions {
            let resources: Vec<_> = snapshot
                .resources_of(group, version)
                .map(|r| r.info.clone())
                .collect();
            let crd_schemas: HashMap<String, serde_json::Value> = snapshot
                .resources_of(group, version)
                .filter_map(|r| {
                    let schema = r.custom.as_ref()?.schema.clone()?;
                    Some((r.info.kind.clone(), schema))
                })
                .collect();
            let document = keelson_openapi::v3_group_version_document(
                group,
                version,
                &resources,
                &crd_schemas,
            );
            let bytes = Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
            let hash = hex(&sha2::Sha512::digest(&bytes)[..]);
            let key = if group.is_empty() {
                format!("api/{version}")
            } else {
                format!("apis/{group}/{version}")
            };
            v3.insert(key, (bytes, hash.to_uppercase()));
        }
    }
    Documents {
        snapshot: snapshot.clone(),
        v3,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
