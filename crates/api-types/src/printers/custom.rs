//! Tables of custom resources, from their CRD's `additionalPrinterColumns`.

use serde_json::{Value, json};

use super::ColumnDefinition;
use super::format::{age_since, name};

/// The columns of a custom resource: the name, then the CRD's `additionalPrinterColumns`, or an
/// `Age` column when it declares none (as the apiextensions server does).
pub fn crd_columns(additional: &Value) -> Vec<ColumnDefinition> {
    let mut columns = vec![ColumnDefinition {
        name: "Name".into(),
        column_type: "string".into(),
        format: "name".into(),
        description: "Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names".into(),
        priority: 0,
        json_path: None,
    }];
    let declared = additional.as_array().map(Vec::as_slice).unwrap_or_default();
    if declared.is_empty() {
        columns.push(ColumnDefinition {
            name: "Age".into(),
            column_type: "date".into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: Some(".metadata.creationTimestamp".into()),
        });
    }
    for column in declared {
        let field = |f: &str| column[f].as_str().unwrap_or_default().to_string();
        columns.push(ColumnDefinition {
            name: field("name"),
            column_type: field("type"),
            format: field("format"),
            description: field("description"),
            priority: column["priority"].as_i64().unwrap_or(0) as i32,
            json_path: Some(field("jsonPath")),
        });
    }
    columns
}

/// One row of a custom resource. Missing values print as empty cells (null), dates as ages.
pub fn crd_row_cells(columns: &[ColumnDefinition], object: &Value, now_unix: i64) -> Vec<Value> {
    columns
        .iter()
        .map(|column| {
            let Some(path) = &column.json_path else {
                return name(object);
            };
            let Some(value) = evaluate(path, object) else {
                return Value::Null;
            };
            match (column.column_type.as_str(), &value) {
                ("date", Value::String(t)) => json!(age_since(Some(t), now_unix)),
                ("integer", Value::Number(_))
                | ("number", Value::Number(_))
                | ("boolean", Value::Bool(_)) => value,
                (_, Value::String(_)) => value,
                ("string", other) => json!(other.to_string()),
                _ => value,
            }
        })
        .collect()
}

/// The subset of JSONPath that printer columns use: `.a.b`, `.a[0]`, `.a[*].b` (joined with
/// commas) and `.a[?(@.type=="Ready")].status`.
fn evaluate(path: &str, object: &Value) -> Option<Value> {
    let path = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('$');
    let mut current = vec![object.clone()];
    for step in steps(path)? {
        current = current
            .iter()
            .flat_map(|value| match &step {
                Step::Field(f) => value
                    .get(f.as_str())
                    .cloned()
                    .into_iter()
                    .collect::<Vec<_>>(),
                Step::Index(i) => value
                    .as_array()
                    .and_then(|a| a.get(*i))
                    .cloned()
                    .into_iter()
                    .collect(),
                Step::All => value.as_array().cloned().unwrap_or_default(),
                Step::Filter(field, expected) => value
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|e| {
                                e.get(field.as_str()).and_then(Value::as_str) == Some(expected)
                            })
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
    }
    match current.len() {
        0 => None,
        1 => current.pop(),
        _ => Some(json!(
            current
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(",")
        )),
    }
}

enum Step {
    Field(String),
    Index(usize),
    All,
    Filter(String, String),
}

fn steps(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end > 0 {
                steps.push(Step::Field(after[..end].to_string()));
            }
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inner = after[..end].trim();
            steps.push(if inner == "*" {
                Step::All
            } else if let Some(filter) =
                inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')'))
            {
                let (field, value) = filter.split_once("==")?;
                Step::Filter(
                    field.trim().to_string(),
                    value.trim().trim_matches(['"', '\'']).to_string(),
                )
            } else {
                Step::Index(inner.parse().ok()?)
            });
            rest = &after[end + 1..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            steps.push(Step::Field(rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    Some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_columns_read_json_paths() {
        let columns = crd_columns(&json!([
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
            {"name": "First", "type": "string", "jsonPath": ".spec.items[0]", "priority": 1},
            {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]));
        let object = json!({"metadata": {"name": "w", "creationTimestamp": "1970-01-01T00:00:00Z"},
            "spec": {"replicas": 3, "items": ["a", "b"]},
            "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        let cells = crd_row_cells(&columns, &object, 300);
        assert_eq!(
            cells,
            vec![
                json!("w"),
                json!(3),
                json!("True"),
                json!("a"),
                Value::Null,
                json!("5m")
            ]
        );
        assert_eq!(columns[3].priority, 1);
    }

    #[test]
    fn crds_without_columns_show_name_and_age() {
        let names: Vec<String> = crd_columns(&Value::Null)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["Name", "Age"]);
    }
}
