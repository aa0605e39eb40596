//! A small built-in catalogue of SageMaker hosting instance types, for the vertical ladder and for costing.
//!
//! Prices are on-demand real-time inference prices in us-east-1 in US dollars per instance-hour, as listed on
//! <https://aws.amazon.com/sagemaker/pricing/> in 2024. They are approximate: AWS changes them, other regions
//! differ, and savings plans are not modelled. Compare costs between runs, not against an invoice; override a
//! price in the simulator when it matters.

use serde::{Deserialize, Serialize};

/// One instance type's shape and price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceType {
    /// SageMaker's name, e.g. `ml.m5.xlarge`.
    pub name: String,
    /// Virtual CPUs.
    pub vcpu: u32,
    /// Memory in GiB.
    pub memory_gib: f64,
    /// Number of GPUs (0 for CPU-only types).
    pub gpus: u32,
    /// Approximate on-demand price in USD per instance-hour (us-east-1, real-time inference).
    pub hourly_usd: f64,
}

/// (name, vCPU, memory GiB, GPUs, USD per hour): see the module documentation for the prices' source.
const BUILT_IN: &[(&str, u32, f64, u32, f64)] = &[
    ("ml.m5.large", 2, 8.0, 0, 0.115),
    ("ml.m5.xlarge", 4, 16.0, 0, 0.23),
    ("ml.m5.2xlarge", 8, 32.0, 0, 0.461),
    ("ml.m5.4xlarge", 16, 64.0, 0, 0.922),
    ("ml.c5.xlarge", 4, 8.0, 0, 0.204),
    ("ml.c5.2xlarge", 8, 16.0, 0, 0.408),
    ("ml.g4dn.xlarge", 4, 16.0, 1, 0.7364),
    ("ml.g4dn.2xlarge", 8, 32.0, 1, 1.0528),
    ("ml.g5.xlarge", 4, 16.0, 1, 1.408),
    ("ml.g5.2xlarge", 8, 32.0, 1, 1.515),
];

/// The built-in catalogue, smallest first within each family.
pub fn built_in() -> Vec<InstanceType> {
    BUILT_IN
        .iter()
        .map(|&(name, vcpu, memory_gib, gpus, hourly_usd)| InstanceType {
            name: name.to_owned(),
            vcpu,
            memory_gib,
            gpus,
            hourly_usd,
        })
        .collect()
}

/// Looks a type up in the built-in catalogue.
pub fn lookup(name: &str) -> Option<InstanceType> {
    built_in().into_iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_double_and_prices_follow_within_the_m5_family() {
        let l = lookup("ml.m5.large").unwrap();
        let xl = lookup("ml.m5.xlarge").unwrap();
        let x2 = lookup("ml.m5.2xlarge").unwrap();
        assert_eq!((l.vcpu, xl.vcpu, x2.vcpu), (2, 4, 8));
        assert!((xl.hourly_usd / l.hourly_usd - 2.0).abs() < 0.01);
        assert!((x2.hourly_usd / xl.hourly_usd - 2.0).abs() < 0.01);
        assert!(lookup("ml.g5.xlarge").unwrap().gpus == 1);
        assert!(lookup("ml.nonexistent").is_none());
    }
}
