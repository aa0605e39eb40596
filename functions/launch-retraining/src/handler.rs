//! One invocation: the event classified, and for each endpoint ([`modelwatch_aws::lambda::for_each_target`])
//! its retraining file read from S3 and the core's step (`modelwatch_core::retrain::lifecycle`) run on a
//! blocking thread with the SageMaker and S3 adapters; each result logged as one structured event.

use chrono::{DateTime, Utc};
use modelwatch_aws::lambda::{Classify, Panicked, for_each_target};
use modelwatch_aws::retrain::SageMakerRetrain;
use modelwatch_aws::s3::{LocationError, S3LabelledData, S3StateStore, get_bytes};
use modelwatch_aws::sagemaker::SageMakerEndpoints;
use modelwatch_core::memory::MemoryState;
use modelwatch_core::ports::{PortError, error_chain};
use modelwatch_core::retrain::lifecycle::{
    self, DeployOutcome, Ended, LabelledDataPort, LaunchOutcome, LaunchReport, RetrainPorts, RollbackReport,
    TrainingReport,
};
use modelwatch_core::retrain::settings::RetrainSettings;
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::event::{Invocation, classify};
use crate::events::BaselineEvents;

/// The SDK clients, built once per process.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
}

impl Clients {
    /// Clients from the environment's SDK configuration.
    pub async fn from_env() -> Self {
        let sdk = modelwatch_aws::config::load().await;
        Self {
            s3: modelwatch_aws::config::s3_client(&sdk),
            sagemaker: aws_sdk_sagemaker::Client::new(&sdk),
            eventbridge: aws_sdk_eventbridge::Client::new(&sdk),
        }
    }
}

/// What one endpoint's step did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum StepReport {
    Check(LaunchReport),
    Training {
        endpoint: String,
        report: TrainingReport,
    },
    Deploy {
        endpoint: String,
        outcome: DeployOutcome,
    },
    Reconcile {
        endpoint: String,
        /// The deployment that ended, and how (`None`: nothing ended).
        ended: Option<Ended>,
        /// The `suggest-baseline` request sent for the version that began serving.
        baseline_requested: Option<serde_json::Value>,
        /// An approved version that waited for the endpoint, and what became of it now.
        #[serde(skip_serializing_if = "Option::is_none")]
        pending: Option<DeployOutcome>,
    },
    Rollback(RollbackReport),
    History {
        endpoint: String,
        history: modelwatch_core::retrain::VersionHistory,
        rendered: String,
    },
}

/// What an invocation did.
#[derive(Debug, Default, Serialize)]
pub struct Response {
    pub steps: Vec<StepReport>,
    /// Endpoints named by the event that this function does not manage.
    pub skipped: Vec<String>,
}

/// Why an invocation failed; the endpoints that ran kept their results.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] crate::event::EventError),
    #[error("{endpoint}: reading the retraining file")]
    ReadSettings {
        endpoint: String,
        #[source]
        source: Box<PortError>,
    },
    #[error("{endpoint}: retraining file {uri} does not exist")]
    NoSettings { endpoint: String, uri: String },
    #[error("{endpoint}: retraining file {uri} is invalid")]
    InvalidSettings {
        endpoint: String,
        uri: String,
        /// Not UTF-8, or a [`modelwatch_core::retrain::settings::SettingsError`].
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{endpoint}: retraining file {uri} is for endpoint {other}")]
    OtherEndpoint {
        endpoint: String,
        uri: String,
        other: String,
    },
    #[error("{endpoint}: the retraining file's training.captured.s3_uri")]
    CapturedUri {
        endpoint: String,
        #[source]
        source: LocationError,
    },
    #[error("{endpoint}: {step}")]
    Step {
        endpoint: String,
        /// What was being done, e.g. `following training job churn-1`.
        step: String,
        #[source]
        source: Box<lifecycle::LifecycleError>,
    },
    #[error(transparent)]
    Panicked(#[from] Panicked),
}

/// An unrecognised event, a missing or invalid retraining file, and a refused step (no such version to roll back
/// to, a deployment in progress) are bad input; a failing port, contention on the state or a panic is
/// retryable.
impl Classify for HandlerError {
    fn retryable(&self) -> bool {
        match self {
            Self::Event(_)
            | Self::NoSettings { .. }
            | Self::InvalidSettings { .. }
            | Self::OtherEndpoint { .. }
            | Self::CapturedUri { .. } => false,
            Self::ReadSettings { source, .. } => source.retryable(),
            Self::Step { source, .. } => source.retryable(),
            Self::Panicked(e) => e.retryable(),
        }
    }
}

/// The function: configuration and clients.
pub struct App {
    pub config: Config,
    pub clients: Clients,
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("unserialisable: {e}"))
}

/// One structured event per step.
fn log(step: &StepReport) {
    let text = json(step);
    match step {
        StepReport::Check(r) => {
            let (reasons, outcome) = (json(&r.decision.reasons()), json(&r.outcome));
            let decision = if r.decision.is_launch() { "launch" } else { "hold" };
            macro_rules! event {
                ($level:ident) => {
                    tracing::$level!(endpoint = %r.endpoint, model = %r.model, windows = r.windows,
                        unreadable_windows = %json(&r.unreadable_windows), decision, reasons = %reasons,
                        outcome = %outcome, refresh_error = r.refresh_error.as_deref(),
                        "Retraining decision made.")
                };
            }
            if matches!(r.outcome, LaunchOutcome::Failed { .. }) {
                event!(error)
            } else {
                event!(info)
            }
        }
        StepReport::Deploy {
            outcome: DeployOutcome::Failed { .. },
            ..
        } => tracing::error!(step = %text, "Deployment failed."),
        StepReport::Deploy {
            outcome: DeployOutcome::Refused { .. },
            ..
        } => tracing::error!(step = %text, "Deployment refused: the version cannot be served as it is."),
        _ => tracing::info!(step = %text, "Retraining step done."),
    }
}

impl App {
    /// Handles one event at `now`.
    ///
    /// # Errors
    ///
    /// A [`HandlerError`] for an unrecognised event, or for the first endpoint whose step failed (the others
    /// still run, and every failure is logged).
    pub async fn handle(&self, event: serde_json::Value, now: DateTime<Utc>) -> Result<Response, HandlerError> {
        let invocation = classify(event)?;
        let mut response = Response::default();
        let configured = |e: &String| self.config.endpoints.contains(e);
        let (endpoints, action): (Vec<String>, Action) = match invocation {
            Invocation::Check { endpoints, trigger } => {
                let named = endpoints.unwrap_or_else(|| self.config.endpoints.clone());
                response.skipped = named.iter().filter(|e| !configured(e)).cloned().collect();
                tracing::info!(trigger = %trigger, endpoints = %json(&named), "Checking retraining policies.");
                (named.into_iter().filter(configured).collect(), Action::Check)
            }
            Invocation::TrainingJob { job_name } => (self.config.endpoints.clone(), Action::Training(job_name)),
            Invocation::ModelPackage { arn } => (self.config.endpoints.clone(), Action::Deploy(arn)),
            Invocation::Endpoint { endpoint } => self.one(endpoint, Action::Reconcile, &mut response),
            Invocation::Rollback {
                endpoint,
                to,
                requested_by,
            } => self.one(endpoint, Action::Rollback { to, requested_by }, &mut response),
            Invocation::History { endpoint } => self.one(endpoint, Action::History, &mut response),
        };
        let runs = for_each_target(endpoints, |endpoint| self.run(endpoint, &action, now)).await;
        response.steps = runs.into_result()?.into_iter().filter_map(|(_, step)| step).collect();
        Ok(response)
    }

    fn one(&self, endpoint: String, action: Action, response: &mut Response) -> (Vec<String>, Action) {
        if self.config.endpoints.contains(&endpoint) {
            (vec![endpoint], action)
        } else {
            response.skipped.push(endpoint);
            (Vec::new(), action)
        }
    }

    /// Reads and validates the retraining file of `endpoint`.
    ///
    /// # Errors
    ///
    /// A [`HandlerError`] naming the file when it cannot be read, is missing, invalid, or written for another
    /// endpoint.
    pub async fn read_settings(&self, endpoint: &str) -> Result<RetrainSettings, HandlerError> {
        let location = self.config.settings_of(endpoint);
        let uri = location.to_string();
        let owned = endpoint.to_owned();
        let (bytes, _) = match get_bytes(&self.clients.s3, &location.bucket, &location.prefix).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(HandlerError::NoSettings { endpoint: owned, uri }),
            Err(e) => {
                return Err(HandlerError::ReadSettings {
                    endpoint: owned,
                    source: Box::new(e),
                });
            }
        };
        let settings = String::from_utf8(bytes)
            .map_err(Box::from)
            .and_then(|text| RetrainSettings::from_json(&text).map_err(Box::from));
        let settings = match settings {
            Ok(s) => s,
            Err(source) => {
                return Err(HandlerError::InvalidSettings {
                    endpoint: owned,
                    uri,
                    source,
                });
            }
        };
        if settings.endpoint != endpoint {
            return Err(HandlerError::OtherEndpoint {
                endpoint: owned,
                uri,
                other: settings.endpoint,
            });
        }
        Ok(settings)
    }

    /// One step for one endpoint, its retraining file read first, spawned on a blocking thread. The step logs
    /// its result.
    async fn run(
        &self,
        endpoint: String,
        action: &Action,
        now: DateTime<Utc>,
    ) -> Result<JoinHandle<Result<Option<StepReport>, HandlerError>>, HandlerError> {
        let settings = match action {
            // Rollback and history need no retraining file: they work on the version history alone.
            Action::Rollback { .. } | Action::History => None,
            // Following a deployment needs none either; the file only adds the new version's baseline request.
            Action::Reconcile => match self.read_settings(&endpoint).await {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(
                        endpoint = %endpoint,
                        error = %error_chain(&e),
                        "No retraining file: no baseline will be requested."
                    );
                    None
                }
            },
            _ => Some(self.read_settings(&endpoint).await?),
        };
        let variant = settings
            .as_ref()
            .map_or("AllTraffic", |s| s.variant.as_str())
            .to_owned();
        let handle = Handle::current();
        let clients = self.clients.clone();
        let config = self.config.clone();
        let action = action.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let state = S3StateStore::new(clients.s3.clone(), handle.clone(), config.state.clone());
            let reports = S3StateStore::new(clients.s3.clone(), handle.clone(), config.reports.clone());
            let no_baseline = MemoryState::default();
            let baseline_location = config.baseline_of(&endpoint, &variant);
            let baseline_name = baseline_location
                .as_ref()
                .map_or_else(|| "(no BASELINE_S3_URI)".to_owned(), ToString::to_string);
            let baseline = baseline_location.map(|b| S3StateStore::new(clients.s3.clone(), handle.clone(), b));
            let labelled = match settings.as_ref().and_then(|s| s.training.captured.as_ref()) {
                Some(c) => Some(S3LabelledData::new(
                    clients.s3.clone(),
                    handle.clone(),
                    c.s3_uri.parse().map_err(|source| HandlerError::CapturedUri {
                        endpoint: endpoint.clone(),
                        source,
                    })?,
                )),
                None => None,
            };
            let events = BaselineEvents::new(clients.eventbridge, handle.clone(), config.event_bus.clone());
            let endpoints = SageMakerEndpoints::new(clients.sagemaker.clone(), handle.clone());
            let sagemaker = SageMakerRetrain::new(clients.sagemaker, handle);
            let ports = RetrainPorts {
                state: &state,
                reports: &reports,
                baseline: match &baseline {
                    Some(b) => b,
                    None => &no_baseline,
                },
                baseline_name: &baseline_name,
                training: &sagemaker,
                registry: &sagemaker,
                endpoints: &endpoints,
                models: &sagemaker,
                labelled: labelled.as_ref().map(|l| l as &dyn LabelledDataPort),
            };
            let ctx = config.context(&endpoint, &variant);
            let doing = action.describe();
            let failed = |source: lifecycle::LifecycleError| HandlerError::Step {
                endpoint: endpoint.clone(),
                step: doing.clone(),
                source: Box::new(source),
            };
            let step = match (&action, &settings) {
                (Action::Check, Some(s)) => Some(StepReport::Check(
                    lifecycle::check_and_launch(&ports, s, &ctx, now).map_err(failed)?,
                )),
                (Action::Training(job), Some(s)) => {
                    match lifecycle::on_training_job(&ports, s, &ctx, job, now).map_err(failed)? {
                        TrainingReport::NotOurs { .. } => None,
                        report => Some(StepReport::Training { endpoint, report }),
                    }
                }
                (Action::Deploy(arn), Some(s)) => {
                    let mut outcome = lifecycle::deploy_package(&ports, s, &ctx, arn, now).map_err(failed)?;
                    // Put off: the endpoint may have come back in service (and its state change been handled)
                    // between the look and the write of the waiting approval; one more look deploys it then.
                    if matches!(outcome, DeployOutcome::Waiting { .. })
                        && let Some(again) = lifecycle::deploy_pending(&ports, s, &ctx, now).map_err(failed)?
                    {
                        outcome = again;
                    }
                    match outcome {
                        DeployOutcome::Ignored { .. } => None,
                        outcome => Some(StepReport::Deploy { endpoint, outcome }),
                    }
                }
                (Action::Reconcile, settings) => {
                    let mut requested = None;
                    let mut request_baseline = |ended: &Ended| -> Result<(), lifecycle::LifecycleError> {
                        let Some(s) = settings else { return Ok(()) };
                        let history = lifecycle::retrain_history(&state, &s.policy.model)?;
                        let Some(request) = lifecycle::baseline_request(s, ended, &history) else {
                            return Ok(());
                        };
                        events.request_baseline(&endpoint, &request)?;
                        requested = Some(request.to_json());
                        Ok(())
                    };
                    let ended =
                        lifecycle::reconcile_then(&ports, &endpoint, now, &mut request_baseline).map_err(failed)?;
                    // The endpoint changed state: an approval that arrived while it was busy may deploy now.
                    let pending = match settings {
                        Some(s) => lifecycle::deploy_pending(&ports, s, &ctx, now).map_err(failed)?,
                        None => None,
                    };
                    Some(StepReport::Reconcile {
                        endpoint,
                        ended,
                        baseline_requested: requested,
                        pending,
                    })
                }
                (Action::Rollback { to, requested_by }, _) => Some(StepReport::Rollback(
                    lifecycle::rollback(&ports, &endpoint, to.as_deref(), requested_by, now).map_err(failed)?,
                )),
                (Action::History, _) => {
                    let history = lifecycle::version_history(&state, &endpoint).map_err(failed)?;
                    let rendered = history.render();
                    Some(StepReport::History {
                        endpoint,
                        history,
                        rendered,
                    })
                }
                (Action::Check | Action::Training(_) | Action::Deploy(_), None) => {
                    unreachable!("the settings are read for these actions")
                }
            };
            if let Some(step) = &step {
                log(step);
            }
            Ok(step)
        }))
    }
}

/// What to do for each endpoint.
#[derive(Debug, Clone)]
enum Action {
    Check,
    Training(String),
    Deploy(String),
    Reconcile,
    Rollback { to: Option<String>, requested_by: String },
    History,
}

impl Action {
    /// What the step does, for its error.
    fn describe(&self) -> String {
        match self {
            Self::Check => "checking the retraining policy".to_owned(),
            Self::Training(job) => format!("following training job {job}"),
            Self::Deploy(arn) => format!("deploying model package {arn}"),
            Self::Reconcile => "following the deployment in progress".to_owned(),
            Self::Rollback { to: Some(v), .. } => format!("rolling back to version {v}"),
            Self::Rollback { to: None, .. } => "rolling back".to_owned(),
            Self::History => "reading the version history".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use modelwatch_aws::lambda::{BAD_INPUT, RETRYABLE, diagnostic};
    use modelwatch_core::ports::PortErrorKind;
    use modelwatch_core::retrain::versions::RollbackError;
    use modelwatch_core::retrain::{Reason, RetrainDecision};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The JSON events `log` writes for `step`.
    fn events(step: &StepReport) -> Vec<serde_json::Value> {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .without_time()
            .finish();
        tracing::subscriber::with_default(subscriber, || log(step));
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    fn check(outcome: LaunchOutcome) -> StepReport {
        StepReport::Check(LaunchReport {
            endpoint: "churn-prod".into(),
            model: "churn".into(),
            windows: 2,
            unreadable_windows: vec![],
            decision: RetrainDecision::Hold {
                reasons: vec![Reason::NoSignals],
            },
            outcome,
            refreshed: None,
            refresh_error: None,
        })
    }

    #[test]
    fn an_unrecognised_event_or_a_refused_rollback_is_bad_input() {
        let event = HandlerError::from(classify(serde_json::json!({"action": "delete", "endpoint": "e"})).unwrap_err());
        let d = diagnostic(&event);
        assert_eq!(d.error_type, BAD_INPUT);
        assert!(
            d.error_message.starts_with("unrecognised event: "),
            "{}",
            d.error_message
        );
        assert!(d.error_message.contains("delete"), "{}", d.error_message);
        let rollback = HandlerError::Step {
            endpoint: "churn-prod".into(),
            step: Action::Rollback {
                to: Some("7".into()),
                requested_by: "lambda".into(),
            }
            .describe(),
            source: Box::new(lifecycle::LifecycleError::Rollback(RollbackError::UnknownVersion {
                endpoint: "churn-prod".into(),
                version: "7".into(),
            })),
        };
        let d = diagnostic(&rollback);
        assert_eq!(d.error_type, BAD_INPUT);
        assert_eq!(
            d.error_message,
            "churn-prod: rolling back to version 7: endpoint churn-prod: version 7 is not in the history"
        );
    }

    #[test]
    fn a_failed_call_is_retryable_with_its_cause_chain() {
        let error = HandlerError::Step {
            endpoint: "churn-prod".into(),
            step: Action::Training("churn-1".into()).describe(),
            source: Box::new(lifecycle::LifecycleError::Port(PortError::new(
                "describing training job",
                "churn-1",
                PortErrorKind::Other,
                "ThrottlingException: Rate exceeded",
            ))),
        };
        let d = diagnostic(&error);
        assert_eq!(d.error_type, RETRYABLE);
        assert_eq!(
            d.error_message,
            "churn-prod: following training job churn-1: describing training job churn-1: \
             ThrottlingException: Rate exceeded"
        );
    }

    #[test]
    fn each_decision_is_one_json_event_with_its_reasons() {
        let held = events(&check(LaunchOutcome::Held));
        assert_eq!(held.len(), 1);
        let fields = &held[0]["fields"];
        assert_eq!(held[0]["level"], "INFO");
        assert_eq!(fields["message"], "Retraining decision made.");
        assert_eq!(
            (fields["endpoint"].as_str(), fields["decision"].as_str()),
            (Some("churn-prod"), Some("hold"))
        );
        let reasons: serde_json::Value = serde_json::from_str(fields["reasons"].as_str().unwrap()).unwrap();
        assert_eq!(reasons[0]["reason"], "no_signals");
        let outcome: serde_json::Value = serde_json::from_str(fields["outcome"].as_str().unwrap()).unwrap();
        assert_eq!(outcome["kind"], "held");

        let failed = events(&check(LaunchOutcome::Failed {
            job_name: "churn-1".into(),
            error: "ResourceLimitExceeded".into(),
        }));
        assert_eq!(failed[0]["level"], "ERROR");
        assert_eq!(failed[0]["fields"]["message"], "Retraining decision made.");
        assert!(
            failed[0]["fields"]["outcome"]
                .as_str()
                .unwrap()
                .contains("ResourceLimitExceeded")
        );
    }
}
