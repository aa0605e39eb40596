//! What invoked the function, classified from the raw event.
//!
//! - An EventBridge schedule (`detail-type` "Scheduled Event"): evaluate the closed hours that are due.
//! - An S3 event notification (`Records[].s3`), or S3's EventBridge event (`detail-type` "Object Created"): fold
//!   each new capture object into the profile of its hour.
//! - A manual request `{"window": {"start": .., "end": ..}}`: evaluate the hours of that window (backfill).
//! - SageMaker's "SageMaker Transform Job State Change" (EventBridge): a completed Batch Transform job's data
//!   capture, evaluated as one window.
//! - A step of a distributed run, from the stack's state machine: `{"distributed": {"step": "plan" | "read" |
//!   "reduce", "run_id", "endpoint", "variant", ...}}` ([`DistributedStep`]).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use chrono::{DateTime, Utc};
use modelwatch_core::distributed::Item;
use modelwatch_core::window::{Window, parse_time};
use serde::Deserialize;

/// A classified invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// Evaluate the windows due at `time`.
    Schedule { time: Option<DateTime<Utc>> },
    /// Fold these objects `(bucket, key)` into their hours.
    Objects(Vec<(String, String)>),
    /// Evaluate every hour of this window.
    Backfill(Window),
    /// A Batch Transform job changed state: its name, its status, and its `DataCaptureConfig.DestinationS3Uri`
    /// when it captured data.
    TransformJob {
        name: String,
        status: String,
        destination: Option<String>,
    },
    /// A step of a distributed run of one endpoint variant (the state machine's execution name is its `run_id`).
    Distributed {
        run_id: String,
        endpoint: String,
        variant: String,
        step: DistributedStep,
    },
}

/// A step of a distributed run ([`modelwatch_core::distributed`]).
#[derive(Debug, Clone, PartialEq)]
pub enum DistributedStep {
    /// Plan the batches of every hour of `window` (at most `max_batch_bytes` each, default
    /// [`modelwatch_core::distributed::DEFAULT_BATCH_BYTES`]).
    Plan {
        window: Window,
        max_batch_bytes: Option<u64>,
    },
    /// Read one planned batch into its partial.
    Read(Item),
    /// Reduce the planned windows from `next`, in order, while time allows.
    Reduce { next: usize },
}

#[derive(Deserialize)]
struct DistributedRequest {
    distributed: DistributedFields,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DistributedFields {
    step: String,
    run_id: String,
    endpoint: String,
    variant: String,
    window: Option<ManualWindow>,
    max_batch_bytes: Option<u64>,
    item: Option<Item>,
    next: Option<usize>,
}

/// `detail` of "SageMaker Transform Job State Change": the job's description, as DescribeTransformJob gives it.
#[derive(Deserialize)]
struct TransformJobDetail {
    #[serde(rename = "TransformJobName")]
    name: String,
    #[serde(rename = "TransformJobStatus")]
    status: String,
    #[serde(rename = "DataCaptureConfig")]
    capture: Option<TransformCapture>,
}

#[derive(Deserialize)]
struct TransformCapture {
    #[serde(rename = "DestinationS3Uri")]
    destination: String,
}

/// The detail-type of SageMaker's transform-job events.
pub const TRANSFORM_JOB_STATE_CHANGE: &str = "SageMaker Transform Job State Change";

/// An event the function does not handle.
#[derive(Debug, thiserror::Error)]
#[error("unrecognised event: {0}")]
pub struct EventError(String);

#[derive(Deserialize)]
struct ManualRequest {
    window: ManualWindow,
}

#[derive(Deserialize)]
struct ManualWindow {
    start: String,
    end: String,
}

#[derive(Deserialize)]
struct ObjectCreatedDetail {
    bucket: Named,
    object: Keyed,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Keyed {
    key: String,
}

/// Classifies `event`.
///
/// # Errors
///
/// An [`EventError`] saying what is wrong with an event of none of the handled shapes.
pub fn classify(event: serde_json::Value) -> Result<Invocation, EventError> {
    let bad = |e: serde_json::Error| EventError(e.to_string());
    if event.get("Records").is_some() {
        let s3: S3Event = serde_json::from_value(event).map_err(bad)?;
        let objects = s3
            .records
            .into_iter()
            .filter(|r| r.event_name.as_deref().is_none_or(|n| n.starts_with("ObjectCreated")))
            .filter_map(|r| Some((r.s3.bucket.name?, url_decode(&r.s3.object.key?))))
            .collect();
        return Ok(Invocation::Objects(objects));
    }
    if event.get("detail-type").is_some() {
        let eb: EventBridgeEvent = serde_json::from_value(event).map_err(bad)?;
        return match eb.detail_type.as_str() {
            "Object Created" => {
                let d: ObjectCreatedDetail = serde_json::from_value(eb.detail).map_err(bad)?;
                // EventBridge's S3 events carry the key as written, not URL-encoded.
                Ok(Invocation::Objects(vec![(d.bucket.name, d.object.key)]))
            }
            TRANSFORM_JOB_STATE_CHANGE => {
                let d: TransformJobDetail = serde_json::from_value(eb.detail).map_err(bad)?;
                Ok(Invocation::TransformJob {
                    name: d.name,
                    status: d.status,
                    destination: d.capture.map(|c| c.destination),
                })
            }
            _ => Ok(Invocation::Schedule { time: eb.time }),
        };
    }
    if event.get("window").is_some() {
        let m: ManualRequest = serde_json::from_value(event).map_err(bad)?;
        return window_of(&m.window).map(Invocation::Backfill);
    }
    if event.get("distributed").is_some() {
        let d = serde_json::from_value::<DistributedRequest>(event)
            .map_err(bad)?
            .distributed;
        let missing = |field: &str| EventError(format!("a distributed \"{}\" step needs \"{field}\"", d.step));
        let step = match d.step.as_str() {
            "plan" => DistributedStep::Plan {
                window: window_of(d.window.as_ref().ok_or_else(|| missing("window"))?)?,
                max_batch_bytes: d.max_batch_bytes,
            },
            "read" => DistributedStep::Read(d.item.ok_or_else(|| missing("item"))?),
            "reduce" => DistributedStep::Reduce {
                next: d.next.unwrap_or(0),
            },
            other => {
                return Err(EventError(format!(
                    "unknown distributed step {other:?}: plan, read or reduce"
                )));
            }
        };
        return Ok(Invocation::Distributed {
            run_id: d.run_id,
            endpoint: d.endpoint,
            variant: d.variant,
            step,
        });
    }
    Err(EventError(
        "expected an EventBridge event, an S3 notification (Records), {\"window\": {\"start\", \"end\"}} or \
         {\"distributed\": {\"step\", ...}}"
            .into(),
    ))
}

/// A window from its written start and end.
fn window_of(w: &ManualWindow) -> Result<Window, EventError> {
    let time = |t: &str| parse_time(t).map_err(|e| EventError(e.to_string()));
    let (start, end) = (time(&w.start)?, time(&w.end)?);
    Window::new(start, end).ok_or_else(|| EventError(format!("window end {end} is not after its start {start}")))
}

/// S3 notifications URL-encode object keys (`+` for a space, `%XX` for other bytes); this undoes it. Invalid
/// escapes are kept as they are.
pub fn url_decode(key: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(u8::try_from(hi * 16 + lo).expect("two hex digits"));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_keys_as_s3_encodes_them() {
        assert_eq!(url_decode("a/b+c%3Ad%2Fe.jsonl"), "a/b c:d/e.jsonl");
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("x%zz%C3%A9"), "x%zzé");
    }

    #[test]
    fn classifies_schedules_notifications_and_backfills() {
        let schedule = serde_json::json!({
            "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2024-05-01T14:07:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/hourly"], "detail": {}
        });
        let Invocation::Schedule { time } = classify(schedule).unwrap() else {
            panic!()
        };
        assert_eq!(time.unwrap().to_rfc3339(), "2024-05-01T14:07:00+00:00");
        let notification = serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2024-05-01T13:05:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "x"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                   "bucket": {"name": "bucket", "ownerIdentity": {"principalId": "x"}, "arn": "arn:aws:s3:::bucket"},
                   "object": {"key": "dc/ep/AllTraffic/2024/05/01/13/05-00-000-a+b.jsonl", "size": 10,
                              "eTag": "e", "sequencer": "0"}}
        }]});
        assert_eq!(
            classify(notification).unwrap(),
            Invocation::Objects(vec![(
                "bucket".into(),
                "dc/ep/AllTraffic/2024/05/01/13/05-00-000-a b.jsonl".into()
            )])
        );
        let created = serde_json::json!({
            "version": "0", "id": "2", "detail-type": "Object Created", "source": "aws.s3",
            "time": "2024-05-01T13:05:00Z", "detail": {"bucket": {"name": "bucket"}, "object": {"key": "k/x.jsonl"}}
        });
        assert_eq!(
            classify(created).unwrap(),
            Invocation::Objects(vec![("bucket".into(), "k/x.jsonl".into())])
        );
        let manual = serde_json::json!({"window": {"start": "2024-05-01T10", "end": "2024-05-01T12"}});
        let Invocation::Backfill(w) = classify(manual).unwrap() else {
            panic!()
        };
        assert_eq!(w.hours().len(), 2);
        let backwards = serde_json::json!({"window": {"start": "2024-05-01T12", "end": "2024-05-01T10"}});
        assert!(classify(backwards).unwrap_err().to_string().contains("not after"));
        assert!(classify(serde_json::json!({"hello": 1})).is_err());
    }

    #[test]
    fn classifies_the_steps_of_a_distributed_run() {
        let step = |fields: serde_json::Value| {
            let mut d = serde_json::json!({"run_id": "r1", "endpoint": "ep", "variant": "AllTraffic"});
            d.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
            classify(serde_json::json!({ "distributed": d }))
        };
        let plan =
            step(serde_json::json!({"step": "plan", "window": {"start": "2024-05-01T10", "end": "2024-05-01T12"}}));
        let Invocation::Distributed {
            run_id,
            endpoint,
            variant,
            step: DistributedStep::Plan {
                window,
                max_batch_bytes,
            },
        } = plan.unwrap()
        else {
            panic!("a plan")
        };
        assert_eq!(
            (run_id.as_str(), endpoint.as_str(), variant.as_str()),
            ("r1", "ep", "AllTraffic")
        );
        assert_eq!((window.hourly().len(), max_batch_bytes), (2, None));
        let read = step(serde_json::json!({"step": "read", "item": {"window": 3, "batch": 1}})).unwrap();
        assert!(matches!(
            read,
            Invocation::Distributed {
                step: DistributedStep::Read(Item { window: 3, batch: 1 }),
                ..
            }
        ));
        let reduce = step(serde_json::json!({"step": "reduce", "next": 7})).unwrap();
        assert!(matches!(
            reduce,
            Invocation::Distributed {
                step: DistributedStep::Reduce { next: 7 },
                ..
            }
        ));
        let no_item = step(serde_json::json!({"step": "read"})).unwrap_err().to_string();
        assert!(no_item.contains("needs \"item\""), "{no_item}");
        assert!(
            step(serde_json::json!({"step": "merge"}))
                .unwrap_err()
                .to_string()
                .contains("unknown")
        );
        assert!(
            step(serde_json::json!({"step": "plan", "windw": {}})).is_err(),
            "unknown fields are refused"
        );
    }

    /// SageMaker's event carries the job's description (DescribeTransformJob's fields), `DataCaptureConfig` when the
    /// job captured data.
    #[test]
    fn classifies_a_transform_jobs_state_change() {
        let event = |detail: serde_json::Value| {
            serde_json::json!({
                "version": "0", "id": "3", "detail-type": "SageMaker Transform Job State Change",
                "source": "aws.sagemaker", "account": "123456789012", "time": "2026-11-26T14:02:00Z",
                "region": "us-east-1", "resources": ["arn:aws:sagemaker:us-east-1:123456789012:transform-job/score-1"],
                "detail": detail
            })
        };
        let completed = event(serde_json::json!({
            "TransformJobName": "score-1", "TransformJobStatus": "Completed", "ModelName": "m",
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://in/batch/"}}},
            "DataCaptureConfig": {"DestinationS3Uri": "s3://cap/jobs/score-1", "GenerateInferenceId": true}
        }));
        assert_eq!(
            classify(completed).unwrap(),
            Invocation::TransformJob {
                name: "score-1".into(),
                status: "Completed".into(),
                destination: Some("s3://cap/jobs/score-1".into()),
            }
        );
        let without = event(serde_json::json!({"TransformJobName": "j", "TransformJobStatus": "Failed"}));
        assert_eq!(
            classify(without).unwrap(),
            Invocation::TransformJob {
                name: "j".into(),
                status: "Failed".into(),
                destination: None,
            }
        );
        assert!(classify(event(serde_json::json!({"TransformJobStatus": "Completed"}))).is_err());
    }
}
