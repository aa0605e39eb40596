//! The events the function sends: a new version's baseline request, for `suggest-baseline` (an EventBridge rule
//! routes it there with `InputPath: $.detail`).

use modelwatch_aws::error::port_error;
use modelwatch_core::ports::{PortError, PortErrorKind};
use modelwatch_core::retrain::lifecycle::LifecycleError;
use modelwatch_core::suggest_request::BaselineRequest;
use tokio::runtime::Handle;

/// The events' `Source`.
pub const SOURCE: &str = "modelwatch.retraining";
/// The baseline request's `DetailType`.
pub const BASELINE_REQUESTED: &str = "Baseline Requested";
/// Largest `PutEvents` entry: "The total entry size must be less than 256KB" (EventBridge API Reference,
/// PutEvents).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// Sends events on one bus, blocking on a runtime handle (call from a blocking thread).
pub struct BaselineEvents {
    client: aws_sdk_eventbridge::Client,
    handle: Handle,
    bus: String,
}

impl BaselineEvents {
    /// Events on `bus` through `client`.
    pub fn new(client: aws_sdk_eventbridge::Client, handle: Handle, bus: String) -> Self {
        Self { client, handle, bus }
    }

    /// Sends `request` as a "Baseline Requested" event about `endpoint`; its detail is the request's JSON, which
    /// `suggest-baseline` reads.
    ///
    /// # Errors
    ///
    /// A [`LifecycleError`] when the event is too large or EventBridge does not take it.
    pub fn request_baseline(&self, endpoint: &str, request: &BaselineRequest) -> Result<(), LifecycleError> {
        let detail = request.to_json().to_string();
        let fail = |message: String| {
            LifecycleError::Port(PortError::new(
                "sending the baseline request of",
                endpoint.to_owned(),
                PortErrorKind::Other,
                message,
            ))
        };
        if detail.len() + SOURCE.len() + BASELINE_REQUESTED.len() >= MAX_ENTRY_BYTES {
            return Err(fail(format!(
                "the request is {} bytes, over PutEvents' 256 KB",
                detail.len()
            )));
        }
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(BASELINE_REQUESTED)
            .detail(detail)
            .event_bus_name(&self.bus)
            .resources(endpoint)
            .build();
        let out = self
            .handle
            .block_on(self.client.put_events().entries(entry).send())
            .map_err(|e| LifecycleError::Port(port_error("sending the baseline request of", endpoint, e)))?;
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(fail(format!("EventBridge refused it: {why}")));
        }
        Ok(())
    }
}
