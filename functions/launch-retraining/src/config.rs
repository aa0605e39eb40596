//! The function's configuration, from environment variables (the README's table lists them).

use modelwatch_aws::env::{ConfigError, Vars, fill, invalid, valid_name};
use modelwatch_aws::s3::S3Location;
use modelwatch_core::retrain::lifecycle::Context;

/// The typed configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The endpoints whose models this function retrains and deploys.
    pub endpoints: Vec<String>,
    /// The retraining file of an endpoint: an `s3://` object URI where `{endpoint}` is replaced.
    pub settings: String,
    /// The state store shared with the evaluator (its window markers are read; the retraining and version
    /// histories are written beside them).
    pub state: S3Location,
    /// The evaluator's report root.
    pub reports: S3Location,
    /// The baseline folder of an endpoint variant (`{endpoint}`, `{variant}`), for the quality constraints and
    /// the lineage.
    pub baseline: Option<String>,
    /// The only role training jobs run as.
    pub training_role: String,
    /// The only role new models run as.
    pub model_role: String,
    /// Alarms that roll every deployment back (`{endpoint}` replaced).
    pub rollback_alarms: Vec<String>,
    /// The EventBridge bus the baseline requests go to (default `default`).
    pub event_bus: String,
}

pub use modelwatch_core::scaling::controller::MAX_ROLLBACK_ALARMS;

fn role(vars: &Vars, name: &'static str) -> Result<Option<String>, ConfigError> {
    match vars.get(name) {
        None => Ok(None),
        Some(arn) if arn.starts_with("arn:") && arn.contains(":role/") => Ok(Some(arn.to_owned())),
        Some(arn) => Err(invalid(name, format!("{arn:?} is not an IAM role ARN"))),
    }
}

impl Config {
    /// Parses the process environment.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the variable that is missing or invalid.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_env())
    }

    /// Parses `vars`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the variable that is missing or invalid.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let endpoints = vars.list("ENDPOINTS");
        if endpoints.is_empty() {
            return Err(ConfigError::Missing("ENDPOINTS"));
        }
        if let Some(bad) = endpoints.iter().find(|e| !valid_name(e)) {
            return Err(invalid(
                "ENDPOINTS",
                format!("{bad:?} is not a SageMaker endpoint name"),
            ));
        }
        let settings = vars
            .template("RETRAIN_SETTINGS_S3_URI")?
            .ok_or(ConfigError::Missing("RETRAIN_SETTINGS_S3_URI"))?;
        let training_role = role(vars, "TRAINING_ROLE_ARN")?.ok_or(ConfigError::Missing("TRAINING_ROLE_ARN"))?;
        let model_role = role(vars, "MODEL_ROLE_ARN")?.unwrap_or_else(|| training_role.clone());
        let rollback_alarms = vars.list("ROLLBACK_ALARMS");
        if rollback_alarms.len() > MAX_ROLLBACK_ALARMS {
            return Err(invalid("ROLLBACK_ALARMS", "at most 10 alarms"));
        }
        Ok(Self {
            endpoints,
            settings,
            state: vars.location("STATE_S3_URI")?,
            reports: vars.location("REPORT_S3_URI")?,
            baseline: vars.template("BASELINE_S3_URI")?,
            training_role,
            model_role,
            rollback_alarms,
            event_bus: vars.get("EVENT_BUS_NAME").unwrap_or("default").to_owned(),
        })
    }

    /// The retraining file of `endpoint`.
    pub fn settings_of(&self, endpoint: &str) -> S3Location {
        fill(&self.settings, endpoint, "")
            .parse()
            .expect("validated at parse time")
    }

    /// The baseline folder of an endpoint variant.
    pub fn baseline_of(&self, endpoint: &str, variant: &str) -> Option<S3Location> {
        self.baseline
            .as_ref()
            .map(|t| fill(t, endpoint, variant).parse().expect("validated at parse time"))
    }

    /// What the core may do for `endpoint`.
    pub fn context(&self, endpoint: &str, variant: &str) -> Context {
        Context {
            training_role: self.training_role.clone(),
            model_role: self.model_role.clone(),
            rollback_alarms: self
                .rollback_alarms
                .iter()
                .map(|a| fill(a, endpoint, variant))
                .collect(),
            baseline_uri: self.baseline_of(endpoint, variant).map(|b| b.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars::from_map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>(),
        )
    }

    const BASE: &[(&str, &str)] = &[
        ("ENDPOINTS", "churn-prod, fraud"),
        ("RETRAIN_SETTINGS_S3_URI", "s3://b/retrain/{endpoint}.json"),
        ("STATE_S3_URI", "s3://b/state/monitor"),
        ("REPORT_S3_URI", "s3://b/reports"),
        ("BASELINE_S3_URI", "s3://b/baselines/{endpoint}/{variant}"),
        ("TRAINING_ROLE_ARN", "arn:aws:iam::1:role/train"),
        ("ROLLBACK_ALARMS", "{endpoint}-errors,{endpoint}-quality"),
    ];

    #[test]
    fn parses_and_fills_templates() {
        let c = Config::from_vars(&vars(BASE)).unwrap();
        assert_eq!(c.endpoints, vec!["churn-prod", "fraud"]);
        assert_eq!(c.settings_of("fraud").to_string(), "s3://b/retrain/fraud.json");
        assert_eq!(
            c.model_role, "arn:aws:iam::1:role/train",
            "the model role defaults to the training role"
        );
        let ctx = c.context("fraud", "AllTraffic");
        assert_eq!(ctx.rollback_alarms, vec!["fraud-errors", "fraud-quality"]);
        assert_eq!(ctx.baseline_uri.as_deref(), Some("s3://b/baselines/fraud/AllTraffic"));
    }

    #[test]
    fn names_the_bad_variable() {
        let mut v: Vec<(&str, &str)> = BASE.to_vec();
        v.retain(|(k, _)| *k != "TRAINING_ROLE_ARN");
        assert!(matches!(
            Config::from_vars(&vars(&v)),
            Err(ConfigError::Missing("TRAINING_ROLE_ARN"))
        ));
        v.push(("TRAINING_ROLE_ARN", "train"));
        let e = Config::from_vars(&vars(&v)).unwrap_err().to_string();
        assert!(e.contains("TRAINING_ROLE_ARN"), "{e}");
        let mut v: Vec<(&str, &str)> = BASE.to_vec();
        v[0] = ("ENDPOINTS", "churn_prod");
        let e = Config::from_vars(&vars(&v)).unwrap_err().to_string();
        assert!(e.contains("ENDPOINTS"), "{e}");
    }
}
