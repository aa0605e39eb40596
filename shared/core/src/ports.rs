//! The traits the adapters implement: one per capability, so each function is handed only what it needs.
//!
//! The core is synchronous and runtime-free; an asynchronous adapter (S3, CloudWatch) bridges at its edge. The
//! local (filesystem) adapters live in the CLI; the AWS ones in `modelwatch-aws`.

use std::io::Read;

use chrono::{DateTime, Utc};

use crate::metrics::MetricDatum;
use crate::window::Window;

/// What went wrong in an adapter, with the resource named and the cause kept.
#[derive(Debug, thiserror::Error)]
#[error("{operation} {resource}")]
pub struct PortError {
    pub operation: &'static str,
    /// The resource, e.g. `s3://bucket/key` or a file path.
    pub resource: String,
    pub kind: PortErrorKind,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The cases a caller branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortErrorKind {
    /// The resource does not exist (any more).
    NotFound,
    /// A conditional write lost: someone else wrote first.
    Conflict,
    /// Anything else.
    Other,
}

impl PortError {
    /// An error of `kind` on `resource`, with its cause.
    pub fn new(
        operation: &'static str,
        resource: impl Into<String>,
        kind: PortErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            operation,
            resource: resource.into(),
            kind,
            source: Some(source.into()),
        }
    }
}

/// An error with its causes, on one line (`outer: cause: root cause`), for reports and log events.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// One capture file or object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureObject {
    /// The key or path.
    pub name: String,
    pub size: Option<u64>,
    /// The hour folder it sits in.
    pub hour: Option<DateTime<Utc>>,
}

/// Where captures are read from.
pub trait CaptureSource {
    /// The capture objects of the window's hours (all of them without a window), in name order.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the prefix that could not be listed.
    fn list(&self, window: Option<&Window>) -> Result<Vec<CaptureObject>, PortError>;

    /// The raw bytes of one object (still compressed when its name ends in `.gz`).
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the object; [`PortErrorKind::NotFound`] when it vanished since the listing.
    fn open(&self, object: &CaptureObject) -> Result<Box<dyn Read + Send + '_>, PortError>;
}

/// Where reports are written.
pub trait ReportStore {
    /// Writes `body` under `name` (relative to the store's root), replacing what was there.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the destination.
    fn put(&self, name: &str, body: &[u8]) -> Result<(), PortError>;
}

/// Where metrics are published.
pub trait MetricSink {
    /// Publishes the data.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the namespace of the batch that failed.
    fn publish(&self, data: &[MetricDatum]) -> Result<(), PortError>;
}

/// A version tag of a stored state object (an S3 ETag, a file's content hash).
pub type StateVersion = String;

/// Small JSON state objects, written with compare-and-set so that two overlapping runs cannot both commit.
pub trait StateStore {
    /// The object and its version, or `None` when absent.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the key.
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, StateVersion)>, PortError>;

    /// Writes `body` if the object is still at `expected` (`None`: only if it does not exist yet).
    ///
    /// # Errors
    ///
    /// [`PortErrorKind::Conflict`] when another writer got there first; other [`PortError`]s name the key.
    fn put_if(&self, key: &str, body: &[u8], expected: Option<&StateVersion>) -> Result<StateVersion, PortError>;
}
