//! In-memory adapters of the ports, for tests and dry runs: captures from strings, reports and state in maps,
//! metrics in a list.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Mutex;

use crate::metrics::MetricDatum;
use crate::ports::{
    CaptureObject, CaptureSource, MetricSink, PortError, PortErrorKind, ReportStore, StateStore, StateVersion,
};
use crate::window::{Window, hour_of_key};

/// Capture files held in memory, by path.
#[derive(Debug, Default)]
pub struct MemorySource {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl MemorySource {
    /// A source of `(path, contents)`.
    pub fn new<P: Into<String>, C: Into<Vec<u8>>>(files: impl IntoIterator<Item = (P, C)>) -> Self {
        Self {
            files: files.into_iter().map(|(p, c)| (p.into(), c.into())).collect(),
        }
    }
}

impl CaptureSource for MemorySource {
    fn list(&self, window: Option<&Window>) -> Result<Vec<CaptureObject>, PortError> {
        Ok(self
            .files
            .iter()
            .map(|(name, body)| CaptureObject {
                name: name.clone(),
                size: Some(body.len() as u64),
                hour: hour_of_key(name),
            })
            .filter(|o| match (window, o.hour) {
                (Some(w), Some(h)) => w.overlaps_hour(h),
                (Some(_), None) => false,
                (None, _) => true,
            })
            .collect())
    }

    fn open(&self, object: &CaptureObject) -> Result<Box<dyn Read + Send + '_>, PortError> {
        let body = self
            .files
            .get(&object.name)
            .ok_or_else(|| PortError::new("opening", object.name.clone(), PortErrorKind::NotFound, "no such file"))?;
        Ok(Box::new(body.as_slice()))
    }
}

/// Reports kept in a map, by name.
#[derive(Debug, Default)]
pub struct MemoryReports {
    pub files: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl ReportStore for MemoryReports {
    fn put(&self, name: &str, body: &[u8]) -> Result<(), PortError> {
        self.files.lock().expect("lock").insert(name.to_owned(), body.to_vec());
        Ok(())
    }
}

/// Published data kept in a list.
#[derive(Debug, Default)]
pub struct MemoryMetrics {
    pub data: Mutex<Vec<MetricDatum>>,
}

impl MetricSink for MemoryMetrics {
    fn publish(&self, data: &[MetricDatum]) -> Result<(), PortError> {
        self.data.lock().expect("lock").extend_from_slice(data);
        Ok(())
    }
}

/// State objects in a map, versioned by a write counter, with the compare-and-set of the port.
#[derive(Debug, Default)]
pub struct MemoryState {
    objects: Mutex<BTreeMap<String, (Vec<u8>, u64)>>,
    writes: Mutex<u64>,
}

impl StateStore for MemoryState {
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, StateVersion)>, PortError> {
        Ok(self
            .objects
            .lock()
            .expect("lock")
            .get(key)
            .map(|(body, version)| (body.clone(), version.to_string())))
    }

    fn put_if(&self, key: &str, body: &[u8], expected: Option<&StateVersion>) -> Result<StateVersion, PortError> {
        let mut objects = self.objects.lock().expect("lock");
        let current = objects.get(key).map(|(_, v)| v.to_string());
        if current.as_ref() != expected {
            return Err(PortError::new(
                "writing",
                key,
                PortErrorKind::Conflict,
                "the object changed since it was read",
            ));
        }
        let mut writes = self.writes.lock().expect("lock");
        *writes += 1;
        objects.insert(key.to_owned(), (body.to_vec(), *writes));
        Ok(writes.to_string())
    }
}
