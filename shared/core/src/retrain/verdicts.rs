//! The retraining loop's verdicts besides [`decide_retraining`](super::decide_retraining): pure functions of
//! what was observed and the retraining file.
//!
//! - [`decide_approval`]: is a newly registered version approved automatically, or left for a person?
//! - [`judge_deployment`]: has the deployment in progress ended, served or failed, from `DescribeEndpoint`?

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::ports::Approval;
use super::settings::RegistrationSettings;
use super::versions::Outcome;
use crate::scaling::endpoint::EndpointView;

/// A deployment recorded but not seen on the endpoint is judged failed only after this long: longer than a
/// Lambda invocation (15 minutes), so a handler between its record and its `UpdateEndpoint` is not overtaken.
pub const DEPLOY_GRACE_MINUTES: i64 = 20;
/// How long after the request a `FailureReason` on another configuration is taken as this deployment's rollback:
/// a handler's `UpdateEndpoint` follows its record within seconds, and a blue/green rollback takes minutes, so a
/// reason seen sooner belongs to an earlier update.
pub const ROLLBACK_SETTLE_MINUTES: i64 = 2;

/// Whether a new version is approved automatically, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalDecision {
    pub approval: Approval,
    pub why: String,
}

/// The approval of a new version with final metrics `candidate`, against the approved version's value of the
/// same metric (`current`, from its metadata). `PendingManualApproval` unless auto-approval is configured and the
/// metric improves by more than `min_improvement` on the approved version's (or no version is approved yet).
/// A missing or non-finite candidate value never approves.
pub fn decide_approval(
    settings: &RegistrationSettings,
    candidate: &BTreeMap<String, f64>,
    current: Option<f64>,
) -> ApprovalDecision {
    let pending = |why: String| ApprovalDecision {
        approval: Approval::PendingManualApproval,
        why,
    };
    if !settings.auto_approve {
        return pending("auto_approve is off".to_owned());
    }
    let Some(metric) = settings.metric.as_deref() else {
        return pending("no metric to compare".to_owned());
    };
    let Some(value) = candidate.get(metric).copied().filter(|v| v.is_finite()) else {
        return pending(format!("the training job reported no {metric}"));
    };
    let Some(current) = current.filter(|v| v.is_finite()) else {
        return ApprovalDecision {
            approval: Approval::Approved,
            why: format!("{metric} = {value}; no approved version to beat"),
        };
    };
    let gain = if settings.higher_is_better {
        value - current
    } else {
        current - value
    };
    if gain > settings.min_improvement {
        ApprovalDecision {
            approval: Approval::Approved,
            why: format!("{metric} = {value} beats the approved version's {current}"),
        }
    } else {
        pending(format!(
            "{metric} = {value} does not beat the approved version's {current} by more than {}",
            settings.min_improvement
        ))
    }
}

/// How the deployment in progress of an endpoint is judged from DescribeEndpoint: served once `InService` on its
/// configuration; failed when the endpoint is `Failed`, `UpdateRollbackFailed` or `OutOfService`, when it is back
/// `InService` on another configuration with a `FailureReason` (SageMaker rolled it back), or when it is still
/// `InService` on another configuration after the grace (the update never applied, or was rolled back silently).
pub fn judge_deployment(
    deploying_config: &str,
    requested_at: DateTime<Utc>,
    endpoint: &EndpointView,
    now: DateTime<Utc>,
) -> Option<Outcome> {
    match endpoint.status_text.as_str() {
        "InService" if endpoint.config_name == deploying_config => Some(Outcome::Served),
        // Back in service on another configuration with a failure reason: SageMaker rolled the update back (an
        // alarm fired, or the new fleet failed to start). No need to wait out the grace; but a reason seen in the
        // first minutes may be an earlier update's, before this one has even begun.
        "InService"
            if endpoint.failure_reason.is_some()
                && now - requested_at >= Duration::minutes(ROLLBACK_SETTLE_MINUTES) =>
        {
            Some(Outcome::Failed {
                why: format!(
                    "rolled back: the endpoint is InService on {} ({})",
                    endpoint.config_name,
                    endpoint.failure_reason.as_deref().unwrap_or_default()
                ),
            })
        }
        "InService" if now - requested_at >= Duration::minutes(DEPLOY_GRACE_MINUTES) => Some(Outcome::Failed {
            why: format!(
                "rolled back or never applied: the endpoint is InService on {}",
                endpoint.config_name
            ),
        }),
        // `UpdateRollbackFailed` and `OutOfService` end a deployment too: waiting for `InService` would block
        // every later deployment and rollback.
        "Failed" | "UpdateRollbackFailed" | "OutOfService" => Some(Outcome::Failed {
            why: endpoint
                .failure_reason
                .clone()
                .unwrap_or_else(|| format!("the endpoint is {}", endpoint.status_text)),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaling::VariantStatus;
    use crate::testing::endpoint_view;

    #[test]
    fn a_rollback_with_a_failure_reason_ends_the_deployment_at_once() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let minutes = |m| t0 + Duration::minutes(m);
        let mut view = endpoint_view("ep", "ep-v1", VariantStatus::InService, &[("AllTraffic", 2, 1.0)]);
        // Right after the update, still InService on the old configuration: not judged before the grace.
        assert_eq!(judge_deployment("ep-v2", t0, &view, minutes(1)), None);
        // SageMaker rolled it back: InService on the old configuration with a reason, judged at once.
        view.failure_reason = Some("Alarm ep-5xx went into ALARM during the deployment".into());
        // Seen within a minute of the request, the reason may be an earlier update's: not judged yet.
        assert_eq!(judge_deployment("ep-v2", t0, &view, minutes(1)), None);
        let Some(Outcome::Failed { why }) = judge_deployment("ep-v2", t0, &view, minutes(4)) else {
            panic!("a failed outcome");
        };
        assert!(
            why.starts_with("rolled back: the endpoint is InService on ep-v1 (Alarm ep-5xx"),
            "{why}"
        );
        // Serving the new configuration is served, whatever an older reason says.
        let served = endpoint_view("ep", "ep-v2", VariantStatus::InService, &[("AllTraffic", 2, 1.0)]);
        assert_eq!(
            judge_deployment("ep-v2", t0, &served, minutes(4)),
            Some(Outcome::Served)
        );
    }
}
