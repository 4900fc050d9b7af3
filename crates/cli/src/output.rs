//! How `keelson get clusters` prints: eksctl's `-o table|json|yaml`.

use serde_json::Value;

use crate::CliError;
use crate::eks::Cluster;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

impl std::str::FromStr for Format {
    type Err = CliError;
    fn from_str(text: &str) -> Result<Format, CliError> {
        match text {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "yaml" => Ok(Format::Yaml),
            other => Err(CliError::Invalid(format!(
                "unknown output format {other:?}: table, json or yaml"
            ))),
        }
    }
}

/// The clusters in `format`; json and yaml show each DescribeCluster answer in full.
pub fn clusters(clusters: &[Cluster], format: Format) -> Result<String, CliError> {
    let raw = || Value::Array(clusters.iter().map(|c| c.raw().clone()).collect());
    match format {
        Format::Json => serde_json::to_string_pretty(&raw())
            .map(|text| text + "\n")
            .map_err(|e| CliError::Invalid(e.to_string())),
        Format::Yaml => serde_yaml::to_string(&raw()).map_err(|e| CliError::Invalid(e.to_string())),
        Format::Table => Ok(table(clusters)),
    }
}

fn table(clusters: &[Cluster]) -> String {
    let mut rows = vec![["NAME", "VERSION", "STATUS", "CREATED"].map(str::to_string)];
    for cluster in clusters {
        rows.push([
            cluster.name().to_string(),
            cluster.version().to_string(),
            cluster.status().to_string(),
            cluster
                .created_at()
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default(),
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|row| row[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cluster(name: &str, created: f64) -> Cluster {
        Cluster::from_answer(json!({"cluster": {
            "name": name, "version": "1.33", "status": "ACTIVE", "createdAt": created,
        }}))
        .unwrap()
    }

    #[test]
    fn tables_align_their_columns() {
        let list = [cluster("a-long-name", 1_767_323_045.5), cluster("b", 0.0)];
        assert_eq!(
            clusters(&list, Format::Table).unwrap(),
            "NAME          VERSION   STATUS   CREATED\n\
             a-long-name   1.33      ACTIVE   2026-01-02T03:04:05Z\n\
             b             1.33      ACTIVE   1970-01-01T00:00:00Z\n"
        );
        assert_eq!(
            clusters(&[], Format::Table).unwrap(),
            "NAME   VERSION   STATUS   CREATED\n"
        );
    }

    #[test]
    fn json_and_yaml_show_the_clusters_in_full() {
        let list = [cluster("a", 1.0)];
        let parsed: Value = serde_json::from_str(&clusters(&list, Format::Json).unwrap()).unwrap();
        assert_eq!(parsed[0]["name"], "a");
        let yaml: Value = serde_yaml::from_str(&clusters(&list, Format::Yaml).unwrap()).unwrap();
        assert_eq!(yaml[0]["status"], "ACTIVE");
        assert!("xml".parse::<Format>().is_err());
    }
}
