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

/// An error with its causes, on one line (`outer: cause: root cause`), for reports, log events and the CLI. A
/// cause whose text the line already holds is left out: many errors repeat their source's message in their
/// own (an I/O error wrapped with its path), and a message said twice reads as two failures.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !said.is_empty() && !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    text
}

/// One capture file or object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaptureObject {
    /// The key or path.
    pub name: String,
    pub size: Option<u64>,
    /// The hour folder it sits in; `None` outside the hourly layout.
    pub hour: Option<DateTime<Utc>>,
}

/// Where captures are read from.
pub trait CaptureSource {
    /// The capture objects of the window's hours (all of them without a window), in name order. Objects outside
    /// the hourly layout (`hour: None`) may be listed under a window too: their records are then filtered by time.
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

/// A capture source that lists a window once however often it is asked: routing a window to the distributed
/// evaluation sizes it from a listing, and the evaluation in the invocation then reads that same listing instead
/// of listing the hour's prefix again. Only the last window's listing is kept; objects are opened as the inner
/// source opens them.
pub struct ListedOnce<'a> {
    inner: &'a dyn CaptureSource,
    last: std::sync::Mutex<Option<(Option<Window>, Vec<CaptureObject>)>>,
}

impl<'a> ListedOnce<'a> {
    /// Wraps `inner`.
    pub fn new(inner: &'a dyn CaptureSource) -> Self {
        Self {
            inner,
            last: std::sync::Mutex::new(None),
        }
    }
}

impl CaptureSource for ListedOnce<'_> {
    fn list(&self, window: Option<&Window>) -> Result<Vec<CaptureObject>, PortError> {
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((w, objects)) = last.as_ref()
            && w.as_ref() == window
        {
            return Ok(objects.clone());
        }
        let objects = self.inner.list(window)?;
        *last = Some((window.copied(), objects.clone()));
        Ok(objects)
    }

    fn open(&self, object: &CaptureObject) -> Result<Box<dyn Read + Send + '_>, PortError> {
        self.inner.open(object)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a message and an optional source.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn std::error::Error + 'static))
        }
    }

    /// Counts its listings.
    struct Counting(std::cell::Cell<usize>);

    impl CaptureSource for Counting {
        fn list(&self, window: Option<&Window>) -> Result<Vec<CaptureObject>, PortError> {
            self.0.set(self.0.get() + 1);
            Ok(vec![CaptureObject {
                name: format!("{window:?}"),
                size: Some(1),
                hour: None,
            }])
        }

        fn open(&self, _: &CaptureObject) -> Result<Box<dyn Read + Send + '_>, PortError> {
            Ok(Box::new(std::io::empty()))
        }
    }

    #[test]
    fn a_window_is_listed_once_however_often_it_is_asked() {
        let inner = Counting(std::cell::Cell::new(0));
        let listed = ListedOnce::new(&inner);
        let hour = |h: u32| {
            let start = DateTime::parse_from_rfc3339(&format!("2026-12-01T{h:02}:00:00Z"))
                .unwrap()
                .to_utc();
            Window::new(start, start + chrono::Duration::hours(1)).unwrap()
        };
        let (a, b) = (hour(1), hour(2));
        let first = listed.list(Some(&a)).unwrap();
        assert_eq!(listed.list(Some(&a)).unwrap(), first);
        assert_eq!(inner.0.get(), 1);
        // Another window (or none) is listed anew, and replaces the one kept.
        assert_ne!(listed.list(Some(&b)).unwrap(), first);
        listed.list(None).unwrap();
        listed.list(Some(&a)).unwrap();
        assert_eq!(inner.0.get(), 4);
    }

    #[test]
    fn an_error_chain_says_each_cause_once() {
        let root = Layer("No such file (os error 2)", None);
        let wrapped = Layer(
            "No such file (os error 2): a.csv",
            Some(Box::new(Layer(
                "No such file (os error 2): a.csv",
                Some(Box::new(root)),
            ))),
        );
        let top = Layer("reading a.csv", Some(Box::new(wrapped)));
        assert_eq!(error_chain(&top), "reading a.csv: No such file (os error 2): a.csv");
        let plain = Layer("reading b", Some(Box::new(Layer("access denied", None))));
        assert_eq!(error_chain(&plain), "reading b: access denied");
    }
}
