//! The retraining file of one endpoint: when to retrain (the [`RetrainPolicy`]), how to train, how to register
//! the new version and how to deploy it. One JSON object, read once per invocation and validated; unknown
//! fields are rejected.
//!
//! ```json
//! {"endpoint": "churn-prod", "variant": "AllTraffic",
//!  "policy": {"model": "churn", "budget": {"monthly_training_hours": 40, "estimated_hours_per_job": 2}},
//!  "training": {"template_job": "churn-2026-11-01", "data_s3_uri": "s3://ml/churn/train/"},
//!  "registration": {"auto_approve": true, "metric": "validation:auc"},
//!  "deployment": {"traffic_routing": "CANARY", "step_percent": 10, "wait_seconds": 600}}
//! ```

use serde::{Deserialize, Serialize};

use super::policy::{RetrainPolicy, RetrainPolicyError};
use crate::scaling::controller::{CapacityStep, CapacityUnit, Deployment};
use crate::suggest_request::BaselineRequest;

/// `TrafficRoutingConfig.WaitIntervalInSeconds`: "Minimum value of 0. Maximum value of 3600" (SageMaker API
/// Reference, `TrafficRoutingConfig`).
pub const MAX_WAIT_SECONDS: i32 = 3600;
/// `BlueGreenUpdatePolicy.TerminationWaitInSeconds`: "Minimum value of 0. Maximum value of 3600".
pub const MAX_TERMINATION_WAIT_SECONDS: i32 = 3600;
/// `BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds`: "Minimum value of 600. Maximum value of 28800".
pub const EXECUTION_TIMEOUT_SECONDS: std::ops::RangeInclusive<i32> = 600..=28_800;
/// A canary holds at most half of the new fleet (SageMaker's blue/green canary traffic shifting).
pub const MAX_CANARY_PERCENT: i32 = 50;
/// A linear step shifts 10 to 50 % of the new fleet (SageMaker's blue/green linear traffic shifting).
pub const LINEAR_STEP_PERCENT: std::ops::RangeInclusive<i32> = 10..=50;
/// Time for the new fleet to come up and take its first traffic, on top of the baking time, when the deployment's
/// timeout is derived from its steps.
pub const PROVISIONING_ALLOWANCE_SECONDS: i32 = 1800;
pub use crate::scaling::controller::MAX_ROLLBACK_ALARMS;
/// `Channel.ChannelName`: "Maximum length of 64", pattern `[A-Za-z0-9\.\-_]+` (SageMaker API Reference).
pub const MAX_CHANNEL_NAME: usize = 64;

/// Why a retraining file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The JSON is malformed or has unknown or mistyped fields.
    #[error("retraining file JSON is invalid: {0}")]
    Json(#[source] serde_json::Error),
    /// The policy inside is invalid.
    #[error(transparent)]
    Policy(#[from] RetrainPolicyError),
    /// A field is out of range.
    #[error("retraining file for endpoint {endpoint}: {field}: {why}")]
    Invalid {
        /// The endpoint.
        endpoint: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
}

fn default_variant() -> String {
    "AllTraffic".to_owned()
}
fn default_channel() -> String {
    "train".to_owned()
}
fn default_true() -> bool {
    true
}

/// How a retraining job is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSettings {
    /// The job cloned: its algorithm, resources, stopping condition, hyperparameters, channels, output and
    /// tags. Once a retraining job completed, the newest completed one is cloned instead (the model's last
    /// training job), unless `always_clone_template` is set.
    pub template_job: String,
    /// Clone `template_job` even after retraining jobs completed.
    #[serde(default)]
    pub always_clone_template: bool,
    /// The data channel replaced (default `train`): its `S3Uri` becomes `data_s3_uri`.
    #[serde(default = "default_channel")]
    pub channel: String,
    /// The new training window: an S3 prefix. `{date}` is replaced by the decision's date (`yyyy-mm-dd`).
    pub data_s3_uri: String,
    /// Labelled captures of the last days, as one more channel (none by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured: Option<CapturedData>,
    /// Where the job writes its model (default: the template's `OutputDataConfig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_s3_uri: Option<String>,
}

fn default_captured_channel() -> String {
    "captured".to_owned()
}

/// The captured-and-labelled data of the last days, given to the job as one more channel: the objects below
/// `s3_uri` in its `yyyy/mm/dd/` folders of the last `days` days (today's included), listed in a manifest file
/// (`S3DataType: ManifestFile`) written at `{s3_uri}/_manifests/{job}.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapturedData {
    /// The labelled data's root, with daily folders `yyyy/mm/dd/` below it (the ground-truth merge's layout).
    pub s3_uri: String,
    /// How many days, 1 to [`MAX_CAPTURED_DAYS`].
    pub days: u32,
    /// The channel's name (default `captured`); the job's other settings for it are the replaced channel's.
    #[serde(default = "default_captured_channel")]
    pub channel: String,
}

/// The most days of labelled captures one job takes.
pub const MAX_CAPTURED_DAYS: u32 = 90;

impl CapturedData {
    /// The daily folders (relative to `s3_uri`, `yyyy/mm/dd/`) of the last `days` days before and including
    /// `now`'s day, oldest first.
    pub fn day_folders(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<String> {
        (0..i64::from(self.days))
            .rev()
            .map(|back| (now - chrono::Duration::days(back)).format("%Y/%m/%d/").to_string())
            .collect()
    }
}

/// A SageMaker manifest file of `keys` (relative to `root`, an `s3://` URI): `[{"prefix": root/}, key, ...]`.
pub fn manifest(root: &str, keys: &[String]) -> serde_json::Value {
    let prefix = format!("{}/", root.trim_end_matches('/'));
    std::iter::once(serde_json::json!({ "prefix": prefix }))
        .chain(keys.iter().map(|k| serde_json::Value::String(k.clone())))
        .collect()
}

/// How a completed job becomes a version in the model registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSettings {
    /// Approve the new version automatically when its `metric` beats the approved version's.
    #[serde(default)]
    pub auto_approve: bool,
    /// The training job's final metric compared (`FinalMetricDataList`), for example `validation:auc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Whether a higher value is better (default true; false for errors such as `validation:rmse`).
    #[serde(default = "default_true")]
    pub higher_is_better: bool,
    /// The least improvement that counts (default 0: any strict improvement).
    #[serde(default)]
    pub min_improvement: f64,
    /// `SupportedContentTypes` of the inference specification (default `text/csv`).
    #[serde(default = "default_content_types")]
    pub content_types: Vec<String>,
    /// `SupportedResponseMIMETypes` (default `text/csv`).
    #[serde(default = "default_content_types")]
    pub response_types: Vec<String>,
}

fn default_content_types() -> Vec<String> {
    vec!["text/csv".to_owned()]
}

impl Default for RegistrationSettings {
    fn default() -> Self {
        Self {
            auto_approve: false,
            metric: None,
            higher_is_better: true,
            min_improvement: 0.0,
            content_types: default_content_types(),
            response_types: default_content_types(),
        }
    }
}

/// `TrafficRoutingConfig.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrafficRouting {
    /// All traffic moves to the new fleet at once, after it is up.
    AllAtOnce,
    /// A canary share first, the rest after `wait_seconds`.
    Canary,
    /// Steps of `step_percent` every `wait_seconds`.
    Linear,
}

impl TrafficRouting {
    /// SageMaker's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficRouting::AllAtOnce => "ALL_AT_ONCE",
            TrafficRouting::Canary => "CANARY",
            TrafficRouting::Linear => "LINEAR",
        }
    }
}

fn default_routing() -> TrafficRouting {
    TrafficRouting::Canary
}
fn default_step_percent() -> i32 {
    10
}
fn default_wait_seconds() -> i32 {
    600
}
fn default_execution_timeout() -> i32 {
    3600
}

/// How an approved version is deployed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSettings {
    /// Canary (default), linear or all at once; always blue/green.
    #[serde(default = "default_routing")]
    pub traffic_routing: TrafficRouting,
    /// The canary's share or the linear step, in percent of the new fleet (default 10).
    #[serde(default = "default_step_percent")]
    pub step_percent: i32,
    /// Baking time between steps, watching the rollback alarms (default 600).
    #[serde(default = "default_wait_seconds")]
    pub wait_seconds: i32,
    /// How long the old fleet is kept after the shift (default 0).
    #[serde(default)]
    pub termination_wait_seconds: i32,
    /// The whole deployment's limit (default 3600).
    #[serde(default = "default_execution_timeout")]
    pub max_execution_seconds: i32,
    /// Alarms that roll the deployment back, besides the function's configured ones.
    #[serde(default)]
    pub rollback_alarms: Vec<String>,
}

impl Default for DeploymentSettings {
    fn default() -> Self {
        Self {
            traffic_routing: default_routing(),
            step_percent: default_step_percent(),
            wait_seconds: default_wait_seconds(),
            termination_wait_seconds: 0,
            max_execution_seconds: default_execution_timeout(),
            rollback_alarms: Vec::new(),
        }
    }
}

impl DeploymentSettings {
    /// The `DeploymentConfig` of a new version on a fleet of `instances`: blue/green with these settings made valid
    /// for that fleet, rolled back by `alarms` (the function's) and the file's own, without repeats.
    ///
    /// - Below two instances there is no canary or step smaller than the fleet: all at once.
    /// - The canary and the linear step are sized in instances, rounded up from `step_percent` of the fleet and
    ///   kept within SageMaker's bounds: a canary of at most [`MAX_CANARY_PERCENT`], a step within
    ///   [`LINEAR_STEP_PERCENT`] (a linear step is also made larger when its steps' baking would not fit the
    ///   longest timeout).
    /// - The timeout is at least the whole baking time (the canary's wait, or every linear step's) plus the old
    ///   fleet's termination wait and [`PROVISIONING_ALLOWANCE_SECONDS`], within [`EXECUTION_TIMEOUT_SECONDS`].
    pub fn deployment(&self, alarms: &[String], instances: u32) -> Deployment {
        let mut all: Vec<String> = Vec::new();
        for a in alarms.iter().chain(&self.rollback_alarms) {
            if !all.contains(a) {
                all.push(a.clone());
            }
        }
        let fleet = i32::try_from(instances).unwrap_or(i32::MAX).max(1);
        let half = fleet / 2;
        let share = |percent: i32| ((i64::from(fleet) * i64::from(percent) + 99) / 100) as i32;
        let max_timeout = *EXECUTION_TIMEOUT_SECONDS.end();
        let fixed = self.termination_wait_seconds + PROVISIONING_ALLOWANCE_SECONDS;
        let (routing, step, baking) = match self.traffic_routing {
            _ if fleet < 2 => (TrafficRouting::AllAtOnce, None, 0),
            TrafficRouting::AllAtOnce => (TrafficRouting::AllAtOnce, None, 0),
            TrafficRouting::Canary => {
                let count = share(self.step_percent.min(MAX_CANARY_PERCENT)).clamp(1, half);
                (TrafficRouting::Canary, Some(count), self.wait_seconds)
            }
            TrafficRouting::Linear => {
                let percent = self
                    .step_percent
                    .clamp(*LINEAR_STEP_PERCENT.start(), *LINEAR_STEP_PERCENT.end());
                let mut count = share(percent).clamp(1, half);
                // Steps whose baking does not fit the longest timeout are made larger, up to half the fleet.
                if self.wait_seconds > 0 {
                    let steps_that_fit = ((max_timeout - fixed) / self.wait_seconds).max(1);
                    let needed = (fleet + steps_that_fit - 1) / steps_that_fit;
                    count = count.max(needed).min(half.max(1));
                }
                let steps = (fleet + count - 1) / count;
                (TrafficRouting::Linear, Some(count), steps * self.wait_seconds)
            }
        };
        Deployment {
            traffic_routing: routing.as_str().to_owned(),
            wait_interval_seconds: self.wait_seconds,
            termination_wait_seconds: self.termination_wait_seconds,
            max_execution_seconds: self.max_execution_seconds.max(baking + fixed).min(max_timeout),
            rollback_alarms: all,
            step: step.map(|value| CapacityStep {
                unit: CapacityUnit::InstanceCount,
                value,
            }),
        }
    }
}

/// The retraining file of one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainSettings {
    /// The endpoint whose windows are judged and whose model is replaced.
    pub endpoint: String,
    /// Its variant (default `AllTraffic`): the windows are this variant's, and the new model replaces its model.
    #[serde(default = "default_variant")]
    pub variant: String,
    /// When to retrain; `policy.model` names the Model Package Group.
    pub policy: RetrainPolicy,
    /// How to train.
    pub training: TrainingSettings,
    /// How to register.
    #[serde(default)]
    pub registration: RegistrationSettings,
    /// How to deploy.
    #[serde(default)]
    pub deployment: DeploymentSettings,
    /// The `suggest-baseline` request for a new version's baseline from its training data, sent (as an EventBridge
    /// event) when the version begins serving. `{date}` (the launch's date, as in `training.data_s3_uri`) and
    /// `{version}` are replaced in its `dataset` and `baseline` URIs (see [`BaselineRequest::filled`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_baseline: Option<BaselineRequest>,
}

impl RetrainSettings {
    /// Reads and validates a retraining file.
    ///
    /// # Errors
    ///
    /// A [`SettingsError`] naming the first offending field.
    pub fn from_json(text: &str) -> Result<Self, SettingsError> {
        let s: Self = serde_json::from_str(text).map_err(SettingsError::Json)?;
        s.validate()?;
        Ok(s)
    }

    /// Checks ranges.
    ///
    /// # Errors
    ///
    /// A [`SettingsError`] naming the first offending field.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.policy.validate()?;
        let bad = |field: &'static str, why: &str| SettingsError::Invalid {
            endpoint: self.endpoint.clone(),
            field,
            why: why.to_owned(),
        };
        if self.endpoint.trim().is_empty() {
            return Err(bad("endpoint", "must not be empty"));
        }
        let t = &self.training;
        if t.template_job.trim().is_empty() {
            return Err(bad("training.template_job", "must not be empty"));
        }
        if !t.data_s3_uri.starts_with("s3://") {
            return Err(bad("training.data_s3_uri", "must be an s3:// URI"));
        }
        let channel_ok = |c: &str| {
            !c.is_empty()
                && c.len() <= MAX_CHANNEL_NAME
                && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ".-_".contains(ch))
        };
        if !channel_ok(&t.channel) {
            return Err(bad("training.channel", "must match [A-Za-z0-9.-_]{1,64}"));
        }
        if let Some(c) = &t.captured {
            if !c.s3_uri.starts_with("s3://") {
                return Err(bad("training.captured.s3_uri", "must be an s3:// URI"));
            }
            if !(1..=MAX_CAPTURED_DAYS).contains(&c.days) {
                return Err(bad("training.captured.days", "must be in 1..=90"));
            }
            if !channel_ok(&c.channel) || c.channel == t.channel {
                return Err(bad(
                    "training.captured.channel",
                    "must match [A-Za-z0-9.-_]{1,64} and differ from training.channel",
                ));
            }
        }
        let r = &self.registration;
        if r.auto_approve && r.metric.is_none() {
            return Err(bad("registration.metric", "auto_approve needs a metric to compare"));
        }
        if !(r.min_improvement.is_finite() && r.min_improvement >= 0.0) {
            return Err(bad("registration.min_improvement", "must be a finite number >= 0"));
        }
        if r.content_types.is_empty() || r.response_types.is_empty() {
            return Err(bad("registration.content_types", "must name at least one type"));
        }
        let d = &self.deployment;
        if !(1..=100).contains(&d.step_percent) {
            return Err(bad("deployment.step_percent", "must be in 1..=100"));
        }
        if !(0..=MAX_WAIT_SECONDS).contains(&d.wait_seconds) {
            return Err(bad("deployment.wait_seconds", "must be in 0..=3600"));
        }
        if !(0..=MAX_TERMINATION_WAIT_SECONDS).contains(&d.termination_wait_seconds) {
            return Err(bad("deployment.termination_wait_seconds", "must be in 0..=3600"));
        }
        if !EXECUTION_TIMEOUT_SECONDS.contains(&d.max_execution_seconds) {
            return Err(bad("deployment.max_execution_seconds", "must be in 600..=28800"));
        }
        if d.rollback_alarms.len() > MAX_ROLLBACK_ALARMS {
            return Err(bad("deployment.rollback_alarms", "at most 10 alarms"));
        }
        if let Some(b) = &self.new_baseline {
            b.validate().map_err(|e| bad("new_baseline", &e.to_string()))?;
        }
        Ok(())
    }

    /// The `suggest-baseline` request of a version trained on data of `date`, if the file asks for one: its
    /// `new_baseline` with `{date}` and `{version}` filled in.
    pub fn new_baseline_request(&self, date: chrono::NaiveDate, version: &str) -> Option<BaselineRequest> {
        self.new_baseline.as_ref().map(|b| b.filled(date, version))
    }

    /// The training data URI for a decision on `date` (`{date}` replaced).
    pub fn data_uri(&self, date: chrono::NaiveDate) -> String {
        self.training
            .data_s3_uri
            .replace("{date}", &date.format("%Y-%m-%d").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"endpoint": "ep", "policy": {"model": "churn",
        "budget": {"monthly_training_hours": 10, "estimated_hours_per_job": 2}},
        "training": {"template_job": "churn-1", "data_s3_uri": "s3://ml/churn/{date}/"}}"#;

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        let s = RetrainSettings::from_json(MINIMAL).unwrap();
        assert_eq!(s.variant, "AllTraffic");
        assert_eq!(s.training.channel, "train");
        assert!(!s.registration.auto_approve);
        assert_eq!(s.deployment.traffic_routing, TrafficRouting::Canary);
        let d = s.deployment.deployment(&["errors".to_owned()], 4);
        assert_eq!(d.traffic_routing, "CANARY");
        assert_eq!(
            d.step,
            Some(CapacityStep {
                unit: CapacityUnit::InstanceCount,
                value: 1
            })
        );
        assert_eq!(d.rollback_alarms, vec!["errors".to_owned()]);
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        assert_eq!(s.data_uri(date), "s3://ml/churn/2026-11-27/");
    }

    #[test]
    fn out_of_range_fields_are_named() {
        let cases = [
            (r#""registration": {"auto_approve": true}"#, "registration.metric"),
            (r#""deployment": {"step_percent": 0}"#, "deployment.step_percent"),
            (r#""deployment": {"wait_seconds": 3601}"#, "deployment.wait_seconds"),
            (
                r#""deployment": {"max_execution_seconds": 599}"#,
                "deployment.max_execution_seconds",
            ),
        ];
        for (extra, field) in cases {
            let text = MINIMAL.trim_end().strip_suffix('}').unwrap().to_owned() + "," + extra + "}";
            let e = RetrainSettings::from_json(&text).unwrap_err().to_string();
            assert!(e.contains(field), "{extra}: {e}");
        }
        let typo = MINIMAL.replace("\"template_job\"", "\"template\"");
        assert!(matches!(RetrainSettings::from_json(&typo), Err(SettingsError::Json(_))));
    }

    #[test]
    fn a_baseline_request_is_filled_with_the_date_and_version() {
        let text = MINIMAL.trim_end().strip_suffix('}').unwrap().to_owned()
            + r#", "new_baseline": {"dataset": "s3://ml/churn/{date}/train.csv", "label_column": "churned",
                "baseline": "s3://b/baselines/ep/AllTraffic", "header": true}}"#;
        let s = RetrainSettings::from_json(&text).unwrap();
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let r = s.new_baseline_request(date, "3").unwrap();
        assert_eq!(r.dataset, "s3://ml/churn/2026-11-27/train.csv");
        assert_eq!(r.label_column.as_deref(), Some("churned"));
        assert!(r.header);
        assert_eq!(
            r.to_json(),
            serde_json::json!({"dataset": "s3://ml/churn/2026-11-27/train.csv", "label_column": "churned",
                "baseline": "s3://b/baselines/ep/AllTraffic"}),
            "the JSON sent is the request, its defaults left out"
        );
        let with = |new_baseline: &str| {
            MINIMAL.trim_end().strip_suffix('}').unwrap().to_owned() + r#", "new_baseline": "# + new_baseline + "}"
        };
        for (new_baseline, named) in [
            (r#"{"dataset": "x"}"#, "missing field `baseline`"),
            (
                r#"{"dataset": "x", "baseline": "s3://b/x"}"#,
                "new_baseline: dataset: must be",
            ),
            (
                r#"{"dataset": "s3://b/t.csv", "baseline": "b/x"}"#,
                "new_baseline: baseline: must be",
            ),
            (
                r#"{"dataset": "s3://b/t.csv", "baseline": "s3://b/x", "labels": "y"}"#,
                "unknown field `labels`",
            ),
        ] {
            let e = RetrainSettings::from_json(&with(new_baseline)).unwrap_err().to_string();
            assert!(e.contains(named), "{new_baseline}: {e}");
        }
        assert_eq!(
            RetrainSettings::from_json(MINIMAL)
                .unwrap()
                .new_baseline_request(date, "1"),
            None
        );
    }

    #[test]
    fn captured_days_are_daily_folders_and_a_manifest() {
        let c = CapturedData {
            s3_uri: "s3://b/labelled/".into(),
            days: 3,
            channel: "captured".into(),
        };
        let now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 1, 10, 0, 0).unwrap();
        assert_eq!(c.day_folders(now), vec!["2026/02/27/", "2026/02/28/", "2026/03/01/"]);
        let m = manifest("s3://b/labelled/", &["2026/02/28/a.csv".to_owned()]);
        assert_eq!(
            m,
            serde_json::json!([{"prefix": "s3://b/labelled/"}, "2026/02/28/a.csv"])
        );
        let text = MINIMAL.replace(
            r#""data_s3_uri": "s3://ml/churn/{date}/"}"#,
            r#""data_s3_uri": "s3://ml/churn/{date}/", "captured": {"s3_uri": "s3://b/l", "days": 0}}"#,
        );
        assert!(
            RetrainSettings::from_json(&text)
                .unwrap_err()
                .to_string()
                .contains("captured.days")
        );
    }

    #[test]
    fn all_at_once_has_no_step_and_alarms_are_not_repeated() {
        let s = DeploymentSettings {
            traffic_routing: TrafficRouting::AllAtOnce,
            rollback_alarms: vec!["a".into(), "b".into()],
            ..DeploymentSettings::default()
        };
        let d = s.deployment(&["b".to_owned(), "c".to_owned()], 3);
        assert_eq!(d.step, None);
        assert_eq!(d.rollback_alarms, vec!["b", "c", "a"]);
    }

    #[test]
    fn the_defaults_are_valid_for_every_fleet_size() {
        let instances = |d: &Deployment| d.step.map(|s| (s.unit, s.value));
        let canary = DeploymentSettings::default();
        // One instance: a canary smaller than the fleet does not exist.
        let one = canary.deployment(&[], 1);
        assert_eq!((one.traffic_routing.as_str(), one.step), ("ALL_AT_ONCE", None));
        // Two: a canary of one instance (50 %); twenty: 10 % is two instances.
        assert_eq!(
            instances(&canary.deployment(&[], 2)),
            Some((CapacityUnit::InstanceCount, 1))
        );
        assert_eq!(
            instances(&canary.deployment(&[], 20)),
            Some((CapacityUnit::InstanceCount, 2))
        );
        let big_canary = DeploymentSettings {
            step_percent: 90,
            ..DeploymentSettings::default()
        };
        assert_eq!(
            instances(&big_canary.deployment(&[], 10)),
            Some((CapacityUnit::InstanceCount, 5))
        );
        // The timeout covers the baking: 600 s of canary plus the allowance.
        assert!(canary.deployment(&[], 4).max_execution_seconds >= 600 + PROVISIONING_ALLOWANCE_SECONDS);

        // Linear 10 % every 600 s: ten steps on a fleet of ten, 6000 s of baking, more than the 3600 s default.
        let linear = DeploymentSettings {
            traffic_routing: TrafficRouting::Linear,
            ..DeploymentSettings::default()
        };
        let d = linear.deployment(&[], 10);
        assert_eq!(instances(&d), Some((CapacityUnit::InstanceCount, 1)));
        assert_eq!(d.max_execution_seconds, 10 * 600 + PROVISIONING_ALLOWANCE_SECONDS);
        for fleet in 2..=40 {
            let d = linear.deployment(&[], fleet);
            let (_, count) = instances(&d).unwrap();
            let fleet = fleet as i32;
            assert!(count * 10 >= fleet && count * 2 <= fleet, "{fleet}: {count}");
            let steps = (fleet + count - 1) / count;
            assert!(d.max_execution_seconds >= steps * 600, "{fleet}: {d:?}");
            assert!(EXECUTION_TIMEOUT_SECONDS.contains(&d.max_execution_seconds));
        }
        // An hour between steps: steps grow until their baking fits the longest timeout (28800 s).
        let slow = DeploymentSettings {
            wait_seconds: 3600,
            ..linear
        };
        let d = slow.deployment(&[], 10);
        let count = d.step.unwrap().value;
        assert!(
            (10 + count - 1) / count * 3600 + PROVISIONING_ALLOWANCE_SECONDS <= 28_800,
            "{d:?}"
        );
    }
}
