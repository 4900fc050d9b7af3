//! Server-side `Table` columns for `kubectl get`: what upstream's printers show for each built-in
//! kind (priority 1 columns appear with `-o wide`), and `additionalPrinterColumns` for custom
//! resources.

mod cluster;
mod core;
mod custom;
mod format;
mod workloads;

use serde::Serialize;
use serde_json::Value;

pub use custom::{crd_columns, crd_row_cells};
pub use format::human_duration;

/// A `meta.k8s.io/v1` TableColumnDefinition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnDefinition {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: String,
    pub format: String,
    pub description: String,
    pub priority: i32,
    /// For custom resources: the JSONPath the cell is read from.
    #[serde(skip)]
    pub json_path: Option<String>,
}

/// A column as the printer tables declare it: name, type, format, priority, description.
pub(crate) type Column = (&'static str, &'static str, &'static str, i32, &'static str);

/// A printer: its columns and the function producing one row's cells, in the same order.
pub(crate) struct Printer {
    pub columns: &'static [Column],
    pub cells: fn(&Value, i64) -> Vec<Value>,
}

/// A string column; priority 1 shows only with `-o wide`.
pub(crate) const fn col(name: &'static str, priority: i32) -> Column {
    (name, "string", "", priority, "")
}

pub(crate) const fn int_col(name: &'static str) -> Column {
    (name, "integer", "", 0, "")
}

pub(crate) const NAME: Column = (
    "Name",
    "string",
    "name",
    0,
    "Name must be unique within a namespace.",
);
pub(crate) const AGE: Column = (
    "Age",
    "string",
    "",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

/// Kinds without a printer get upstream's default table: the name and the creation time.
const DEFAULT: Printer = Printer {
    columns: &[
        NAME,
        (
            "Created At",
            "date",
            "",
            0,
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        ),
    ],
    cells: |object, _| {
        vec![
            format::name(object),
            object
                .pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(Value::Null),
        ]
    },
};

fn printer(group: &str, kind: &str) -> &'static Printer {
    core::printer(group, kind)
        .or_else(|| workloads::printer(group, kind))
        .or_else(|| cluster::printer(group, kind))
        .unwrap_or(&DEFAULT)
}

/// The columns of `kind` in `group`.
pub fn columns(group: &str, kind: &str) -> Vec<ColumnDefinition> {
    printer(group, kind)
        .columns
        .iter()
        .map(
            |(name, column_type, format, priority, description)| ColumnDefinition {
                name: name.to_string(),
                column_type: column_type.to_string(),
                format: format.to_string(),
                description: description.to_string(),
                priority: *priority,
                json_path: None,
            },
        )
        .collect()
}

/// One row's cells for `object`, in the order of [`columns`]. `now_unix` anchors the ages.
pub fn row_cells(group: &str, kind: &str, object: &Value, now_unix: i64) -> Vec<Value> {
    (printer(group, kind).cells)(object, now_unix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::builtin_resources;

    #[test]
    fn every_printer_yields_as_many_cells_as_columns() {
        let empty = serde_json::json!({"metadata": {"name": "x"}});
        for resource in builtin_resources() {
            let columns = columns(&resource.group, &resource.kind);
            let cells = row_cells(&resource.group, &resource.kind, &empty, 0);
            assert_eq!(
                columns.len(),
                cells.len(),
                "{} {}",
                resource.group,
                resource.kind
            );
            assert!(
                columns.iter().any(|c| c.format == "name"),
                "{}: a column holds the name",
                resource.kind
            );
        }
    }

    #[test]
    fn unknown_kinds_get_the_default_table() {
        let names: Vec<String> = columns("example.com", "Widget")
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["Name", "Created At"]);
    }
}
