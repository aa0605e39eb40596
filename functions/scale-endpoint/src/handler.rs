//! One invocation: for each configured variant ([`modelwatch_aws::lambda::for_each_target`]), the policy read
//! from S3 and the core's controller run on a blocking thread with the SageMaker, CloudWatch, Application Auto
//! Scaling and S3 adapters; each decision logged as one structured event with its reasons.

use chrono::{DateTime, Utc};
use modelwatch_aws::autoscaling::ApplicationAutoScaling;
use modelwatch_aws::cloudwatch::CloudWatchSink;
use modelwatch_aws::endpoint_metrics::CloudWatchEndpointMetrics;
use modelwatch_aws::lambda::{Classify, Panicked, for_each_target};
use modelwatch_aws::s3::{S3StateStore, get_bytes};
use modelwatch_aws::sagemaker::SageMakerEndpoints;
use modelwatch_core::ports::PortError;
use modelwatch_core::scaling::Policy;
use modelwatch_core::scaling::controller::{ControllerError, ControllerPorts, Outcome, RunReport, run_variant};
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::config::{Config, EndpointVariant};
use crate::event::classify;

/// The SDK clients, built once per process.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
}

impl Clients {
    /// Clients from the environment's SDK configuration.
    pub async fn from_env() -> Self {
        let sdk = modelwatch_aws::config::load().await;
        Self {
            s3: modelwatch_aws::config::s3_client(&sdk),
            cloudwatch: modelwatch_aws::config::cloudwatch_client(&sdk),
            sagemaker: aws_sdk_sagemaker::Client::new(&sdk),
            autoscaling: aws_sdk_applicationautoscaling::Client::new(&sdk),
        }
    }
}

/// What an invocation did: one report per variant that ran.
#[derive(Debug, Default, Serialize)]
pub struct Response {
    pub runs: Vec<RunReport>,
}

/// Why an invocation failed; the variants that ran kept their results.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] crate::event::EventError),
    #[error("{endpoint}/{variant}: reading the policy")]
    ReadPolicy {
        endpoint: String,
        variant: String,
        #[source]
        source: Box<PortError>,
    },
    #[error("{endpoint}/{variant}: policy {uri} does not exist")]
    NoPolicy {
        endpoint: String,
        variant: String,
        uri: String,
    },
    #[error("{endpoint}/{variant}: policy {uri} is invalid")]
    InvalidPolicy {
        endpoint: String,
        variant: String,
        uri: String,
        /// Not UTF-8, or a [`modelwatch_core::scaling::PolicyError`].
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{endpoint}/{variant}: policy {uri} is for {policy_endpoint}/{policy_variant}")]
    OtherVariant {
        endpoint: String,
        variant: String,
        uri: String,
        policy_endpoint: String,
        policy_variant: String,
    },
    #[error("{endpoint}/{variant}: the controller could not run")]
    Controller {
        endpoint: String,
        variant: String,
        #[source]
        source: Box<ControllerError>,
    },
    /// The decision's action failed; the core reports why as text (the report's [`Outcome::Failed`]), after
    /// undoing what it could.
    #[error("{endpoint}/{variant}: the scaling action failed: {error}")]
    Action {
        endpoint: String,
        variant: String,
        error: String,
    },
    #[error(transparent)]
    Panicked(#[from] Panicked),
}

/// An unrecognised event, a missing or invalid policy, a variant that cannot be scaled or an invalid state are
/// bad input; a failing port or action, or a panic, is retryable (the next minute's run tries again anyway).
impl Classify for HandlerError {
    fn retryable(&self) -> bool {
        match self {
            Self::Event(_) | Self::NoPolicy { .. } | Self::InvalidPolicy { .. } | Self::OtherVariant { .. } => false,
            Self::ReadPolicy { source, .. } => source.retryable(),
            Self::Controller { source, .. } => source.retryable(),
            Self::Action { .. } => true,
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

/// One structured event per decision, with its reasons and what became of it.
fn log(report: &RunReport, dry_run: bool) {
    let d = &report.decision;
    let outcome = json(&report.outcome);
    let (action, reasons) = (json(&d.action), json(&d.reasons));
    macro_rules! event {
        ($level:ident) => {
            tracing::$level!(
                endpoint = %report.endpoint,
                variant = %report.variant,
                status = %report.status,
                instance_type = %report.instance_type,
                current_count = report.current_count,
                desired_count = report.desired_count,
                rule = %json(&d.rule).trim_matches('"'),
                action = %action,
                reasons = %reasons,
                outcome = %outcome,
                metrics_error = report.metrics_error.as_deref(),
                publish_error = report.publish_error.as_deref(),
                dry_run,
                "Scaling decision made."
            )
        };
    }
    match &report.outcome {
        Outcome::Failed { .. } => event!(error),
        Outcome::Refused { .. } | Outcome::LockLost => event!(warn),
        _ => event!(info),
    }
}

impl App {
    /// Handles one event at `now`: every configured variant is run, one after the other.
    ///
    /// # Errors
    ///
    /// A [`HandlerError`] for an unrecognised event, or for the first variant that could not run or whose
    /// action failed (the others still run, and every failure is logged).
    pub async fn handle(&self, event: serde_json::Value, now: DateTime<Utc>) -> Result<Response, HandlerError> {
        classify(event)?;
        let runs = for_each_target(self.config.endpoints.iter().cloned(), |ev| async move {
            let policy = self.read_policy(&ev).await?;
            Ok(self.run(ev, policy, now))
        })
        .await;
        Ok(Response {
            runs: runs.into_result()?.into_iter().map(|(_, report)| report).collect(),
        })
    }

    /// Reads and validates the policy of `ev`.
    ///
    /// # Errors
    ///
    /// A [`HandlerError`] naming the policy object when it cannot be read, is missing, invalid, or written for
    /// another variant.
    pub async fn read_policy(&self, ev: &EndpointVariant) -> Result<Policy, HandlerError> {
        let (endpoint, variant) = (ev.endpoint.clone(), ev.variant.clone());
        let (bucket, key) = self.config.policy_of(ev);
        let uri = format!("s3://{bucket}/{key}");
        let read = get_bytes(&self.clients.s3, &bucket, &key).await;
        let (bytes, _) = match read {
            Ok(Some(found)) => found,
            Ok(None) => return Err(HandlerError::NoPolicy { endpoint, variant, uri }),
            Err(e) => {
                return Err(HandlerError::ReadPolicy {
                    endpoint,
                    variant,
                    source: Box::new(e),
                });
            }
        };
        let policy = String::from_utf8(bytes)
            .map_err(Box::from)
            .and_then(|text| Policy::from_json(&text).map_err(Box::from));
        let policy = match policy {
            Ok(p) => p,
            Err(source) => {
                return Err(HandlerError::InvalidPolicy {
                    endpoint,
                    variant,
                    uri,
                    source,
                });
            }
        };
        if policy.endpoint != ev.endpoint || policy.variant != ev.variant {
            return Err(HandlerError::OtherVariant {
                endpoint,
                variant,
                uri,
                policy_endpoint: policy.endpoint,
                policy_variant: policy.variant,
            });
        }
        Ok(policy)
    }

    /// One controller run for `ev` by `policy`, on a blocking thread. The run logs the decision, and fails when
    /// the decision's action did.
    fn run(
        &self,
        ev: EndpointVariant,
        policy: Policy,
        now: DateTime<Utc>,
    ) -> JoinHandle<Result<RunReport, HandlerError>> {
        let handle = Handle::current();
        let clients = self.clients.clone();
        let state = self.config.state.clone();
        let options = self.config.options.clone();
        tokio::task::spawn_blocking(move || {
            let endpoints = SageMakerEndpoints::new(clients.sagemaker, handle.clone());
            let metrics = CloudWatchEndpointMetrics::new(clients.cloudwatch.clone(), handle.clone());
            let autoscaling = ApplicationAutoScaling::new(clients.autoscaling, handle.clone());
            let state = S3StateStore::new(clients.s3, handle.clone(), state);
            let sink = CloudWatchSink::new(clients.cloudwatch, handle, None);
            let ports = ControllerPorts {
                endpoints: &endpoints,
                metrics: &metrics,
                autoscaling: &autoscaling,
                state: &state,
                sink: &sink,
            };
            let report = run_variant(&ports, &policy, &options, now).map_err(|source| HandlerError::Controller {
                endpoint: ev.endpoint.clone(),
                variant: ev.variant.clone(),
                source: Box::new(source),
            })?;
            log(&report, options.dry_run);
            match &report.outcome {
                Outcome::Failed { error, .. } => Err(HandlerError::Action {
                    endpoint: ev.endpoint,
                    variant: ev.variant,
                    error: error.clone(),
                }),
                _ => Ok(report),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use chrono::TimeZone;
    use modelwatch_aws::lambda::{BAD_INPUT, RETRYABLE, diagnostic};
    use modelwatch_core::ports::PortErrorKind;
    use modelwatch_core::scaling::{
        History, MetricsFetch, MinuteMetrics, Observed, VariantState, VariantStatus, decide,
    };

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

    #[test]
    fn an_unrecognised_event_or_an_invalid_policy_is_bad_input() {
        let event = HandlerError::from(classify(serde_json::json!({"Records": []})).unwrap_err());
        let d = diagnostic(&event);
        assert_eq!(d.error_type, BAD_INPUT);
        assert!(
            d.error_message
                .starts_with("unrecognised event: expected the EventBridge schedule's event or {}"),
            "{}",
            d.error_message
        );
        let invalid = HandlerError::InvalidPolicy {
            endpoint: "ep".into(),
            variant: "AllTraffic".into(),
            uri: "s3://b/policies/ep/AllTraffic.json".into(),
            source: Box::new(Policy::from_json("{}").unwrap_err()),
        };
        let d = diagnostic(&invalid);
        assert_eq!(d.error_type, BAD_INPUT);
        assert!(
            d.error_message.starts_with(
                "ep/AllTraffic: policy s3://b/policies/ep/AllTraffic.json is invalid: policy JSON is invalid"
            ),
            "{}",
            d.error_message
        );
    }

    #[test]
    fn a_failed_policy_read_or_action_is_retryable_with_its_cause_chain() {
        let read = HandlerError::ReadPolicy {
            endpoint: "ep".into(),
            variant: "AllTraffic".into(),
            source: Box::new(PortError::new(
                "reading",
                "s3://b/policies/ep/AllTraffic.json",
                PortErrorKind::Other,
                "ThrottlingException: Rate exceeded",
            )),
        };
        let d = diagnostic(&read);
        assert_eq!(d.error_type, RETRYABLE);
        assert_eq!(
            d.error_message,
            "ep/AllTraffic: reading the policy: reading s3://b/policies/ep/AllTraffic.json: \
             ThrottlingException: Rate exceeded"
        );
        let action = HandlerError::Action {
            endpoint: "ep".into(),
            variant: "AllTraffic".into(),
            error: "UpdateEndpointWeightsAndCapacities ep: ThrottlingException".into(),
        };
        assert_eq!(diagnostic(&action).error_type, RETRYABLE);
    }

    #[test]
    fn each_decision_is_one_json_event_with_its_reasons() {
        let policy = Policy::from_json(
            r#"{"endpoint":"ep","variant":"AllTraffic","instance_type":"ml.m5.large","min_instances":1,
                "max_instances":4,"target_invocations_per_instance":60,"forecast":{"enabled":false}}"#,
        )
        .unwrap();
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let minutes = (1..=10)
            .rev()
            .map(|m| MinuteMetrics {
                invocations: Some(100.0),
                ..MinuteMetrics::empty(now - chrono::Duration::minutes(m))
            })
            .collect();
        let observed = Observed {
            now,
            metrics: MetricsFetch::Fetched { minutes },
            variant: VariantState {
                instance_type: "ml.m5.large".into(),
                current_count: 1,
                desired_count: 1,
                status: VariantStatus::InService,
            },
        };
        let decision = decide(&observed, &policy, &History::default());
        let report = RunReport {
            endpoint: "ep".into(),
            variant: "AllTraffic".into(),
            status: "InService".into(),
            instance_type: "ml.m5.large".into(),
            current_count: 1,
            desired_count: decision.desired_count,
            outcome: Outcome::Refused {
                why: "Application Auto Scaling controls it".into(),
            },
            decision,
            metrics_error: None,
            publish_error: None,
        };
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .without_time()
            .finish();
        tracing::subscriber::with_default(subscriber, || log(&report, false));
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(event["level"], "WARN");
        let fields = &event["fields"];
        assert_eq!(fields["message"], "Scaling decision made.");
        assert_eq!(
            (fields["endpoint"].as_str(), fields["variant"].as_str()),
            (Some("ep"), Some("AllTraffic"))
        );
        assert_eq!(fields["rule"], "panic");
        let reasons: serde_json::Value = serde_json::from_str(fields["reasons"].as_str().unwrap()).unwrap();
        assert_eq!(reasons[0]["reason"], "panic");
        assert!(reasons.as_array().unwrap().iter().any(|r| r["reason"] == "demand"));
        let outcome: serde_json::Value = serde_json::from_str(fields["outcome"].as_str().unwrap()).unwrap();
        assert_eq!(outcome["kind"], "refused");
        assert_eq!(fields["desired_count"], 2);
    }
}
