//! What a simulator run registers and how it behaves, with the checks that make a bad flag fail
//! at start-up.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Taint;

use crate::SimError;
use crate::ipam;
use crate::quantity::{self, Quantity};

/// Settings of one `keelson sim-nodes` process.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Nodes to simulate, named `<name_prefix><index>` for `start_index..start_index+count`.
    pub count: u32,
    pub start_index: u32,
    pub name_prefix: String,
    /// `topology.kubernetes.io/zone` values, assigned round-robin by node index.
    pub zones: Vec<String>,
    pub cpu: Quantity,
    pub memory: Quantity,
    pub pods: u32,
    pub ephemeral_storage: Quantity,
    /// `kubernetes.io/arch` and `nodeInfo.architecture`.
    pub arch: String,
    /// `node.kubernetes.io/instance-type`; derived from cpu and memory when unset.
    pub instance_type: Option<String>,
    /// Extra node labels (the kubelet's --node-labels), e.g. a node group's.
    pub labels: BTreeMap<String, String>,
    /// Taints set when the node registers (the kubelet's --register-with-taints).
    pub register_with_taints: Vec<Taint>,
    /// How long containers of Job-owned pods run before exiting.
    pub job_duration: Duration,
    /// The kubelet's defaults: 40 s leases renewed every 10 s.
    pub lease_duration_seconds: i32,
    pub lease_renew_interval: Duration,
    /// The kubelet's nodeStatusReportFrequency: a status heartbeat even when nothing changed.
    pub node_status_report_frequency: Duration,
    /// API writes in flight at once for pods (node heartbeats have their own, smaller budget).
    pub max_in_flight: usize,
}

impl SimOptions {
    /// Defaults of `keelson sim-nodes` for `count` nodes.
    pub fn new(count: u32) -> SimOptions {
        SimOptions {
            count,
            start_index: 0,
            name_prefix: "sim-".into(),
            zones: vec!["zone-a".into()],
            cpu: quantity::parse("4").expect("valid literal"),
            memory: quantity::parse("16Gi").expect("valid literal"),
            pods: 110,
            ephemeral_storage: quantity::parse("100Gi").expect("valid literal"),
            arch: "amd64".into(),
            instance_type: None,
            labels: BTreeMap::new(),
            register_with_taints: Vec::new(),
            job_duration: Duration::from_secs(2),
            lease_duration_seconds: 40,
            lease_renew_interval: Duration::from_secs(10),
            node_status_report_frequency: Duration::from_secs(300),
            max_in_flight: 64,
        }
    }

    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |msg: String| Err(SimError::InvalidOptions(msg));
        if self.count == 0 {
            return bad("--count must be at least 1".into());
        }
        let end = u64::from(self.start_index) + u64::from(self.count);
        if end > ipam::MAX_NODES {
            return bad(format!(
                "node indexes must stay below {} (the simulated address ranges are that large)",
                ipam::MAX_NODES
            ));
        }
        if self.zones.is_empty() || self.zones.iter().any(String::is_empty) {
            return bad("--zones needs at least one non-empty zone".into());
        }
        if !is_dns_label_prefix(&self.name_prefix) {
            return bad(format!(
                "--name-prefix {:?} must be lowercase letters, digits and '-', starting with a letter or digit",
                self.name_prefix
            ));
        }
        if self.pods == 0 || self.max_in_flight == 0 {
            return bad("--pods and --max-in-flight must be positive".into());
        }
        if self.lease_duration_seconds <= 0 || self.lease_renew_interval.is_zero() {
            return bad("lease duration and renew interval must be positive".into());
        }
        Ok(())
    }

    pub fn instance_type(&self) -> String {
        self.instance_type
            .clone()
            .unwrap_or_else(|| format!("sim.{}cpu.{}", self.cpu.text, self.memory.text))
    }
}

fn is_dns_label_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() < 50
        && prefix.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Parse `key=value,...` as the kubelet's --node-labels.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, SimError> {
    text.split(',')
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => Err(SimError::InvalidOptions(format!(
                "label {item:?} is not key=value"
            ))),
        })
        .collect()
}

/// Parse one taint as the kubelet's --register-with-taints writes it: `key=value:Effect` or
/// `key:Effect`.
pub fn parse_taint(text: &str) -> Result<Taint, SimError> {
    let invalid = || {
        SimError::InvalidOptions(format!(
            "taint {text:?} is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute"
        ))
    };
    let (key_value, effect) = text.rsplit_once(':').ok_or_else(invalid)?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(invalid());
    }
    let (key, value) = match key_value.split_once('=') {
        Some((key, value)) => (key, Some(value.to_string())),
        None => (key_value, None),
    };
    if key.is_empty() {
        return Err(invalid());
    }
    Ok(Taint {
        key: key.to_string(),
        value: value.filter(|v| !v.is_empty()),
        effect: effect.to_string(),
        time_added: None,
    })
}

/// Parse a Go-style duration (`2s`, `500ms`, `1m30s`, `1.5h`), as kubelet flags are written.
pub fn parse_duration(text: &str) -> Result<Duration, SimError> {
    let invalid = || SimError::InvalidDuration(text.to_string());
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * seconds_per_unit;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_go_syntax() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "2", "s", "2x", "1m30", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn validation_rejects_unusable_settings() {
        assert!(SimOptions::new(3).validate().is_ok());
        assert!(SimOptions::new(0).validate().is_err());
        let mut o = SimOptions::new(3);
        o.name_prefix = "Sim_".into();
        assert!(o.validate().is_err());
        let mut o = SimOptions::new(3);
        o.zones.clear();
        assert!(o.validate().is_err());
        let mut o = SimOptions::new(10);
        o.start_index = u32::try_from(ipam::MAX_NODES).unwrap() - 5;
        assert!(o.validate().is_err());
    }

    #[test]
    fn labels_and_taints_in_kubelet_syntax() {
        let labels = parse_labels("a=1,b.io/c=,d=x=y").unwrap();
        assert_eq!(labels["a"], "1");
        assert_eq!(labels["b.io/c"], "");
        assert_eq!(labels["d"], "x=y");
        assert!(parse_labels("novalue").is_err());
        let taint = parse_taint("dedicated=gpu:NoSchedule").unwrap();
        assert_eq!(
            (
                taint.key.as_str(),
                taint.value.as_deref(),
                taint.effect.as_str()
            ),
            ("dedicated", Some("gpu"), "NoSchedule")
        );
        assert_eq!(parse_taint("k:NoExecute").unwrap().value, None);
        for bad in ["k=v", "k=v:Sometimes", ":NoSchedule"] {
            assert!(parse_taint(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn instance_type_is_derived_from_the_shape() {
        assert_eq!(SimOptions::new(1).instance_type(), "sim.4cpu.16Gi");
    }
}
