//! The function's configuration, from environment variables (the README's table lists them).

use std::collections::HashMap;

use chrono::Duration;
pub use modelwatch_aws::env::{ConfigError, EndpointVariant};
use modelwatch_aws::env::{Vars, invalid, unparsable};
use modelwatch_aws::s3::S3Location;
use modelwatch_core::evaluate::EvaluationConfig;
use modelwatch_core::monitor::{ScheduleSettings, Target};

/// The typed configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub endpoints: Vec<EndpointVariant>,
    /// Data Capture's destination (`DestinationS3Uri`); captures are below `{it}/{endpoint}/{variant}/`.
    pub capture: S3Location,
    /// Baseline folder; `{endpoint}` and `{variant}` are replaced.
    pub baseline: String,
    pub reports: S3Location,
    pub state: S3Location,
    /// Ground-truth folder (hourly layout below it); `{endpoint}` and `{variant}` are replaced.
    pub ground_truth: Option<String>,
    pub evaluation: EvaluationConfig,
    /// Replaces Model Monitor's namespaces (`{it}/data-metrics`, `{it}/model-metrics`).
    pub namespace: Option<String>,
    /// The `MonitoringSchedule` dimension of the metrics.
    pub schedule: String,
    /// How long after an hour ends its captures are taken as complete.
    pub settle: Duration,
    /// Closed hours evaluated per invocation at most (catching up after an outage).
    pub max_windows: usize,
    /// How long a window's claim lasts; longer than the function's timeout.
    pub lease: Duration,
    /// The `DataCaptureConfig.DestinationS3Uri` of the Batch Transform jobs to evaluate, `{job}` replaced by the
    /// job's name: SageMaker's state-change event describes the job without it.
    pub transform_capture: Option<String>,
    /// The distributed evaluation's state machine: backfill requests, and scheduled windows of more than
    /// `distribute_above_bytes` of captures, are run there.
    pub distributed: Option<String>,
    /// Bytes of captures one invocation reads at most itself.
    pub distribute_above_bytes: u64,
}

/// Default `SCHEDULE_NAME`: the core's, which the CLI uses too.
pub use modelwatch_core::monitor::DEFAULT_SCHEDULE;
/// Default `SETTLE_MINUTES`: Data Capture writes its files within a few minutes of the hour's end.
pub const DEFAULT_SETTLE_MINUTES: i64 = 5;
/// Default `MAX_WINDOWS_PER_RUN`: a day of missed hours is caught up in one invocation.
pub const DEFAULT_MAX_WINDOWS: usize = 24;
/// Default `LEASE_MINUTES`: Lambda's longest timeout is 15 minutes (Lambda quotas), so a 20-minute-old claim
/// belongs to a run that died.
pub const DEFAULT_LEASE_MINUTES: i64 = 20;

impl Config {
    /// Parses the process environment.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the variable that is missing or invalid.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Parses `vars`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the variable that is missing or invalid.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let vars = Vars::from_map(vars.clone());
        let endpoints = vars.endpoint_variants("ENDPOINTS")?;
        let evaluation = match vars.get("EVALUATION_CONFIG") {
            None => EvaluationConfig::default(),
            Some(json) => serde_json::from_str(json).map_err(|e| unparsable("EVALUATION_CONFIG", e))?,
        };
        let max_windows = vars.number("MAX_WINDOWS_PER_RUN", DEFAULT_MAX_WINDOWS as i64)?;
        let schedule = ScheduleSettings {
            settle: Duration::minutes(vars.number("SETTLE_MINUTES", DEFAULT_SETTLE_MINUTES)?),
            // A negative count is refused by the check below, as 0 is.
            max_windows: usize::try_from(max_windows).unwrap_or(0),
            lease: Duration::minutes(vars.number("LEASE_MINUTES", DEFAULT_LEASE_MINUTES)?),
        };
        schedule.validate().map_err(|e| {
            let name = match e.field.as_str() {
                "max_windows" => "MAX_WINDOWS_PER_RUN",
                "settle" => "SETTLE_MINUTES",
                _ => "LEASE_MINUTES",
            };
            invalid(name, e.why)
        })?;
        let ground_truth = vars.template("GROUND_TRUTH_S3_URI")?;
        let distinct = endpoints
            .iter()
            .map(|e| e.endpoint.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if let Some(t) = &ground_truth
            && distinct > 1
            && !t.contains("{endpoint}")
        {
            // Inference ids are the client's (AWS's own Model Monitor example numbers them 0, 1, 2, ...): labels
            // shared by two endpoints would be joined to the other endpoint's captures.
            return Err(invalid(
                "GROUND_TRUTH_S3_URI",
                format!(
                    "{t} names no {{endpoint}} while ENDPOINTS lists {distinct} endpoints: each endpoint's labels \
                     must have their own place, or one endpoint's would be joined to another's captures by \
                     inference id"
                ),
            ));
        }
        Ok(Self {
            endpoints,
            capture: vars.location("CAPTURE_S3_URI")?,
            baseline: vars
                .template("BASELINE_S3_URI")?
                .ok_or(ConfigError::Missing("BASELINE_S3_URI"))?,
            reports: vars.location("REPORT_S3_URI")?,
            state: vars.location("STATE_S3_URI")?,
            ground_truth,
            evaluation,
            namespace: vars.get("METRICS_NAMESPACE").map(str::to_owned),
            schedule: vars.get("SCHEDULE_NAME").unwrap_or(DEFAULT_SCHEDULE).to_owned(),
            settle: schedule.settle,
            max_windows: schedule.max_windows,
            lease: schedule.lease,
            distributed: match vars.get("DISTRIBUTED_STATE_MACHINE_ARN") {
                Some(arn) if !arn.starts_with("arn:") || !arn.contains(":stateMachine:") => {
                    return Err(invalid(
                        "DISTRIBUTED_STATE_MACHINE_ARN",
                        format!("{arn} is not a state machine's ARN"),
                    ));
                }
                arn => arn.map(str::to_owned),
            },
            // `number` refuses negative values.
            distribute_above_bytes: vars
                .number(
                    "DISTRIBUTE_ABOVE_BYTES",
                    modelwatch_core::distributed::DEFAULT_BATCH_BYTES as i64,
                )?
                .unsigned_abs(),
            transform_capture: match vars.get("TRANSFORM_CAPTURE_S3_URI") {
                None => None,
                Some(t) => {
                    t.replace("{job}", "job")
                        .parse::<S3Location>()
                        .map_err(|e| unparsable("TRANSFORM_CAPTURE_S3_URI", e))?;
                    Some(t.to_owned())
                }
            },
        })
    }

    /// Where Batch Transform job `job` captured its data, from [`Config::transform_capture`].
    pub fn transform_capture_of(&self, job: &str) -> Option<String> {
        self.transform_capture.as_ref().map(|t| t.replace("{job}", job))
    }

    /// The baseline folder of `ev`.
    pub fn baseline_of(&self, ev: &EndpointVariant) -> S3Location {
        fill(&self.baseline, ev).parse().expect("validated at parse time")
    }

    /// The ground-truth folder of `ev`, when configured.
    pub fn ground_truth_of(&self, ev: &EndpointVariant) -> Option<S3Location> {
        self.ground_truth
            .as_ref()
            .map(|t| fill(t, ev).parse().expect("validated at parse time"))
    }

    /// The capture folder of `ev`: `{capture}/{endpoint}/{variant}`.
    pub fn capture_of(&self, ev: &EndpointVariant) -> S3Location {
        self.capture.join(&format!("{}/{}", ev.endpoint, ev.variant))
    }

    /// The core's run target of `ev`.
    pub fn target(&self, ev: &EndpointVariant) -> Target {
        Target {
            endpoint: ev.endpoint.clone(),
            variant: ev.variant.clone(),
            schedule: self.schedule.clone(),
        }
    }

    /// The endpoint variant whose captures `bucket`/`key` belongs to.
    pub fn owner_of(&self, bucket: &str, key: &str) -> Option<&EndpointVariant> {
        if bucket != self.capture.bucket {
            return None;
        }
        self.endpoints
            .iter()
            .find(|ev| key.starts_with(&format!("{}/", self.capture_of(ev).prefix.trim_start_matches('/'))))
    }
}

fn fill(template: &str, ev: &EndpointVariant) -> String {
    modelwatch_aws::env::fill(template, &ev.endpoint, &ev.variant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    const BASE: [(&str, &str); 5] = [
        ("ENDPOINTS", "credit-risk, churn/Canary"),
        ("CAPTURE_S3_URI", "s3://bucket/datacapture"),
        ("BASELINE_S3_URI", "s3://bucket/baselines/{endpoint}/{variant}"),
        ("REPORT_S3_URI", "s3://bucket/reports"),
        ("STATE_S3_URI", "s3://bucket/state"),
    ];

    #[test]
    fn ground_truth_shared_by_several_endpoints_is_refused() {
        let with = |uri: &str| {
            let mut v = vars(&BASE);
            v.insert("GROUND_TRUTH_S3_URI".to_owned(), uri.to_owned());
            v
        };
        let err = Config::from_vars(&with("s3://bucket/labels")).unwrap_err().to_string();
        assert!(
            err.contains("GROUND_TRUTH_S3_URI") && err.contains("lists 2 endpoints"),
            "{err}"
        );
        let c = Config::from_vars(&with("s3://bucket/labels/{endpoint}")).unwrap();
        assert_eq!(c.ground_truth.as_deref(), Some("s3://bucket/labels/{endpoint}"));
        // One endpoint (two variants of it share its labels): no placeholder needed.
        let mut one = with("s3://bucket/labels");
        one.insert("ENDPOINTS".to_owned(), "churn, churn/Canary".to_owned());
        assert!(Config::from_vars(&one).is_ok());
    }

    #[test]
    fn parses_the_environment_with_defaults() {
        let c = Config::from_vars(&vars(&BASE)).unwrap();
        assert_eq!(c.endpoints.len(), 2);
        assert_eq!(c.endpoints[0].variant, "AllTraffic");
        assert_eq!(c.endpoints[1].variant, "Canary");
        assert_eq!(
            c.baseline_of(&c.endpoints[1]).to_string(),
            "s3://bucket/baselines/churn/Canary"
        );
        assert_eq!(
            c.capture_of(&c.endpoints[0]).to_string(),
            "s3://bucket/datacapture/credit-risk/AllTraffic"
        );
        assert_eq!(c.settle, Duration::minutes(5));
        assert_eq!((c.max_windows, c.schedule.as_str()), (24, DEFAULT_SCHEDULE));
        assert!(c.ground_truth.is_none() && c.evaluation.quality.is_none());
        let owner = c
            .owner_of("bucket", "datacapture/churn/Canary/2024/05/01/13/x.jsonl")
            .unwrap();
        assert_eq!(owner.endpoint, "churn");
        assert!(
            c.owner_of("bucket", "datacapture/churn/AllTraffic/2024/05/01/13/x.jsonl")
                .is_none()
        );
        assert!(
            c.owner_of("other", "datacapture/churn/Canary/2024/05/01/13/x.jsonl")
                .is_none()
        );
    }

    #[test]
    fn a_transform_jobs_capture_destination_names_the_job() {
        let c = Config::from_vars(&vars(&BASE)).unwrap();
        assert_eq!(c.transform_capture_of("score-1"), None);
        let mut v = vars(&BASE);
        v.insert(
            "TRANSFORM_CAPTURE_S3_URI".into(),
            "s3://bucket/batch-capture/{job}".into(),
        );
        let c = Config::from_vars(&v).unwrap();
        assert_eq!(
            c.transform_capture_of("score-1").as_deref(),
            Some("s3://bucket/batch-capture/score-1")
        );
        v.insert("TRANSFORM_CAPTURE_S3_URI".into(), "bucket/batch-capture/{job}".into());
        assert!(
            Config::from_vars(&v)
                .unwrap_err()
                .to_string()
                .contains("TRANSFORM_CAPTURE_S3_URI")
        );
    }

    #[test]
    fn names_the_bad_variable() {
        let mut v = vars(&BASE);
        v.remove("STATE_S3_URI");
        assert_eq!(
            Config::from_vars(&v).unwrap_err().to_string(),
            "environment variable STATE_S3_URI is required"
        );
        let mut v = vars(&BASE);
        v.insert("REPORT_S3_URI".into(), "bucket/reports".into());
        assert!(Config::from_vars(&v).unwrap_err().to_string().contains("REPORT_S3_URI"));
        let mut v = vars(&BASE);
        v.insert("SETTLE_MINUTES".into(), "soon".into());
        assert!(
            Config::from_vars(&v)
                .unwrap_err()
                .to_string()
                .contains("SETTLE_MINUTES")
        );
        for (name, value) in [
            ("MAX_WINDOWS_PER_RUN", "0"),
            ("MAX_WINDOWS_PER_RUN", "-3"),
            ("LEASE_MINUTES", "0"),
        ] {
            let mut v = vars(&BASE);
            v.insert(name.into(), value.into());
            let e = Config::from_vars(&v).unwrap_err().to_string();
            assert!(e.starts_with(&format!("environment variable {name}: ")), "{e}");
        }
        let mut v = vars(&BASE);
        v.insert(
            "EVALUATION_CONFIG".into(),
            r#"{"drift": {"dataset_drift_share": 1.5}}"#.into(),
        );
        let e = Config::from_vars(&v).unwrap_err().to_string();
        assert!(
            e.contains("EVALUATION_CONFIG") && e.contains("drift.dataset_drift_share"),
            "{e}"
        );
        let mut v = vars(&BASE);
        v.insert(
            "EVALUATION_CONFIG".into(),
            r#"{"quality": {"problem_type": "Nonsense"}}"#.into(),
        );
        assert!(
            Config::from_vars(&v)
                .unwrap_err()
                .to_string()
                .contains("EVALUATION_CONFIG")
        );
    }
}
