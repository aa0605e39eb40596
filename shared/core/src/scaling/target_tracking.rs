//! An emulation of Application Auto Scaling target tracking on `SageMakerVariantInvocationsPerInstance`, so
//! that the simulator can compare the project's policy with what AWS does out of the box.
//!
//! What it follows (Application Auto Scaling User Guide, "How target tracking scaling works" and
//! "Define cooldown periods"; SageMaker Developer Guide, "Automatic scaling of Amazon SageMaker AI models"):
//! - two CloudWatch alarms on the one-minute `InvocationsPerInstance` sum: scale-out when
//!   [`HIGH_ALARM_DATAPOINTS`] datapoints in a row are above the target, scale-in when
//!   [`LOW_ALARM_DATAPOINTS`] are below [`LOW_ALARM_FRACTION`] of it;
//! - the alarm invokes the policy every minute it stays in `ALARM`;
//! - new capacity = ceil(current capacity x metric / target), within [min, max], where the capacity is the one
//!   the datapoint was measured with: the scale-out cooldown starts when the activity completes and, while it
//!   runs, "the capacity added by the previous scale-out is calculated as part of the desired capacity for the
//!   next", so datapoints measured before new instances served do not add them a second time;
//! - cooldowns of [`DEFAULT_COOLDOWN_SECONDS`] each: during the scale-out cooldown only a larger scale-out
//!   happens; during the scale-in cooldown no scale-in happens, but a scale-out does (and ends it);
//! - SageMaker emits no `Invocations` datapoint in a minute without requests, and the alarms treat missing data
//!   as missing: on zero traffic the scale-in alarm never fires, so the fleet stays where it is;
//! - updates fail while the endpoint is `Updating`; the alarm fires again the next minute.
//!
//! Assumption where the documentation is not precise: when datapoints are missing, CloudWatch looks further
//! back for real ones within an "evaluation range" larger than the evaluation periods; this emulation uses
//! [`EVALUATION_RANGE_FACTOR`] times the evaluation periods. With fewer real datapoints than required the alarm
//! cannot be in `ALARM`.

use serde::{Deserialize, Serialize};

/// Datapoints above target that put the scale-out alarm in `ALARM` (3 of 3 one-minute periods).
pub const HIGH_ALARM_DATAPOINTS: usize = 3;
/// Datapoints below [`LOW_ALARM_FRACTION`] x target that put the scale-in alarm in `ALARM` (15 of 15).
pub const LOW_ALARM_DATAPOINTS: usize = 15;
/// The scale-in alarm's threshold as a fraction of the target.
pub const LOW_ALARM_FRACTION: f64 = 0.9;
/// Default `ScaleOutCooldown` and `ScaleInCooldown` for SageMaker variants.
pub const DEFAULT_COOLDOWN_SECONDS: u64 = 300;
/// How far back (as a multiple of the evaluation periods) the alarm looks for real datapoints.
pub const EVALUATION_RANGE_FACTOR: usize = 2;

/// A target tracking policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetTrackingConfig {
    /// Target `SageMakerVariantInvocationsPerInstance` (per minute).
    pub target: f64,
    /// Minimum capacity of the scalable target.
    pub min: u32,
    /// Maximum capacity.
    pub max: u32,
    /// `ScaleOutCooldown` in seconds.
    pub scale_out_cooldown_seconds: u64,
    /// `ScaleInCooldown` in seconds.
    pub scale_in_cooldown_seconds: u64,
}

impl TargetTrackingConfig {
    /// A policy with AWS's default cooldowns.
    pub fn with_defaults(target: f64, min: u32, max: u32) -> Self {
        Self {
            target,
            min,
            max,
            scale_out_cooldown_seconds: DEFAULT_COOLDOWN_SECONDS,
            scale_in_cooldown_seconds: DEFAULT_COOLDOWN_SECONDS,
        }
    }
}

/// What the emulated policy did in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TtAction {
    /// Nothing.
    Hold,
    /// New desired capacity.
    SetCount {
        /// Before.
        from: u32,
        /// After.
        to: u32,
    },
}

/// The emulated policy's state: its last scaling times, in minutes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetTracking {
    /// Minute of the last scale-out.
    pub last_scale_out: Option<i64>,
    /// Minute of the last scale-in.
    pub last_scale_in: Option<i64>,
}

/// One `InvocationsPerInstance` datapoint and the instance count it was measured with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Datapoint {
    /// Invocations per instance in the minute.
    pub value: f64,
    /// Instances serving in that minute.
    pub instances: u32,
}

/// The most recent `n` real datapoints within the evaluation range, newest last, or `None` if fewer exist.
fn recent_real(datapoints: &[Option<Datapoint>], n: usize) -> Option<Vec<Datapoint>> {
    let range = n * EVALUATION_RANGE_FACTOR;
    let start = datapoints.len().saturating_sub(range);
    let real: Vec<Datapoint> = datapoints[start..].iter().flatten().copied().collect();
    (real.len() >= n).then(|| real[real.len() - n..].to_vec())
}

impl TargetTracking {
    /// One evaluation at minute `now`.
    ///
    /// `datapoints` are the `InvocationsPerInstance` values visible now, one per minute, oldest first, `None`
    /// where SageMaker emitted none; `desired` is the capacity last asked for; `in_service` is false while the
    /// endpoint is updating.
    pub fn step(
        &mut self,
        cfg: &TargetTrackingConfig,
        now: i64,
        datapoints: &[Option<Datapoint>],
        desired: u32,
        in_service: bool,
    ) -> TtAction {
        let in_cooldown = (cfg.scale_in_cooldown_seconds as i64 + 59) / 60;
        let high = recent_real(datapoints, HIGH_ALARM_DATAPOINTS).filter(|v| v.iter().all(|x| x.value > cfg.target));
        let low = recent_real(datapoints, LOW_ALARM_DATAPOINTS)
            .filter(|v| v.iter().all(|x| x.value < LOW_ALARM_FRACTION * cfg.target));
        let wanted = |v: &[Datapoint]| {
            let d = v[v.len() - 1];
            ((f64::from(d.instances) * d.value / cfg.target).ceil() as u32).clamp(cfg.min, cfg.max)
        };
        if let Some(v) = high {
            let wanted = wanted(&v);
            // Outside the cooldown a scale-out happens when it raises the capacity; inside it only "a larger
            // scale-out" does, i.e. one above what the cooldown's scale-out already asked for. Both read
            // `wanted > desired`, because `desired` includes the capacity added by that scale-out; so
            // `scale_out_cooldown_seconds` needs no test of its own here.
            if wanted > desired && in_service {
                self.last_scale_out = Some(now);
                // A scale-out ends the scale-in cooldown.
                self.last_scale_in = None;
                return TtAction::SetCount {
                    from: desired,
                    to: wanted,
                };
            }
            return TtAction::Hold;
        }
        if let Some(v) = low {
            let wanted = wanted(&v);
            let cooling = self.last_scale_in.is_some_and(|t| now < t + in_cooldown);
            if wanted < desired && in_service && !cooling {
                self.last_scale_in = Some(now);
                return TtAction::SetCount {
                    from: desired,
                    to: wanted,
                };
            }
        }
        TtAction::Hold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Datapoints measured on `n` instances.
    fn on(n: u32, values: &[Option<f64>]) -> Vec<Option<Datapoint>> {
        values
            .iter()
            .map(|v| v.map(|value| Datapoint { value, instances: n }))
            .collect()
    }

    fn cfg() -> TargetTrackingConfig {
        TargetTrackingConfig::with_defaults(100.0, 1, 10)
    }

    #[test]
    fn scale_out_needs_three_datapoints_above_target() {
        let mut tt = TargetTracking::default();
        // Two breaching datapoints: OK state.
        assert_eq!(
            tt.step(&cfg(), 10, &on(2, &[Some(50.0), Some(150.0), Some(250.0)]), 2, true),
            TtAction::Hold
        );
        // Three: ceil(2 x 250 / 100) = 5.
        let dp = [Some(50.0), Some(150.0), Some(250.0), Some(250.0)];
        assert_eq!(
            tt.step(&cfg(), 11, &on(2, &dp), 2, true),
            TtAction::SetCount { from: 2, to: 5 }
        );
        assert_eq!(tt.last_scale_out, Some(11));
    }

    #[test]
    fn scale_out_cooldown_allows_only_larger_scale_outs() {
        let mut tt = TargetTracking {
            last_scale_out: Some(10),
            last_scale_in: None,
        };
        // Serving 2 (new instances still starting), desired 5; metric 240: ceil(2 x 2.4) = 5, not larger: hold.
        let dp = [Some(240.0); 3];
        assert_eq!(tt.step(&cfg(), 12, &on(2, &dp), 5, true), TtAction::Hold);
        // Metric 400: ceil(2 x 4) = 8 > 5: a larger scale-out goes through despite the cooldown.
        let dp = [Some(400.0); 3];
        assert_eq!(
            tt.step(&cfg(), 13, &on(2, &dp), 5, true),
            TtAction::SetCount { from: 5, to: 8 }
        );
    }

    #[test]
    fn scale_in_needs_fifteen_datapoints_below_ninety_percent() {
        let mut tt = TargetTracking::default();
        let mut dp = vec![Some(40.0); 14];
        dp.insert(0, Some(95.0)); // 95 is not below 90: one of the 15 does not breach
        assert_eq!(tt.step(&cfg(), 30, &on(6, &dp), 6, true), TtAction::Hold);
        dp.push(Some(40.0));
        // Now the last 15 are all 40: ceil(6 x 0.4) = 3.
        assert_eq!(
            tt.step(&cfg(), 31, &on(6, &dp), 6, true),
            TtAction::SetCount { from: 6, to: 3 }
        );
        // Scale-in cooldown: 5 minutes.
        assert_eq!(tt.step(&cfg(), 33, &on(3, &dp), 3, true), TtAction::Hold);
        let low = vec![Some(10.0); 15];
        assert_eq!(tt.step(&cfg(), 35, &on(3, &low), 3, true), TtAction::Hold);
        assert_eq!(
            tt.step(&cfg(), 36, &on(3, &low), 3, true),
            TtAction::SetCount { from: 3, to: 1 }
        );
    }

    #[test]
    fn zero_traffic_never_scales_in() {
        let mut tt = TargetTracking::default();
        // SageMaker emits nothing for minutes without invocations.
        let dp = vec![None; 120];
        for now in 0..120 {
            assert_eq!(tt.step(&cfg(), now, &on(8, &dp), 8, true), TtAction::Hold);
        }
        // A few real datapoints among the gaps are not enough for 15 within the evaluation range.
        let mut sparse = vec![None; 60];
        for i in (0..60).step_by(3) {
            sparse[i] = Some(1.0);
        }
        assert_eq!(tt.step(&cfg(), 60, &on(8, &sparse), 8, true), TtAction::Hold);
    }

    #[test]
    fn missing_datapoints_are_skipped_within_the_range() {
        let mut tt = TargetTracking::default();
        // Three breaching datapoints among six minutes (range = 2 x 3): ALARM.
        let dp = [Some(300.0), None, Some(300.0), None, Some(300.0), None];
        assert_eq!(
            tt.step(&cfg(), 6, &on(1, &dp), 1, true),
            TtAction::SetCount { from: 1, to: 3 }
        );
        // Only two in range: no alarm.
        let mut tt = TargetTracking::default();
        let dp = [Some(300.0), None, None, None, Some(300.0), Some(300.0), None, None];
        assert_eq!(tt.step(&cfg(), 8, &on(1, &dp[..]), 1, true), TtAction::Hold);
    }

    #[test]
    fn no_update_while_updating_and_limits_hold() {
        let mut tt = TargetTracking::default();
        let dp = [Some(5000.0); 3];
        assert_eq!(tt.step(&cfg(), 5, &on(2, &dp), 2, false), TtAction::Hold);
        assert_eq!(
            tt.step(&cfg(), 6, &on(2, &dp), 2, true),
            TtAction::SetCount { from: 2, to: 10 }
        );
    }
}
