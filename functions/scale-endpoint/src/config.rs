//! The function's configuration, from environment variables (the README's table lists them).

use std::collections::HashMap;

pub use modelwatch_aws::env::{ConfigError, DEFAULT_VARIANT, EndpointVariant, NAME_MAX, valid_name};
use modelwatch_aws::env::{Vars, fill, invalid};
use modelwatch_aws::s3::S3Location;
use modelwatch_core::scaling::controller::{
    AasMode, ControllerOptions, DEFAULT_METRICS_NAMESPACE, MAX_ROLLBACK_ALARMS,
};

/// `Alarm.AlarmName`: 1 to 255 characters (SageMaker API reference, `Alarm`).
pub const ALARM_NAME_MAX: usize = 255;
/// CloudWatch namespaces: 1 to 255 characters, and `AWS/` is reserved for AWS services (CloudWatch API
/// reference, `PutMetricData`).
pub const NAMESPACE_MAX: usize = 255;

/// The typed configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub endpoints: Vec<EndpointVariant>,
    /// The policy file of a variant: an `s3://` object URI where `{endpoint}` and `{variant}` are replaced.
    pub policy: String,
    /// Where the scaler state (history, pending registrations, the lock) is kept.
    pub state: S3Location,
    /// Dry run, Application Auto Scaling mode, rollback alarms, metrics namespace.
    pub options: ControllerOptions,
}

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
        let get = |name: &'static str| vars.get(name);
        let endpoints = vars.endpoint_variants("ENDPOINTS")?;

        let policy = vars.required("POLICY_S3_URI")?.to_owned();
        let probe = fill(&policy, "e", "v");
        if S3Location::split_uri(&probe).is_none_or(|(bucket, key)| bucket.is_empty() || key.is_empty()) {
            return Err(invalid(
                "POLICY_S3_URI",
                format!("{policy:?} is not an s3://bucket/key URI"),
            ));
        }
        let state = vars.location("STATE_S3_URI")?;

        let dry_run = match get("DRY_RUN").map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(invalid("DRY_RUN", format!("{other:?} is neither true nor false"))),
        };
        let aas_mode = match get("AAS_MODE") {
            None | Some("refuse") => AasMode::Refuse,
            Some("take_over") => AasMode::TakeOver,
            Some(other) => {
                return Err(invalid(
                    "AAS_MODE",
                    format!("{other:?} is neither refuse nor take_over"),
                ));
            }
        };
        let rollback_alarms = vars.list("ROLLBACK_ALARMS");
        if rollback_alarms.len() > MAX_ROLLBACK_ALARMS {
            return Err(invalid(
                "ROLLBACK_ALARMS",
                format!(
                    "{} alarms; SageMaker takes at most {MAX_ROLLBACK_ALARMS}",
                    rollback_alarms.len()
                ),
            ));
        }
        if let Some(long) = rollback_alarms.iter().find(|a| a.len() > ALARM_NAME_MAX) {
            return Err(invalid(
                "ROLLBACK_ALARMS",
                format!("{long:?} is longer than {ALARM_NAME_MAX}"),
            ));
        }
        let metrics_namespace = get("METRICS_NAMESPACE").unwrap_or(DEFAULT_METRICS_NAMESPACE).to_owned();
        if metrics_namespace.len() > NAMESPACE_MAX || metrics_namespace.starts_with("AWS/") {
            return Err(invalid(
                "METRICS_NAMESPACE",
                format!("{metrics_namespace:?}: at most {NAMESPACE_MAX} characters, not starting with AWS/"),
            ));
        }
        Ok(Self {
            endpoints,
            policy,
            state,
            options: ControllerOptions {
                dry_run,
                aas_mode,
                rollback_alarms,
                metrics_namespace,
            },
        })
    }

    /// The policy object of `ev`: bucket and key.
    pub fn policy_of(&self, ev: &EndpointVariant) -> (String, String) {
        let uri = fill(&self.policy, &ev.endpoint, &ev.variant);
        let (bucket, key) = S3Location::split_uri(&uri).expect("validated at parse time");
        (bucket.to_owned(), key.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    const BASE: [(&str, &str); 3] = [
        ("ENDPOINTS", "chat-llm, churn/Canary"),
        ("POLICY_S3_URI", "s3://bucket/policies/{endpoint}/{variant}.json"),
        ("STATE_S3_URI", "s3://bucket/state"),
    ];

    #[test]
    fn parses_the_environment_with_defaults() {
        let c = Config::from_vars(&vars(&BASE)).unwrap();
        assert_eq!(
            c.endpoints,
            vec![
                EndpointVariant {
                    endpoint: "chat-llm".into(),
                    variant: "AllTraffic".into()
                },
                EndpointVariant {
                    endpoint: "churn".into(),
                    variant: "Canary".into()
                },
            ]
        );
        assert_eq!(
            c.policy_of(&c.endpoints[1]),
            ("bucket".to_owned(), "policies/churn/Canary.json".to_owned())
        );
        assert_eq!(c.state.to_string(), "s3://bucket/state");
        assert_eq!(c.options, ControllerOptions::default());
        assert_eq!(c.options.metrics_namespace, "modelwatch/Scaling");
    }

    #[test]
    fn reads_every_option() {
        let mut v = vars(&BASE);
        v.insert("DRY_RUN".into(), "TRUE".into());
        v.insert("AAS_MODE".into(), "take_over".into());
        v.insert("ROLLBACK_ALARMS".into(), "ep-5xx, ep-latency".into());
        v.insert("METRICS_NAMESPACE".into(), "Team/Scaling".into());
        let c = Config::from_vars(&v).unwrap();
        assert!(c.options.dry_run);
        assert_eq!(c.options.aas_mode, AasMode::TakeOver);
        assert_eq!(c.options.rollback_alarms, vec!["ep-5xx", "ep-latency"]);
        assert_eq!(c.options.metrics_namespace, "Team/Scaling");
    }

    #[test]
    fn names_the_bad_variable() {
        let error = |key: &str, value: &str| {
            let mut v = vars(&BASE);
            v.insert(key.into(), value.into());
            Config::from_vars(&v).unwrap_err().to_string()
        };
        assert!(error("DRY_RUN", "yes").starts_with("environment variable DRY_RUN:"));
        assert!(error("AAS_MODE", "fight").starts_with("environment variable AAS_MODE:"));
        assert!(error("ENDPOINTS", "bad_name").contains("ENDPOINTS"));
        assert!(error("ENDPOINTS", "a, a/AllTraffic").contains("named twice"));
        assert!(error("ENDPOINTS", " , ").contains("names no endpoint"));
        assert!(error("POLICY_S3_URI", "s3://bucket").contains("POLICY_S3_URI"));
        assert!(error("STATE_S3_URI", "bucket/state").contains("STATE_S3_URI"));
        let eleven = (0..11).map(|i| format!("a{i}")).collect::<Vec<_>>().join(",");
        assert!(error("ROLLBACK_ALARMS", &eleven).contains("at most 10"));
        assert!(error("METRICS_NAMESPACE", "AWS/SageMaker").contains("METRICS_NAMESPACE"));
        let mut v = vars(&BASE);
        v.remove("STATE_S3_URI");
        assert_eq!(
            Config::from_vars(&v).unwrap_err().to_string(),
            "environment variable STATE_S3_URI is required"
        );
    }

    #[test]
    fn sagemaker_names() {
        assert!(valid_name("chat-llm-2"));
        assert!(valid_name(&"a".repeat(63)));
        assert!(!valid_name(&"a".repeat(64)));
        assert!(!valid_name("-a") && !valid_name("a-") && !valid_name("a.b") && !valid_name(""));
    }
}
