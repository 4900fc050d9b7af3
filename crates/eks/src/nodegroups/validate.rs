//! Checks on node group requests, with the messages EKS answers (each names the field at fault).

use std::collections::BTreeMap;

use keelson_aws_core::AwsError;

use super::catalogue;
use super::model::{Scaling, TaintRecord};

pub const CAPACITY_TYPES: &[&str] = &["ON_DEMAND", "SPOT", "CAPACITY_BLOCK"];
const TAINT_EFFECTS: &[&str] = &["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"];
/// EKS's limits on a node group's Kubernetes labels and taints.
const MAX_LABELS: usize = 100;
const MAX_TAINTS: usize = 50;

pub fn invalid(cluster: &str, group: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterException", message)
        .with("clusterName", cluster)
        .with("nodegroupName", group)
}

pub fn name(cluster: &str, name: &str) -> Result<(), AwsError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            cluster,
            name,
            format!(
                "nodegroupName {name:?} is invalid: 1-63 letters, digits, '-' and '_', starting with a letter or digit"
            ),
        ))
    }
}

pub fn scaling(cluster: &str, group: &str, s: Scaling) -> Result<(), AwsError> {
    let fail = |m: String| Err(invalid(cluster, group, m));
    if s.max_size < 1 {
        return fail(format!(
            "scalingConfig.maxSize {} must be at least 1",
            s.max_size
        ));
    }
    if s.min_size > s.max_size {
        return fail(format!(
            "scalingConfig.minSize {} can't be greater than scalingConfig.maxSize {}",
            s.min_size, s.max_size
        ));
    }
    if s.desired_size > s.max_size {
        return fail(format!(
            "scalingConfig.desiredSize {} can't be greater than scalingConfig.maxSize {}",
            s.desired_size, s.max_size
        ));
    }
    if s.desired_size < s.min_size {
        return fail(format!(
            "scalingConfig.desiredSize {} can't be less than scalingConfig.minSize {}",
            s.desired_size, s.min_size
        ));
    }
    // Node indexes (and simulated addresses) are finite; EKS's own quota is 450 per group.
    if s.max_size > 450 {
        return fail(format!(
            "scalingConfig.maxSize {} exceeds the limit of 450 nodes per node group",
            s.max_size
        ));
    }
    Ok(())
}

pub fn instance_types(cluster: &str, group: &str, types: &[String]) -> Result<(), AwsError> {
    if types.is_empty() {
        return Err(invalid(cluster, group, "instanceTypes must not be empty"));
    }
    for t in types {
        if catalogue::lookup(t).is_none() {
            let known: Vec<&str> = catalogue::CATALOGUE.iter().map(|t| t.name).collect();
            return Err(invalid(
                cluster,
                group,
                format!(
                    "instanceTypes: {t} is not a supported instance type (supported: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

pub fn capacity_type(cluster: &str, group: &str, value: &str) -> Result<(), AwsError> {
    if CAPACITY_TYPES.contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            cluster,
            group,
            format!("capacityType {value} is invalid: ON_DEMAND, SPOT or CAPACITY_BLOCK"),
        ))
    }
}

/// Kubernetes' label syntax: an optional DNS-subdomain prefix and a name of at most 63
/// characters; values of at most 63 characters of the same alphabet.
pub fn labels(
    cluster: &str,
    group: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if labels.len() > MAX_LABELS {
        return Err(invalid(
            cluster,
            group,
            format!("labels: at most {MAX_LABELS} labels are allowed"),
        ));
    }
    for (key, value) in labels {
        if !qualified_name(key) {
            return Err(invalid(
                cluster,
                group,
                format!("labels: key {key:?} is not a valid Kubernetes label key"),
            ));
        }
        if !(value.is_empty() || label_name(value)) {
            return Err(invalid(
                cluster,
                group,
                format!("labels: value {value:?} of {key} is not a valid Kubernetes label value"),
            ));
        }
    }
    Ok(())
}

pub fn taints(cluster: &str, group: &str, taints: &[TaintRecord]) -> Result<(), AwsError> {
    if taints.len() > MAX_TAINTS {
        return Err(invalid(
            cluster,
            group,
            format!("taints: at most {MAX_TAINTS} taints are allowed"),
        ));
    }
    for taint in taints {
        if !qualified_name(&taint.key) {
            return Err(invalid(
                cluster,
                group,
                format!("taints: key {:?} is not a valid taint key", taint.key),
            ));
        }
        if let Some(value) = &taint.value
            && !(value.is_empty() || label_name(value))
        {
            return Err(invalid(
                cluster,
                group,
                format!("taints: value {value:?} of {} is invalid", taint.key),
            ));
        }
        if !TAINT_EFFECTS.contains(&taint.effect.as_str()) {
            return Err(invalid(
                cluster,
                group,
                format!(
                    "taints: effect {} of {} is invalid: NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE",
                    taint.effect, taint.key
                ),
            ));
        }
    }
    Ok(())
}

pub fn update_config(
    cluster: &str,
    group: &str,
    max_unavailable: Option<u32>,
    percentage: Option<u32>,
) -> Result<(), AwsError> {
    match (max_unavailable, percentage) {
        (Some(_), Some(_)) => Err(invalid(
            cluster,
            group,
            "updateConfig: give maxUnavailable or maxUnavailablePercentage, not both",
        )),
        (Some(n), None) if !(1..=100).contains(&n) => Err(invalid(
            cluster,
            group,
            format!("updateConfig.maxUnavailable {n} must be between 1 and 100"),
        )),
        (None, Some(p)) if !(1..=100).contains(&p) => Err(invalid(
            cluster,
            group,
            format!("updateConfig.maxUnavailablePercentage {p} must be between 1 and 100"),
        )),
        _ => Ok(()),
    }
}

fn qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
    });
    prefix_ok && label_name(name)
}

fn label_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(min_size: u32, desired_size: u32, max_size: u32) -> Scaling {
        Scaling {
            min_size,
            max_size,
            desired_size,
        }
    }

    #[test]
    fn scaling_bounds_name_the_field_at_fault() {
        assert!(scaling("c", "g", s(0, 0, 1)).is_ok());
        assert!(scaling("c", "g", s(1, 2, 3)).is_ok());
        let e = scaling("c", "g", s(3, 3, 2)).unwrap_err();
        assert_eq!(e.code, "InvalidParameterException");
        assert!(e.message.contains("minSize 3"), "{}", e.message);
        assert!(
            scaling("c", "g", s(1, 4, 3))
                .unwrap_err()
                .message
                .contains("desiredSize 4 can't be greater")
        );
        assert!(
            scaling("c", "g", s(2, 1, 3))
                .unwrap_err()
                .message
                .contains("desiredSize 1 can't be less")
        );
        assert!(scaling("c", "g", s(0, 0, 0)).is_err());
        assert_eq!(
            scaling("c", "g", s(3, 3, 2)).unwrap_err().extra["nodegroupName"],
            "g"
        );
    }

    #[test]
    fn only_catalogued_instance_types() {
        assert!(instance_types("c", "g", &["t3.medium".into(), "m5.large".into()]).is_ok());
        let e = instance_types("c", "g", &["t3.medium".into(), "x9.mega".into()]).unwrap_err();
        assert!(
            e.message.starts_with("instanceTypes: x9.mega"),
            "{}",
            e.message
        );
        assert!(instance_types("c", "g", &[]).is_err());
    }

    #[test]
    fn names_labels_and_taints_follow_kubernetes_syntax() {
        assert!(name("c", "ng-1_a").is_ok());
        assert!(name("c", "-ng").is_err());
        assert!(name("c", &"n".repeat(64)).is_err());
        let good: BTreeMap<String, String> = [
            ("team".to_string(), "a".to_string()),
            ("example.com/tier".into(), "".into()),
        ]
        .into();
        assert!(labels("c", "g", &good).is_ok());
        let bad: BTreeMap<String, String> = [("Bad Key".to_string(), "a".to_string())].into();
        assert!(labels("c", "g", &bad).is_err());
        let taint = |effect: &str| TaintRecord {
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: effect.into(),
        };
        assert!(taints("c", "g", &[taint("NO_SCHEDULE")]).is_ok());
        assert!(taints("c", "g", &[taint("NoSchedule")]).is_err());
        assert!(capacity_type("c", "g", "SPOT").is_ok());
        assert!(capacity_type("c", "g", "RESERVED").is_err());
        assert!(update_config("c", "g", Some(2), None).is_ok());
        assert!(update_config("c", "g", Some(0), None).is_err());
        assert!(update_config("c", "g", Some(1), Some(10)).is_err());
    }
}
