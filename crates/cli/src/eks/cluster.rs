//! A cluster as DescribeCluster shows it: the raw JSON (printed as is by `-o json|yaml`) and
//! the few members the command line reads.

use serde_json::Value;

use crate::CliError;

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    raw: Value,
}

impl Cluster {
    /// The `cluster` member of a Create/Describe/DeleteCluster answer.
    pub fn from_answer(mut answer: Value) -> Result<Cluster, CliError> {
        let raw = answer["cluster"].take();
        if !raw.is_object() || raw["name"].as_str().is_none() {
            return Err(CliError::Answer {
                service: "EKS",
                message: "the answer has no cluster with a name".into(),
            });
        }
        Ok(Cluster { raw })
    }

    pub fn raw(&self) -> &Value {
        &self.raw
    }

    pub fn name(&self) -> &str {
        self.raw["name"].as_str().unwrap_or_default()
    }

    pub fn arn(&self) -> Option<&str> {
        self.raw["arn"].as_str()
    }

    pub fn status(&self) -> &str {
        self.raw["status"].as_str().unwrap_or("UNKNOWN")
    }

    pub fn version(&self) -> &str {
        self.raw["version"].as_str().unwrap_or_default()
    }

    pub fn endpoint(&self) -> Option<&str> {
        self.raw["endpoint"].as_str().filter(|e| !e.is_empty())
    }

    pub fn certificate_authority_data(&self) -> Option<&str> {
        self.raw["certificateAuthority"]["data"]
            .as_str()
            .filter(|d| !d.is_empty())
    }

    pub fn oidc_issuer(&self) -> Option<&str> {
        self.raw["identity"]["oidc"]["issuer"].as_str()
    }

    /// createdAt (epoch seconds on the wire) as UTC.
    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let seconds = self.raw["createdAt"].as_f64()?;
        chrono::DateTime::from_timestamp_millis((seconds * 1000.0) as i64)
    }

    /// The region, field 4 of the ARN (where `aws eks update-kubeconfig` takes it from).
    pub fn region(&self) -> Option<&str> {
        self.arn()?.split(':').nth(3).filter(|r| !r.is_empty())
    }
}
