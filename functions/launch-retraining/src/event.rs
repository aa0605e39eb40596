//! What invoked the function, classified from the raw event. Events are only triggers: every handler reads the
//! current state from the API (the policy, the job, the package, the endpoint) before acting, so a repeated,
//! late or out-of-order event is harmless.
//!
//! - An SNS notification (`Records[].Sns`) from the retraining topic, which CloudWatch alarms notify: check the
//!   policy of the endpoint the alarm names (every configured endpoint when it names none).
//! - S3's EventBridge "Object Created" of the evaluator's `last_window.json` (written when a window is committed):
//!   check the policy of that endpoint.
//! - "SageMaker Training Job State Change": follow the job; register its model once it completed.
//! - "SageMaker Model Package State Change": deploy the package when it is approved.
//! - "SageMaker Endpoint State Change": record how a deployment in progress ended.
//! - Manual: `{"action": "check"}`, `{"action": "rollback", "endpoint": .., "to": ..}`,
//!   `{"action": "history", "endpoint": ..}`.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::Deserialize;

/// The object the evaluator writes when it commits a window (`core::monitor::Target::last_window_key`).
pub const COMMITTED_WINDOW_OBJECT: &str = "last_window.json";

/// A classified invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Check the retraining policy of these endpoints (`None`: every configured one).
    Check {
        endpoints: Option<Vec<String>>,
        /// What woke the function, for the log.
        trigger: String,
    },
    /// A training job changed state.
    TrainingJob { job_name: String },
    /// A model package changed state.
    ModelPackage { arn: String },
    /// An endpoint changed state.
    Endpoint { endpoint: String },
    /// Roll an endpoint back.
    Rollback {
        endpoint: String,
        to: Option<String>,
        requested_by: String,
    },
    /// Return an endpoint's version history.
    History { endpoint: String },
}

/// An event the function does not handle.
#[derive(Debug, thiserror::Error)]
#[error("unrecognised event: {0}")]
pub struct EventError(String);

#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum Manual {
    Check {
        #[serde(default)]
        endpoint: Option<String>,
    },
    Rollback {
        endpoint: String,
        #[serde(default)]
        to: Option<String>,
        #[serde(default)]
        requested_by: Option<String>,
    },
    History {
        endpoint: String,
    },
}

fn text(detail: &serde_json::Value, field: &str) -> Result<String, EventError> {
    detail
        .get(field)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| EventError(format!("the event's detail has no {field}")))
}

/// The endpoints an alarm notification names: every `Endpoint` dimension of its trigger (a metric alarm's
/// `Trigger.Dimensions`, or the metrics of a metric-math alarm), in order, without repeats.
pub fn alarm_endpoints(message: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                let name = map.get("name").or_else(|| map.get("Name")).and_then(|n| n.as_str());
                let value = map.get("value").or_else(|| map.get("Value")).and_then(|n| n.as_str());
                if let (Some("Endpoint" | "EndpointName"), Some(value)) = (name, value)
                    && !out.iter().any(|e| e == value)
                {
                    out.push(value.to_owned());
                }
                for child in map.values() {
                    walk(child, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(message, &mut out);
    out
}

/// Classifies `event`.
///
/// # Errors
///
/// An [`EventError`] saying what is wrong with an event of none of the handled shapes.
pub fn classify(event: serde_json::Value) -> Result<Invocation, EventError> {
    let bad = |e: serde_json::Error| EventError(e.to_string());
    if let Some(records) = event.get("Records").and_then(serde_json::Value::as_array) {
        let mut endpoints = Vec::new();
        let mut alarms = Vec::new();
        for r in records {
            let message = r
                .pointer("/Sns/Message")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| EventError("a record is not an SNS notification".into()))?;
            // An alarm's message is JSON; anything else names no endpoint and checks every one.
            let parsed: serde_json::Value = serde_json::from_str(message).unwrap_or(serde_json::Value::Null);
            if let Some(name) = parsed.get("AlarmName").and_then(serde_json::Value::as_str) {
                alarms.push(name.to_owned());
            }
            let named = alarm_endpoints(&parsed);
            if named.is_empty() {
                return Ok(Invocation::Check {
                    endpoints: None,
                    trigger: format!("sns: {}", alarms.join(", ")),
                });
            }
            for e in named {
                if !endpoints.contains(&e) {
                    endpoints.push(e);
                }
            }
        }
        return Ok(Invocation::Check {
            endpoints: Some(endpoints),
            trigger: format!("sns: {}", alarms.join(", ")),
        });
    }
    if event.get("detail-type").is_some() {
        let eb: EventBridgeEvent = serde_json::from_value(event).map_err(bad)?;
        let d = &eb.detail;
        return match eb.detail_type.as_str() {
            "SageMaker Training Job State Change" => Ok(Invocation::TrainingJob {
                job_name: text(d, "TrainingJobName")?,
            }),
            "SageMaker Model Package State Change" => Ok(Invocation::ModelPackage {
                arn: text(d, "ModelPackageArn")?,
            }),
            "SageMaker Endpoint State Change" => Ok(Invocation::Endpoint {
                endpoint: text(d, "EndpointName")?,
            }),
            "Object Created" => {
                let key = d
                    .pointer("/object/key")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| EventError("the Object Created event has no object.key".into()))?;
                // {state prefix}/{endpoint}/{variant}/last_window.json
                let parts: Vec<&str> = key.rsplit('/').collect();
                match parts.as_slice() {
                    [COMMITTED_WINDOW_OBJECT, _variant, endpoint, ..] => Ok(Invocation::Check {
                        endpoints: Some(vec![(*endpoint).to_owned()]),
                        trigger: format!("window committed: {key}"),
                    }),
                    _ => Err(EventError(format!(
                        "object {key} is not an evaluator's {COMMITTED_WINDOW_OBJECT}"
                    ))),
                }
            }
            other => Err(EventError(format!("EventBridge detail-type {other:?} is not handled"))),
        };
    }
    if event.get("action").is_some() {
        return Ok(match serde_json::from_value::<Manual>(event).map_err(bad)? {
            Manual::Check { endpoint } => Invocation::Check {
                endpoints: endpoint.map(|e| vec![e]),
                trigger: "manual".into(),
            },
            Manual::Rollback {
                endpoint,
                to,
                requested_by,
            } => Invocation::Rollback {
                endpoint,
                to,
                requested_by: requested_by.unwrap_or_else(|| "lambda".into()),
            },
            Manual::History { endpoint } => Invocation::History { endpoint },
        });
    }
    Err(EventError(
        "expected an SNS notification, a SageMaker or S3 EventBridge event, or {\"action\": ...}".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eventbridge(detail_type: &str, source: &str, detail: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"version": "0", "id": "1", "detail-type": detail_type, "source": source,
            "account": "123456789012", "time": "2026-11-27T10:00:00Z", "region": "us-east-1",
            "resources": [], "detail": detail})
    }

    #[test]
    fn an_alarm_notification_checks_the_endpoint_it_names() {
        let alarm = serde_json::json!({"AlarmName": "churn-drift", "NewStateValue": "ALARM",
            "Trigger": {"MetricName": "dataset_max_feature_drift", "Namespace": "aws/sagemaker/Endpoints/data-metrics",
                "Dimensions": [{"value": "churn-prod", "name": "Endpoint"},
                               {"value": "churn-prod-hourly", "name": "MonitoringSchedule"}]}});
        let sns = serde_json::json!({"Records": [{"EventSource": "aws:sns",
            "Sns": {"Type": "Notification", "Message": alarm.to_string()}}]});
        assert_eq!(
            classify(sns).unwrap(),
            Invocation::Check {
                endpoints: Some(vec!["churn-prod".into()]),
                trigger: "sns: churn-drift".into()
            }
        );
        let plain = serde_json::json!({"Records": [{"Sns": {"Message": "retrain please"}}]});
        assert!(matches!(
            classify(plain).unwrap(),
            Invocation::Check { endpoints: None, .. }
        ));
        let math = serde_json::json!({"Trigger": {"Metrics": [{"MetricStat": {"Metric": {"Dimensions": [
            {"name": "Endpoint", "value": "a"}, {"name": "Endpoint", "value": "a"}]}}}]}});
        assert_eq!(alarm_endpoints(&math), vec!["a".to_owned()]);
    }

    #[test]
    fn sagemaker_and_s3_events() {
        let job = eventbridge(
            "SageMaker Training Job State Change",
            "aws.sagemaker",
            serde_json::json!({"TrainingJobName": "churn-1", "TrainingJobStatus": "Completed"}),
        );
        assert_eq!(
            classify(job).unwrap(),
            Invocation::TrainingJob {
                job_name: "churn-1".into()
            }
        );
        let package = eventbridge(
            "SageMaker Model Package State Change",
            "aws.sagemaker",
            serde_json::json!({"ModelPackageArn": "arn:p/1", "ModelApprovalStatus": "Approved"}),
        );
        assert_eq!(
            classify(package).unwrap(),
            Invocation::ModelPackage { arn: "arn:p/1".into() }
        );
        let committed = eventbridge(
            "Object Created",
            "aws.s3",
            serde_json::json!({"bucket": {"name": "b"}, "object": {"key": "state/monitor/churn-prod/AllTraffic/last_window.json"}}),
        );
        assert!(matches!(classify(committed).unwrap(),
            Invocation::Check { endpoints: Some(e), .. } if e == vec!["churn-prod".to_owned()]));
        let other = eventbridge(
            "Object Created",
            "aws.s3",
            serde_json::json!({"bucket": {"name": "b"}, "object": {"key": "state/x/windows/2026.json"}}),
        );
        assert!(classify(other).is_err());
        let missing = eventbridge(
            "SageMaker Training Job State Change",
            "aws.sagemaker",
            serde_json::json!({}),
        );
        assert!(classify(missing).unwrap_err().to_string().contains("TrainingJobName"));
    }

    #[test]
    fn manual_actions() {
        assert_eq!(
            classify(serde_json::json!({"action": "rollback", "endpoint": "e", "to": "3"})).unwrap(),
            Invocation::Rollback {
                endpoint: "e".into(),
                to: Some("3".into()),
                requested_by: "lambda".into()
            }
        );
        assert_eq!(
            classify(serde_json::json!({"action": "history", "endpoint": "e"})).unwrap(),
            Invocation::History { endpoint: "e".into() }
        );
        assert!(classify(serde_json::json!({"action": "rollback"})).is_err());
        assert!(classify(serde_json::json!({"action": "delete", "endpoint": "e"})).is_err());
        assert!(classify(serde_json::json!({})).is_err());
    }
}
