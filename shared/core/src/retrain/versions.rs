//! The version history of one endpoint: which model version and endpoint configuration served when, and why it
//! changed. Kept in the state store as JSON and printed by `modelwatch history`.
//!
//! A deployment is recorded when `UpdateEndpoint` is called (`deploying`), then ends `serving` when the endpoint
//! is back `InService` on the new configuration (the one serving before becomes `superseded`) or `failed` when
//! the deployment rolled back or failed. Rollback targets are only configurations that served: one that never
//! finished a deployment may be broken.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Why the endpoint changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum ChangeCause {
    /// Found serving when the history began.
    Initial,
    /// A retrained model was approved.
    Retrained {
        /// The training job that produced it.
        training_job: String,
        /// The checks that triggered the training (`quality drift_share`).
        trigger: String,
    },
    /// Returned to an earlier version.
    Rollback {
        /// The version serving before the rollback.
        from_version: String,
        /// Who asked (`cli`, `lambda`, a user name).
        requested_by: String,
    },
    /// Changed by hand.
    Manual {
        /// What the operator wrote.
        note: String,
    },
}

/// Where a deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// `UpdateEndpoint` was called; not yet `InService` on it.
    Deploying,
    /// Serving now.
    Serving,
    /// Served, then replaced.
    Superseded,
    /// Never finished: rolled back or failed.
    Failed,
}

impl DeploymentStatus {
    fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Deploying => "deploying",
            DeploymentStatus::Serving => "serving",
            DeploymentStatus::Superseded => "superseded",
            DeploymentStatus::Failed => "failed",
        }
    }
}

/// A deployment to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// The model version (the model package's version in its group, or a label).
    pub version: String,
    /// The SageMaker Model.
    pub model_name: String,
    /// The endpoint configuration.
    pub endpoint_config: String,
    /// When `UpdateEndpoint` was called.
    pub at: DateTime<Utc>,
    /// Why.
    pub cause: ChangeCause,
}

/// One deployment in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentRecord {
    /// The model version.
    pub version: String,
    /// The SageMaker Model.
    pub model_name: String,
    /// The endpoint configuration.
    pub endpoint_config: String,
    /// When it was requested.
    pub requested_at: DateTime<Utc>,
    /// Why.
    pub cause: ChangeCause,
    /// Where it is.
    pub status: DeploymentStatus,
    /// When it began serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_from: Option<DateTime<Utc>>,
    /// When it stopped serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_until: Option<DateTime<Utc>>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// How a deployment ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// `InService` on the new configuration.
    Served,
    /// Rolled back (`AutoRollbackConfiguration` alarms) or failed.
    Failed {
        /// SageMaker's failure reason or the alarm.
        why: String,
    },
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// A field was empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// Another deployment has not ended.
    #[error("endpoint {endpoint}: deployment of {endpoint_config} (version {version}) has not ended")]
    DeploymentInProgress {
        /// The endpoint.
        endpoint: String,
        /// The configuration deploying.
        endpoint_config: String,
        /// Its version.
        version: String,
    },
    /// An outcome for a configuration that is not deploying.
    #[error("endpoint {endpoint}: no deployment of {endpoint_config} is in progress")]
    NotDeploying {
        /// The endpoint.
        endpoint: String,
        /// The configuration.
        endpoint_config: String,
    },
}

/// Why there is no rollback target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackError {
    /// No deployment has served yet.
    #[error("endpoint {0}: no version is serving")]
    NothingServing(String),
    /// Only the current version ever served.
    #[error("endpoint {0}: no earlier version served")]
    NoPreviousVersion(String),
    /// The version asked for is the one serving.
    #[error("endpoint {endpoint}: version {version} is already serving")]
    AlreadyServing {
        /// The endpoint.
        endpoint: String,
        /// The version.
        version: String,
    },
    /// The version asked for is not in the history.
    #[error("endpoint {endpoint}: version {version} is not in the history")]
    UnknownVersion {
        /// The endpoint.
        endpoint: String,
        /// The version.
        version: String,
    },
    /// The version asked for never served (its deployments failed or are in progress).
    #[error("endpoint {endpoint}: version {version} never served traffic")]
    NeverServed {
        /// The endpoint.
        endpoint: String,
        /// The version.
        version: String,
    },
}

/// Why a stored history could not be read.
#[derive(Debug, thiserror::Error)]
#[error("version history is not valid JSON")]
pub struct VersionHistoryJsonError(#[source] pub serde_json::Error);

/// The version history of one endpoint, oldest deployment first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionHistory {
    /// The endpoint.
    pub endpoint: String,
    /// Its deployments.
    #[serde(default)]
    pub deployments: Vec<DeploymentRecord>,
    /// An approved version that could not deploy when its approval arrived (the endpoint was updating, or another
    /// deployment had not ended): deployed when the endpoint is next in service
    /// ([`crate::retrain::deploy::deploy_pending`]). The latest approval wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_approval: Option<PendingApproval>,
}

/// An approved version waiting for the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApproval {
    pub package_arn: String,
    pub version: String,
    /// When its approval was first put off.
    pub since: DateTime<Utc>,
    /// Why it waits.
    pub why: String,
}

fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Of deployments that served and were replaced, the one replaced last (records are appended in time order, so
/// of equal times the later record wins).
fn latest_served<'a>(records: impl Iterator<Item = &'a DeploymentRecord>) -> Option<&'a DeploymentRecord> {
    records
        .enumerate()
        .max_by_key(|(i, d)| (d.served_until, *i))
        .map(|(_, d)| d)
}

impl VersionHistory {
    /// An empty history.
    pub fn new(endpoint: &str) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            deployments: Vec::new(),
            pending_approval: None,
        }
    }

    /// Reads a stored history.
    ///
    /// # Errors
    ///
    /// [`VersionHistoryJsonError`] when the text is not a history.
    pub fn from_json(text: &str) -> Result<Self, VersionHistoryJsonError> {
        serde_json::from_str(text).map_err(VersionHistoryJsonError)
    }

    /// The history as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a version history is plain data")
    }

    /// The deployment serving now.
    pub fn serving(&self) -> Option<&DeploymentRecord> {
        self.deployments
            .iter()
            .rev()
            .find(|d| d.status == DeploymentStatus::Serving)
    }

    /// The deployment not yet ended.
    pub fn in_progress(&self) -> Option<&DeploymentRecord> {
        self.deployments
            .iter()
            .rev()
            .find(|d| d.status == DeploymentStatus::Deploying)
    }

    /// Records that `UpdateEndpoint` was called with a configuration (`deploying`).
    ///
    /// # Errors
    ///
    /// [`VersionError::Empty`] for an empty version, model or configuration name;
    /// [`VersionError::DeploymentInProgress`] while another deployment has not ended (SageMaker refuses to update an
    /// endpoint that is updating).
    pub fn record_deployment(&mut self, d: Deployment) -> Result<(), VersionError> {
        for (field, v) in [
            ("version", &d.version),
            ("model_name", &d.model_name),
            ("endpoint_config", &d.endpoint_config),
        ] {
            if v.trim().is_empty() {
                return Err(VersionError::Empty(field));
            }
        }
        if let Some(running) = self.in_progress() {
            return Err(VersionError::DeploymentInProgress {
                endpoint: self.endpoint.clone(),
                endpoint_config: running.endpoint_config.clone(),
                version: running.version.clone(),
            });
        }
        self.deployments.push(DeploymentRecord {
            version: d.version,
            model_name: d.model_name,
            endpoint_config: d.endpoint_config,
            requested_at: d.at,
            cause: d.cause,
            status: DeploymentStatus::Deploying,
            served_from: None,
            served_until: None,
            failure: None,
        });
        Ok(())
    }

    /// Records how the deployment of `endpoint_config` ended. Returns whether anything changed: the same outcome
    /// delivered twice changes nothing the second time.
    ///
    /// # Errors
    ///
    /// [`VersionError::NotDeploying`] when that configuration is not deploying and did not just end that way.
    pub fn record_outcome(
        &mut self,
        endpoint_config: &str,
        at: DateTime<Utc>,
        outcome: Outcome,
    ) -> Result<bool, VersionError> {
        let Some(i) = self
            .deployments
            .iter()
            .rposition(|d| d.status == DeploymentStatus::Deploying && d.endpoint_config == endpoint_config)
        else {
            let last = self
                .deployments
                .iter()
                .rev()
                .find(|d| d.endpoint_config == endpoint_config);
            let repeated = matches!(
                (&outcome, last.map(|d| d.status)),
                (Outcome::Served, Some(DeploymentStatus::Serving))
                    | (Outcome::Failed { .. }, Some(DeploymentStatus::Failed))
            );
            return if repeated {
                Ok(false)
            } else {
                Err(VersionError::NotDeploying {
                    endpoint: self.endpoint.clone(),
                    endpoint_config: endpoint_config.to_owned(),
                })
            };
        };
        match outcome {
            Outcome::Served => {
                for d in &mut self.deployments {
                    if d.status == DeploymentStatus::Serving {
                        d.status = DeploymentStatus::Superseded;
                        d.served_until = Some(at);
                    }
                }
                let d = &mut self.deployments[i];
                d.status = DeploymentStatus::Serving;
                d.served_from = Some(at);
            }
            Outcome::Failed { why } => {
                let d = &mut self.deployments[i];
                d.status = DeploymentStatus::Failed;
                d.failure = Some(why);
            }
        }
        Ok(true)
    }

    /// The deployment to roll back to: with `to`, the newest deployment of that version that served; without,
    /// the deployment that served most recently before the current one, of another version. Never a deployment
    /// that did not serve, nor the configuration serving now. A deployment in progress does not change the answer
    /// (the target is judged from what served).
    ///
    /// # Errors
    ///
    /// A [`RollbackError`] saying why there is no target.
    pub fn previous_version(&self, to: Option<&str>) -> Result<&DeploymentRecord, RollbackError> {
        let endpoint = || self.endpoint.clone();
        let current = self
            .serving()
            .ok_or_else(|| RollbackError::NothingServing(endpoint()))?;
        let served = |d: &&DeploymentRecord| d.served_from.is_some() && d.endpoint_config != current.endpoint_config;
        match to {
            None => latest_served(
                self.deployments
                    .iter()
                    .filter(served)
                    .filter(|d| d.version != current.version),
            )
            .ok_or_else(|| RollbackError::NoPreviousVersion(endpoint())),
            Some(v) => {
                if current.version == v {
                    return Err(RollbackError::AlreadyServing {
                        endpoint: endpoint(),
                        version: v.to_owned(),
                    });
                }
                if !self.deployments.iter().any(|d| d.version == v) {
                    return Err(RollbackError::UnknownVersion {
                        endpoint: endpoint(),
                        version: v.to_owned(),
                    });
                }
                latest_served(self.deployments.iter().filter(served).filter(|d| d.version == v)).ok_or_else(|| {
                    RollbackError::NeverServed {
                        endpoint: endpoint(),
                        version: v.to_owned(),
                    }
                })
            }
        }
    }

    /// The deployment that rolls back to [`previous_version`](Self::previous_version)`(to)`: its version, model and
    /// configuration, caused by a rollback from the version serving.
    ///
    /// # Errors
    ///
    /// A [`RollbackError`] saying why there is no target.
    pub fn rollback(
        &self,
        to: Option<&str>,
        at: DateTime<Utc>,
        requested_by: &str,
    ) -> Result<Deployment, RollbackError> {
        let target = self.previous_version(to)?;
        let from_version = self.serving().map(|d| d.version.clone()).unwrap_or_default();
        Ok(Deployment {
            version: target.version.clone(),
            model_name: target.model_name.clone(),
            endpoint_config: target.endpoint_config.clone(),
            at,
            cause: ChangeCause::Rollback {
                from_version,
                requested_by: requested_by.to_owned(),
            },
        })
    }

    /// The history as `modelwatch history` prints it: a summary line, then one row per deployment, newest first.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self.serving() {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "endpoint {}: serving version {} ({}) since {}; {} deployment(s)",
                    self.endpoint,
                    s.version,
                    s.endpoint_config,
                    s.served_from.map(time_text).unwrap_or_else(|| "-".to_owned()),
                    self.deployments.len()
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "endpoint {}: no version serving; {} deployment(s)",
                    self.endpoint,
                    self.deployments.len()
                );
            }
        }
        if self.deployments.is_empty() {
            return out;
        }
        let header = [
            "version",
            "endpoint config",
            "status",
            "served from",
            "served until",
            "why",
        ];
        let rows: Vec<[String; 6]> = self
            .deployments
            .iter()
            .rev()
            .map(|d| {
                let why = match &d.cause {
                    ChangeCause::Initial => "initial".to_owned(),
                    ChangeCause::Retrained { training_job, trigger } => {
                        format!("retrained by {training_job} (trigger: {trigger})")
                    }
                    ChangeCause::Rollback {
                        from_version,
                        requested_by,
                    } => format!("rollback from {from_version} by {requested_by}"),
                    ChangeCause::Manual { note } => format!("manual: {note}"),
                };
                let why = match &d.failure {
                    Some(f) => format!("{why}; failed: {f}"),
                    None => why,
                };
                let served_until = match (d.status, d.served_until) {
                    (_, Some(t)) => time_text(t),
                    (DeploymentStatus::Serving, None) => "now".to_owned(),
                    _ => "-".to_owned(),
                };
                [
                    d.version.clone(),
                    d.endpoint_config.clone(),
                    d.status.as_str().to_owned(),
                    d.served_from.map(time_text).unwrap_or_else(|| "-".to_owned()),
                    served_until,
                    why,
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut line = |cells: [&str; 6]| {
            let mut l = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    l.push_str(cell);
                } else {
                    let pad = w - cell.chars().count();
                    let _ = write!(l, "{cell}{}  ", " ".repeat(pad));
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(header);
        for r in &rows {
            line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn dep(version: &str, h: i64, cause: ChangeCause) -> Deployment {
        Deployment {
            version: version.to_owned(),
            model_name: format!("churn-model-{version}"),
            endpoint_config: format!("churn-cfg-{version}"),
            at: t(h),
            cause,
        }
    }

    fn retrained(job: &str) -> ChangeCause {
        ChangeCause::Retrained {
            training_job: job.to_owned(),
            trigger: "drift_share".to_owned(),
        }
    }

    /// v1 served from 0 to 10, v2 failed at 5, v3 served from 10.
    fn history() -> VersionHistory {
        let mut h = VersionHistory::new("churn-prod");
        h.record_deployment(dep("1", 0, ChangeCause::Initial)).unwrap();
        h.record_outcome("churn-cfg-1", t(0), Outcome::Served).unwrap();
        h.record_deployment(dep("2", 4, retrained("job-2"))).unwrap();
        h.record_outcome(
            "churn-cfg-2",
            t(5),
            Outcome::Failed {
                why: "alarm churn-errors in ALARM".to_owned(),
            },
        )
        .unwrap();
        h.record_deployment(dep("3", 9, retrained("job-3"))).unwrap();
        h.record_outcome("churn-cfg-3", t(10), Outcome::Served).unwrap();
        h
    }

    #[test]
    fn served_and_superseded_times_are_recorded() {
        let h = history();
        let s = h.serving().unwrap();
        assert_eq!((s.version.as_str(), s.served_from), ("3", Some(t(10))));
        let v1 = &h.deployments[0];
        assert_eq!(
            (v1.status, v1.served_until),
            (DeploymentStatus::Superseded, Some(t(10)))
        );
        assert_eq!(h.deployments[1].status, DeploymentStatus::Failed);
        assert_eq!(h.deployments[1].served_from, None);
    }

    #[test]
    fn rollback_skips_versions_that_never_served() {
        let h = history();
        // v2 failed: the previous version is v1.
        assert_eq!(h.previous_version(None).unwrap().version, "1");
        assert_eq!(
            h.previous_version(Some("2")),
            Err(RollbackError::NeverServed {
                endpoint: "churn-prod".to_owned(),
                version: "2".to_owned()
            })
        );
        assert!(matches!(
            h.previous_version(Some("3")),
            Err(RollbackError::AlreadyServing { .. })
        ));
        assert!(matches!(
            h.previous_version(Some("9")),
            Err(RollbackError::UnknownVersion { .. })
        ));
        let d = h.rollback(None, t(20), "cli").unwrap();
        assert_eq!((d.version.as_str(), d.endpoint_config.as_str()), ("1", "churn-cfg-1"));
        assert_eq!(
            d.cause,
            ChangeCause::Rollback {
                from_version: "3".to_owned(),
                requested_by: "cli".to_owned()
            }
        );
    }

    #[test]
    fn after_a_rollback_the_previous_version_is_the_one_rolled_back_from() {
        let mut h = history();
        let d = h.rollback(None, t(20), "cli").unwrap();
        h.record_deployment(d).unwrap();
        h.record_outcome("churn-cfg-1", t(21), Outcome::Served).unwrap();
        assert_eq!(h.serving().unwrap().version, "1");
        assert_eq!(h.previous_version(None).unwrap().version, "3");
        assert_eq!(h.deployments.len(), 4);
    }

    #[test]
    fn one_deployment_at_a_time_and_repeated_outcomes() {
        let mut h = history();
        h.record_deployment(dep("4", 30, retrained("job-4"))).unwrap();
        assert!(matches!(
            h.record_deployment(dep("5", 31, retrained("job-5"))),
            Err(VersionError::DeploymentInProgress { .. })
        ));
        // The target is still judged from what served.
        assert_eq!(h.previous_version(None).unwrap().version, "1");
        assert_eq!(h.record_outcome("churn-cfg-4", t(32), Outcome::Served), Ok(true));
        assert_eq!(h.record_outcome("churn-cfg-4", t(33), Outcome::Served), Ok(false));
        assert_eq!(
            h.serving().unwrap().served_from,
            Some(t(32)),
            "a repeat does not move the time"
        );
        assert!(matches!(
            h.record_outcome("churn-cfg-1", t(34), Outcome::Served),
            Err(VersionError::NotDeploying { .. })
        ));
        assert_eq!(
            h.record_deployment(Deployment {
                version: " ".to_owned(),
                ..dep("6", 40, ChangeCause::Initial)
            }),
            Err(VersionError::Empty("version"))
        );
    }

    #[test]
    fn nothing_to_roll_back_to() {
        let mut h = VersionHistory::new("e");
        assert_eq!(
            h.previous_version(None),
            Err(RollbackError::NothingServing("e".to_owned()))
        );
        h.record_deployment(dep("1", 0, ChangeCause::Initial)).unwrap();
        assert_eq!(
            h.previous_version(None),
            Err(RollbackError::NothingServing("e".to_owned()))
        );
        h.record_outcome("churn-cfg-1", t(0), Outcome::Served).unwrap();
        assert_eq!(
            h.previous_version(None),
            Err(RollbackError::NoPreviousVersion("e".to_owned()))
        );
    }

    #[test]
    fn json_round_trip_and_rendering() {
        let h = history();
        let back = VersionHistory::from_json(&h.to_json()).unwrap();
        assert_eq!(back, h);
        assert!(VersionHistory::from_json(r#"{"endpoint":"e","deployment":[]}"#).is_err());
        let text = h.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "endpoint churn-prod: serving version 3 (churn-cfg-3) since 2026-11-01T10:00:00Z; 3 deployment(s)"
        );
        assert!(
            lines[1].starts_with("version  endpoint config  status      served from"),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("3        churn-cfg-3      serving     2026-11-01T10:00:00Z  now"));
        assert!(lines[3].contains("failed") && lines[3].ends_with("failed: alarm churn-errors in ALARM"));
        assert!(
            lines[4].contains("2026-11-01T00:00:00Z  2026-11-01T10:00:00Z  initial"),
            "{}",
            lines[4]
        );
        assert_eq!(lines.len(), 5);
    }

    /// A random sequence of deployments, each served or failed, with rollbacks in between.
    #[derive(Debug, Clone)]
    enum Step {
        Deploy { version: u8, served: bool },
        Rollback { to: Option<u8> },
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(
            prop_oneof![
                3 => (0u8..6, prop::bool::weighted(0.7)).prop_map(|(version, served)| Step::Deploy { version, served }),
                1 => proptest::option::of(0u8..6).prop_map(|to| Step::Rollback { to }),
            ],
            1..40,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Whatever happened, a rollback target served before, is not what serves now, and is the latest
        /// deployment of its version that served; a version without a served deployment is never a target.
        #[test]
        fn rollback_targets_always_served(steps in steps()) {
            let mut h = VersionHistory::new("e");
            let mut served_configs: Vec<String> = Vec::new();
            for (i, s) in steps.iter().enumerate() {
                let at = t(i as i64);
                match s {
                    Step::Deploy { version, served } => {
                        let v = version.to_string();
                        // Each deployment of a retrained model gets a fresh configuration.
                        let cfg = format!("cfg-{v}-{i}");
                        h.record_deployment(Deployment {
                            version: v.clone(),
                            model_name: format!("m-{v}"),
                            endpoint_config: cfg.clone(),
                            at,
                            cause: retrained("j"),
                        }).unwrap();
                        let outcome = if *served { Outcome::Served } else { Outcome::Failed { why: "x".to_owned() } };
                        h.record_outcome(&cfg, at, outcome).unwrap();
                        if *served {
                            served_configs.push(cfg);
                        }
                    }
                    Step::Rollback { to } => {
                        let to = to.map(|v| v.to_string());
                        match h.rollback(to.as_deref(), at, "test") {
                            Ok(d) => {
                                prop_assert!(served_configs.contains(&d.endpoint_config), "{d:?} never served");
                                let current = h.serving().unwrap();
                                prop_assert_ne!(&d.endpoint_config, &current.endpoint_config);
                                if let Some(v) = &to {
                                    prop_assert_eq!(&d.version, v);
                                } else {
                                    prop_assert_ne!(&d.version, &current.version);
                                }
                                let cfg = d.endpoint_config.clone();
                                h.record_deployment(d).unwrap();
                                h.record_outcome(&cfg, at, Outcome::Served).unwrap();
                            }
                            Err(RollbackError::NeverServed { version, .. }) => {
                                prop_assert!(
                                    !h.deployments.iter().any(|d| d.version == version && d.served_from.is_some()),
                                    "{version} did serve"
                                );
                            }
                            Err(RollbackError::NoPreviousVersion(_)) => {
                                let current = h.serving().unwrap();
                                prop_assert!(
                                    !h.deployments
                                        .iter()
                                        .any(|d| d.served_from.is_some() && d.version != current.version),
                                    "another version served"
                                );
                            }
                            Err(_) => {}
                        }
                    }
                }
                // Exactly one serving record once anything served.
                let serving = h.deployments.iter().filter(|d| d.status == DeploymentStatus::Serving).count();
                prop_assert_eq!(serving, usize::from(!served_configs.is_empty()));
            }
        }
    }
}
