//! What invoked the function: the one-minute EventBridge schedule, or a manual invocation with `{}`.
//!
//! Every invocation runs every configured variant once; the time of the run is the invocation's, not the
//! event's, because the decision reads the metrics up to now.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;

/// A classified invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// The EventBridge schedule fired (`detail-type` "Scheduled Event").
    Schedule,
    /// Invoked by hand with an empty object.
    Manual,
}

/// An event the function does not handle.
#[derive(Debug, thiserror::Error)]
#[error("unrecognised event: {0}")]
pub struct EventError(String);

/// Classifies `event`.
///
/// # Errors
///
/// An [`EventError`] for anything but a scheduled EventBridge event or `{}`.
pub fn classify(event: serde_json::Value) -> Result<Invocation, EventError> {
    if event.as_object().is_some_and(serde_json::Map::is_empty) {
        return Ok(Invocation::Manual);
    }
    if event.get("detail-type").is_some() {
        let eb: EventBridgeEvent = serde_json::from_value(event).map_err(|e| EventError(e.to_string()))?;
        return match eb.detail_type.as_str() {
            "Scheduled Event" => Ok(Invocation::Schedule),
            other => Err(EventError(format!(
                "EventBridge detail-type {other:?} is not a schedule"
            ))),
        };
    }
    Err(EventError(
        "expected the EventBridge schedule's event or {} (the function scales every configured variant)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_schedules_and_manual_runs() {
        let schedule = serde_json::json!({
            "version": "0", "id": "53dc4d37", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2024-05-01T12:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/scale-every-minute"], "detail": {}
        });
        assert_eq!(classify(schedule).unwrap(), Invocation::Schedule);
        assert_eq!(classify(serde_json::json!({})).unwrap(), Invocation::Manual);
        let created = serde_json::json!({"version": "0", "id": "x", "detail-type": "Object Created",
            "source": "aws.s3", "time": "2024-05-01T12:00:00Z", "detail": {}});
        assert!(classify(created).unwrap_err().to_string().contains("Object Created"));
        assert!(classify(serde_json::json!({"Records": []})).is_err());
    }
}
