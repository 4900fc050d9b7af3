//! The instance types a node group may ask for: vCPUs, memory and EKS's max pods per type (the
//! VPC CNI's ENI-based limit, as `eni-max-pods.txt` lists it), which become the simulated or real
//! node's capacity.

#[derive(Debug, PartialEq, Eq)]
pub struct InstanceType {
    pub name: &'static str,
    pub vcpu: u32,
    pub memory_gib: u32,
    pub max_pods: u32,
}

const fn t(name: &'static str, vcpu: u32, memory_gib: u32, max_pods: u32) -> InstanceType {
    InstanceType {
        name,
        vcpu,
        memory_gib,
        max_pods,
    }
}

pub const CATALOGUE: &[InstanceType] = &[
    t("t3.small", 2, 2, 11),
    t("t3.medium", 2, 4, 17),
    t("t3.large", 2, 8, 35),
    t("t3.xlarge", 4, 16, 58),
    t("t3.2xlarge", 8, 32, 58),
    t("t3a.medium", 2, 4, 17),
    t("t3a.large", 2, 8, 35),
    t("m5.large", 2, 8, 29),
    t("m5.xlarge", 4, 16, 58),
    t("m5.2xlarge", 8, 32, 58),
    t("m5.4xlarge", 16, 64, 234),
    t("m6i.large", 2, 8, 29),
    t("m6i.xlarge", 4, 16, 58),
    t("m7i.large", 2, 8, 29),
    t("c5.large", 2, 4, 29),
    t("c5.xlarge", 4, 8, 58),
    t("c5.2xlarge", 8, 16, 58),
    t("c5.4xlarge", 16, 32, 234),
    t("r5.large", 2, 16, 29),
    t("r5.xlarge", 4, 32, 58),
    t("r5.2xlarge", 8, 64, 58),
];

/// EKS's default when a node group names no instance type.
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.medium";

pub fn lookup(name: &str) -> Option<&'static InstanceType> {
    CATALOGUE.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_ec2_and_eks_max_pods() {
        let medium = lookup("t3.medium").unwrap();
        assert_eq!(
            (medium.vcpu, medium.memory_gib, medium.max_pods),
            (2, 4, 17)
        );
        let large = lookup("m5.large").unwrap();
        assert_eq!((large.vcpu, large.memory_gib, large.max_pods), (2, 8, 29));
        assert_eq!(lookup("r5.large").unwrap().memory_gib, 16);
        assert!(lookup("m5.huge").is_none());
        assert!(lookup(DEFAULT_INSTANCE_TYPE).is_some());
        let mut names: Vec<_> = CATALOGUE.iter().map(|t| t.name).collect();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len(), "no type listed twice");
    }
}
