//! Input checks, with EKS's wording where EKS has one. Each error names the offending field.

use std::net::Ipv4Addr;

use keelson_aws_core::AwsError;

use crate::error::invalid_parameter;

/// Kubernetes minors a cluster can run, oldest first; the last is the default.
pub const SUPPORTED_VERSIONS: &[&str] = &["1.32", "1.33"];
pub const DEFAULT_VERSION: &str = "1.33";

/// EKS cluster names: 1–100 characters, `^[0-9A-Za-z][A-Za-z0-9\-_]*$`.
pub fn cluster_name(name: &str) -> Result<(), AwsError> {
    let mut chars = name.chars();
    let valid = (1..=100).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(invalid_parameter(
            None,
            format!(
                "The name parameter value {name:?} is invalid: a cluster name has 1 to 100 characters, starts with a letter or digit and contains only letters, digits, hyphens and underscores."
            ),
        ))
    }
}

pub fn version(cluster: &str, version: &str) -> Result<(), AwsError> {
    if SUPPORTED_VERSIONS.contains(&version) {
        Ok(())
    } else {
        Err(invalid_parameter(
            Some(cluster),
            format!(
                "unsupported Kubernetes version {version} in version: supported versions are {}",
                SUPPORTED_VERSIONS.join(", ")
            ),
        ))
    }
}

/// An IPv4 CIDR block in canonical form (`a.b.c.d/n`, no host bits set).
pub fn parse_cidr(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (address, prefix) = text.split_once('/')?;
    let address: Ipv4Addr = address.parse().ok()?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 2 {
        return None;
    }
    let prefix: u8 = prefix.parse().ok()?;
    if prefix > 32 {
        return None;
    }
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    (u32::from(address) & !mask == 0).then_some((address, prefix))
}

/// `kubernetesNetworkConfig.serviceIpv4Cidr`: as EKS requires, a private block (10/8,
/// 172.16/12 or 192.168/16) sized /12 to /24.
pub fn service_cidr(cluster: &str, text: &str) -> Result<(), AwsError> {
    let field = "kubernetesNetworkConfig.serviceIpv4Cidr";
    let Some((address, prefix)) = parse_cidr(text) else {
        return Err(invalid_parameter(
            Some(cluster),
            format!("{field} {text:?} is not a valid IPv4 CIDR block"),
        ));
    };
    let octets = address.octets();
    let private = octets[0] == 10
        || (octets[0] == 172 && (16..32).contains(&octets[1]))
        || (octets[0] == 192 && octets[1] == 168);
    if !private || !(12..=24).contains(&prefix) {
        return Err(invalid_parameter(
            Some(cluster),
            format!(
                "{field} {text} must be within 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, with a prefix length between /12 and /24"
            ),
        ));
    }
    Ok(())
}

/// `resourcesVpcConfig.publicAccessCidrs`.
pub fn public_access_cidrs(cluster: &str, cidrs: &[String]) -> Result<(), AwsError> {
    for cidr in cidrs {
        if parse_cidr(cidr).is_none() {
            return Err(invalid_parameter(
                Some(cluster),
                format!(
                    "resourcesVpcConfig.publicAccessCidrs contains an invalid CIDR block: {cidr}"
                ),
            ));
        }
    }
    Ok(())
}

pub const LOG_TYPES: &[&str] = &[
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
];

pub fn log_types(cluster: &str, types: &[String]) -> Result<(), AwsError> {
    match types.iter().find(|t| !LOG_TYPES.contains(&t.as_str())) {
        Some(bad) => Err(invalid_parameter(
            Some(cluster),
            format!(
                "logging.clusterLogging.types contains {bad:?}; valid types are {}",
                LOG_TYPES.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// maxResults for list calls: 1–100, default 100.
pub fn max_results(cluster: Option<&str>, raw: Option<&str>) -> Result<usize, AwsError> {
    let Some(raw) = raw else { return Ok(100) };
    match raw.parse::<usize>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err(invalid_parameter(
            cluster,
            format!("maxResults {raw} is out of range: it must be between 1 and 100"),
        )),
    }
}

/// An IAM principal ARN an access entry may name: a user or role (not an STS session).
pub fn principal_arn(cluster: &str, arn: &str) -> Result<(), AwsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && (parts[5].starts_with("user/") || parts[5].starts_with("role/"))
        && parts[5].rsplit('/').next().is_some_and(|n| !n.is_empty());
    if ok {
        Ok(())
    } else {
        Err(invalid_parameter(
            Some(cluster),
            format!(
                "The specified principalArn is invalid: {arn}. It must be the ARN of an IAM user or role."
            ),
        ))
    }
}

/// `roleArn`: the IAM role EKS would assume for the cluster.
pub fn role_arn(cluster: &str, arn: &str) -> Result<(), AwsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|r| !r.is_empty());
    if ok {
        Ok(())
    } else {
        Err(invalid_parameter(
            Some(cluster),
            format!("roleArn {arn:?} is not a valid IAM role ARN"),
        ))
    }
}

/// Resource tags as AWS limits them: at most 50, keys of 1–128 characters not starting with
/// `aws:`, values of at most 256.
pub fn tags(tags: &std::collections::BTreeMap<String, String>) -> Result<(), String> {
    if tags.len() > 50 {
        return Err(format!(
            "tags: {} tags given, at most 50 are allowed",
            tags.len()
        ));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 {
            return Err(format!("tags: key {key:?} must have 1 to 128 characters"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(format!("tags: key {key:?} uses the reserved prefix aws:"));
        }
        if value.chars().count() > 256 {
            return Err(format!(
                "tags: the value of {key:?} is longer than 256 characters"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_eks_pattern() {
        assert!(cluster_name("a").is_ok());
        assert!(cluster_name("0prod-cluster_2").is_ok());
        assert!(cluster_name(&"a".repeat(100)).is_ok());
        for bad in ["", "-a", "_a", "a.b", "a b", "ü", &"a".repeat(101)] {
            let error = cluster_name(bad).unwrap_err();
            assert_eq!(error.code, "InvalidParameterException");
            assert!(error.message.contains("name"), "{}", error.message);
        }
    }

    #[test]
    fn only_supported_versions_pass() {
        assert!(version("c", "1.32").is_ok());
        assert!(version("c", "1.33").is_ok());
        let error = version("c", "1.31").unwrap_err();
        assert_eq!(error.status, 400);
        assert!(error.message.contains("version"));
        assert!(version("c", "1.33.1").is_err());
    }

    #[test]
    fn cidrs_are_canonical_ipv4_blocks() {
        assert_eq!(
            parse_cidr("10.100.0.0/16"),
            Some(("10.100.0.0".parse().unwrap(), 16))
        );
        assert_eq!(
            parse_cidr("0.0.0.0/0"),
            Some(("0.0.0.0".parse().unwrap(), 0))
        );
        for bad in [
            "10.100.0.1/16",
            "10.0.0.0/33",
            "10.0.0.0",
            "300.0.0.0/8",
            "10.0.0.0/+8",
            "x/8",
        ] {
            assert_eq!(parse_cidr(bad), None, "{bad}");
        }
    }

    #[test]
    fn service_cidrs_must_be_private_and_sized() {
        assert!(service_cidr("c", "172.20.0.0/16").is_ok());
        assert!(service_cidr("c", "192.168.0.0/24").is_ok());
        for bad in ["8.8.0.0/16", "10.0.0.0/8", "10.0.0.0/25", "nonsense"] {
            let error = service_cidr("c", bad).unwrap_err();
            assert!(
                error.message.contains("serviceIpv4Cidr"),
                "{}",
                error.message
            );
        }
        let error = public_access_cidrs("c", &["1.2.3.4/33".into()]).unwrap_err();
        assert!(error.message.contains("publicAccessCidrs"));
    }

    #[test]
    fn max_results_is_one_to_a_hundred() {
        assert_eq!(max_results(None, None).unwrap(), 100);
        assert_eq!(max_results(None, Some("1")).unwrap(), 1);
        for bad in ["0", "101", "-1", "x"] {
            assert!(max_results(None, Some(bad)).is_err());
        }
    }

    #[test]
    fn principals_are_iam_users_or_roles() {
        assert!(principal_arn("c", "arn:aws:iam::111122223333:role/dev/my-role").is_ok());
        assert!(principal_arn("c", "arn:aws:iam::111122223333:user/alice").is_ok());
        assert!(principal_arn("c", "arn:aws:sts::111122223333:assumed-role/r/s").is_err());
        assert!(principal_arn("c", "arn:aws:iam::1:user/alice").is_err());
    }
}
