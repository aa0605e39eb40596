//! One invocation: for each configured variant, the policy read from S3 and the core's controller run on a
//! blocking thread with the SageMaker, CloudWatch, Application Auto Scaling and S3 adapters; each decision
//! logged as one structured event with its reasons.

use chrono::{DateTime, Utc};
use modelwatch_aws::autoscaling::ApplicationAutoScaling;
use modelwatch_aws::cloudwatch::CloudWatchSink;
use modelwatch_aws::endpoint_metrics::CloudWatchEndpointMetrics;
use modelwatch_aws::s3::{S3StateStore, get_bytes};
use modelwatch_aws::sagemaker::SageMakerEndpoints;
use modelwatch_core::scaling::Policy;
use modelwatch_core::scaling::controller::{ControllerPorts, Outcome, RunReport, chain, run_variant};
use serde::Serialize;
use tokio::runtime::Handle;

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
    #[error("{endpoint}/{variant}: {message}")]
    Target {
        endpoint: String,
        variant: String,
        message: String,
    },
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
    /// action failed (the others still run).
    pub async fn handle(&self, event: serde_json::Value, now: DateTime<Utc>) -> Result<Response, HandlerError> {
        classify(event)?;
        let mut response = Response::default();
        let mut first_error = None;
        for ev in &self.config.endpoints {
            let failure = match self.run(ev, now).await {
                Ok(report) => {
                    log(&report, self.config.options.dry_run);
                    let failed = match &report.outcome {
                        Outcome::Failed { error, .. } => Some(error.clone()),
                        _ => None,
                    };
                    response.runs.push(report);
                    failed
                }
                Err(message) => {
                    tracing::error!(endpoint = %ev.endpoint, variant = %ev.variant, error = %message, "Scaling run failed.");
                    Some(message)
                }
            };
            if let Some(message) = failure {
                first_error.get_or_insert(HandlerError::Target {
                    endpoint: ev.endpoint.clone(),
                    variant: ev.variant.clone(),
                    message,
                });
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(response),
        }
    }

    /// Reads and validates the policy of `ev`.
    ///
    /// # Errors
    ///
    /// A message naming the policy object when it is missing, invalid, or written for another variant.
    pub async fn read_policy(&self, ev: &EndpointVariant) -> Result<Policy, String> {
        let (bucket, key) = self.config.policy_of(ev);
        let uri = format!("s3://{bucket}/{key}");
        let (bytes, _) = get_bytes(&self.clients.s3, &bucket, &key)
            .await
            .map_err(|e| chain(&e))?
            .ok_or_else(|| format!("policy {uri} does not exist"))?;
        let text = String::from_utf8(bytes).map_err(|e| format!("policy {uri}: {e}"))?;
        let policy = Policy::from_json(&text).map_err(|e| format!("policy {uri}: {}", chain(&e)))?;
        if policy.endpoint != ev.endpoint || policy.variant != ev.variant {
            return Err(format!(
                "policy {uri} is for {}/{}, not {}/{}",
                policy.endpoint, policy.variant, ev.endpoint, ev.variant
            ));
        }
        Ok(policy)
    }

    /// One controller run for `ev`.
    async fn run(&self, ev: &EndpointVariant, now: DateTime<Utc>) -> Result<RunReport, String> {
        let policy = self.read_policy(ev).await?;
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
            run_variant(&ports, &policy, &options, now).map_err(|e| chain(&e))
        })
        .await
        .map_err(|e| format!("the run panicked: {e}"))?
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use chrono::TimeZone;
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
