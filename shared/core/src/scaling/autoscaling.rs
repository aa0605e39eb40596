//! Application Auto Scaling on a SageMaker variant: what is registered, whether it controls the instance count,
//! and whether it can be put back as it was after a type change.
//!
//! SageMaker rejects an `UpdateEndpoint` that changes the instance type of a variant registered as a scalable
//! target (SageMaker developer guide, "Update endpoints that use auto scaling"): the controller deletes the
//! policies and scheduled actions, deregisters the target, and registers the same again once the endpoint is
//! back `InService`. Deleting a policy deletes the alarms Application Auto Scaling made for it, and target
//! tracking makes new ones when the policy is put back; a step-scaling policy is triggered by alarms its owner
//! made, which would keep pointing at the deleted policy's ARN, so a registration with one is not restorable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `ServiceNamespace` of SageMaker variants (Application Auto Scaling API reference, `RegisterScalableTarget`).
pub const SERVICE_NAMESPACE: &str = "sagemaker";
/// `ScalableDimension` of a variant's instance count.
pub const SCALABLE_DIMENSION: &str = "sagemaker:variant:DesiredInstanceCount";
/// `PolicyType` of target tracking.
pub const TARGET_TRACKING: &str = "TargetTrackingScaling";

/// `ResourceId` of a variant: `endpoint/{endpoint}/variant/{variant}`.
pub fn resource_id(endpoint: &str, variant: &str) -> String {
    format!("endpoint/{endpoint}/variant/{variant}")
}

/// Which of the target's scaling activities are suspended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suspended {
    pub dynamic_scaling_in: bool,
    pub dynamic_scaling_out: bool,
    pub scheduled_scaling: bool,
}

/// The metric a target-tracking policy tracks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TrackedMetric {
    /// A predefined metric such as `SageMakerVariantInvocationsPerInstance`.
    Predefined {
        metric_type: String,
        #[serde(default)]
        resource_label: Option<String>,
    },
    /// One CloudWatch metric.
    Customized {
        metric_name: String,
        namespace: String,
        dimensions: Vec<(String, String)>,
        statistic: String,
        #[serde(default)]
        unit: Option<String>,
    },
    /// Anything else (metric math): kept only to say why it cannot be restored.
    Unsupported { what: String },
}

/// A target-tracking configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetTracking {
    pub target_value: f64,
    pub metric: TrackedMetric,
    #[serde(default)]
    pub scale_out_cooldown: Option<i32>,
    #[serde(default)]
    pub scale_in_cooldown: Option<i32>,
    #[serde(default)]
    pub disable_scale_in: Option<bool>,
}

/// One scaling policy on the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingPolicy {
    pub name: String,
    /// `TargetTrackingScaling`, `StepScaling`, ...
    pub policy_type: String,
    /// Present for target tracking.
    #[serde(default)]
    pub target_tracking: Option<TargetTracking>,
}

/// One scheduled action on the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledAction {
    pub name: String,
    /// `at(...)`, `rate(...)` or `cron(...)`.
    pub schedule: String,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub min_capacity: Option<i32>,
    #[serde(default)]
    pub max_capacity: Option<i32>,
}

/// Everything Application Auto Scaling holds for one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub resource_id: String,
    pub min_capacity: i32,
    pub max_capacity: i32,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub suspended: Suspended,
    #[serde(default)]
    pub policies: Vec<ScalingPolicy>,
    #[serde(default)]
    pub scheduled_actions: Vec<ScheduledAction>,
}

impl Registration {
    /// The policies and scheduled actions that change the count, by name (`policy:X`, `schedule:Y`); a target
    /// without any only bounds the count and never moves it.
    pub fn controllers(&self) -> Vec<String> {
        self.policies
            .iter()
            .map(|p| format!("policy:{}", p.name))
            .chain(self.scheduled_actions.iter().map(|a| format!("schedule:{}", a.name)))
            .collect()
    }

    /// Whether Application Auto Scaling may move the count (some policy or scheduled action exists).
    pub fn controls_count(&self) -> bool {
        !self.policies.is_empty() || !self.scheduled_actions.is_empty()
    }

    /// Why the registration could not be put back as it is after deregistering it, if it could not.
    pub fn unrestorable(&self) -> Option<String> {
        for p in &self.policies {
            match &p.target_tracking {
                _ if p.policy_type != TARGET_TRACKING => {
                    return Some(format!(
                        "policy {} is {}: its alarms would keep pointing at the deleted policy",
                        p.name, p.policy_type
                    ));
                }
                None => return Some(format!("policy {} has no target-tracking configuration", p.name)),
                Some(TargetTracking {
                    metric: TrackedMetric::Unsupported { what },
                    ..
                }) => return Some(format!("policy {} tracks {what}, which is not copied", p.name)),
                Some(_) => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn registration() -> Registration {
        Registration {
            resource_id: resource_id("ep", "AllTraffic"),
            min_capacity: 1,
            max_capacity: 4,
            role_arn: None,
            suspended: Suspended::default(),
            policies: vec![ScalingPolicy {
                name: "invocations".into(),
                policy_type: TARGET_TRACKING.into(),
                target_tracking: Some(TargetTracking {
                    target_value: 70.0,
                    metric: TrackedMetric::Predefined {
                        metric_type: "SageMakerVariantInvocationsPerInstance".into(),
                        resource_label: None,
                    },
                    scale_out_cooldown: Some(60),
                    scale_in_cooldown: Some(300),
                    disable_scale_in: None,
                }),
            }],
            scheduled_actions: vec![],
        }
    }

    #[test]
    fn target_tracking_is_restorable_step_scaling_is_not() {
        let r = registration();
        assert_eq!(r.resource_id, "endpoint/ep/variant/AllTraffic");
        assert!(r.controls_count());
        assert_eq!(r.unrestorable(), None);
        assert_eq!(r.controllers(), vec!["policy:invocations".to_owned()]);
        let mut step = r.clone();
        step.policies[0].policy_type = "StepScaling".into();
        step.policies[0].target_tracking = None;
        assert!(step.unrestorable().unwrap().contains("StepScaling"));
        let mut math = r.clone();
        if let Some(t) = &mut math.policies[0].target_tracking {
            t.metric = TrackedMetric::Unsupported {
                what: "metric math".into(),
            };
        }
        assert!(math.unrestorable().unwrap().contains("metric math"));
        let bare = Registration { policies: vec![], ..r };
        assert!(!bare.controls_count());
        let json = serde_json::to_string(&registration()).unwrap();
        assert_eq!(serde_json::from_str::<Registration>(&json).unwrap(), registration());
    }
}
