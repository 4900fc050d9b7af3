//! Server-side `Table` output for `kubectl get`.

use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::handler::Ctx;
use crate::response::{self, Body};
use crate::status::ApiError;

pub fn response(table: &Value) -> Response<Body> {
    response::bytes_response(
        StatusCode::OK,
        "application/json;as=Table;v=v1;g=meta.k8s.io",
        serde_json::to_vec(table).unwrap_or_default(),
    )
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A Table of `objects` (already in the requested version). `with_columns` is false for watch
/// events after the first, as upstream omits repeated column definitions.
pub fn build(
    ctx: &Ctx,
    objects: &[Value],
    revision: i64,
    next: Option<String>,
    with_columns: bool,
) -> Result<Value, ApiError> {
    let info = &ctx.resource.info;
    // Custom resources always get the apiextensions table (Name, then the CRD's columns or Age).
    let custom_columns = ctx
        .resource
        .custom
        .as_ref()
        .map(|c| c.printer_columns.clone().unwrap_or(Value::Null));
    let (columns, rows): (Vec<Value>, Vec<Vec<Value>>) = match custom_columns {
        Some(additional) => {
            let columns = keelson_api_types::printers::crd_columns(&additional);
            let rows = objects
                .iter()
                .map(|o| keelson_api_types::printers::crd_row_cells(&columns, o, now_unix()))
                .collect();
            (columns.iter().map(column_json).collect(), rows)
        }
        None => {
            let columns = keelson_api_types::printers::columns(&info.group, &info.kind);
            let rows = objects
                .iter()
                .map(|o| {
                    keelson_api_types::printers::row_cells(&info.group, &info.kind, o, now_unix())
                })
                .collect();
            (columns.iter().map(column_json).collect(), rows)
        }
    };
    let include = ctx.query.get("includeObject").unwrap_or("Metadata");
    let rows: Vec<Value> = objects
        .iter()
        .zip(rows)
        .map(|(object, cells)| {
            let embedded = match include {
                "None" => Value::Null,
                "Object" => object.clone(),
                _ => crate::read::partial_metadata(object),
            };
            let mut row = json!({"cells": cells});
            if !embedded.is_null() {
                row["object"] = embedded;
            }
            row
        })
        .collect();
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if let Some(next) = next {
        metadata["continue"] = json!(next);
    }
    let mut table = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "rows": rows});
    if with_columns {
        table["columnDefinitions"] = Value::Array(columns);
    }
    Ok(table)
}

fn column_json(column: &keelson_api_types::printers::ColumnDefinition) -> Value {
    serde_json::to_value(column).unwrap_or_default()
}
