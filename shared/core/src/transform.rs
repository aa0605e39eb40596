//! SageMaker Batch Transform's data capture, read as a window of captures.
//!
//! # Layout (AWS's "Capture data from batch transform job")
//!
//! A transform job created with a `DataCaptureConfig` writes, under its `DestinationS3Uri`, two folders of
//! manifests, each in a `yyyy/mm/dd/hh/` folder of the hour the data were captured:
//!
//! ```text
//! {DestinationS3Uri}/input/2026/11/26/13/<name>     [{"prefix": "s3://in-bucket/batch/"}, "day-1.csv", "day-2.csv"]
//! {DestinationS3Uri}/output/2026/11/26/13/<name>    [{"prefix": "s3://out-bucket/scored/"}, "day-1.csv.out", ...]
//! ```
//!
//! A manifest lists the job's own input and output objects (not copies), in `ManifestFile` format: a JSON array
//! whose first element names a prefix and whose others are keys below it (one array per line is read too).
//! Batch Transform names each output object after its input with `.out` appended (the input's key below the input
//! prefix is the output's below the output path, and that is how they are paired), and with `SplitType=Line` and
//! `AssembleWith=Line` writes one output line per input line.
//!
//! # As captures
//!
//! [`TransformCapture`] is a [`CaptureSource`]: one capture object per input object, opened as the Data Capture
//! records of its lines, each input line joined with the output line of the same number (CSV, or a JSON object for
//! JSON Lines), so the capture reader, the profiles and every report work unchanged. A record's `eventId` is
//! `<input object>:<line>`, its `inferenceTime` the hour folder of the manifest. An input line without an output
//! line is a record without output; output lines beyond the input's are counted ([`JoinCounts`]), not read as
//! records.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::baseline::Baseline;
use crate::evaluate::{Evaluation, EvaluationConfig, Sources, evaluate_window};
use crate::metric_limits::{Withheld, publishable_at};
use crate::metrics::{MetricDatum, MetricScope};
use crate::ports::{CaptureObject, CaptureSource, MetricSink, PortError, PortErrorKind, StateStore};
use crate::quality::CbpeCalibration;
use crate::window::{Window, hour_of_key};

/// The CloudWatch dimension naming the Batch Transform job of a datum, added to the `Endpoint` and
/// `MonitoringSchedule` dimensions, so that a job's metrics are series of their own.
pub const DIMENSION_TRANSFORM_JOB: &str = "TransformJobName";

/// A job's name as its capture destination says it when nothing else does: the destination's last folder
/// (`s3://bucket/batch-capture/score-1/` is `score-1`), as `TransformCaptureS3Uri`'s `{job}` places it.
pub fn job_of_destination(destination: &str) -> &str {
    destination
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(destination)
}

/// The reports folder of job `job` below an endpoint variant's folder (`{endpoint}/{variant}/`).
pub fn report_folder(endpoint: &str, variant: &str, job: &str) -> String {
    format!("{endpoint}/{variant}/transform/{job}")
}

/// The state key that marks job `job`'s metrics as published, below an endpoint variant's state.
pub fn marker_key(endpoint: &str, variant: &str, job: &str) -> String {
    format!("{endpoint}/{variant}/transform/{job}.json")
}

/// What [`publish_once`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Published {
    /// Data published now (0 when they had been).
    pub published: usize,
    /// Data CloudWatch would refuse (too old or too far ahead), kept out.
    pub withheld: Option<Withheld>,
    /// The marker at `key` said the job's metrics were published already (a repeated or retried event).
    pub already: bool,
}

/// Publishes a job's metrics once per job: not when its marker at `key` exists (an event delivered again:
/// EventBridge delivers at least once), else publishes and then writes the marker, create-only (a run that wrote it
/// first meanwhile is no error). A failure before the marker leaves it absent, so a retry publishes; only two
/// deliveries running at once can both publish.
///
/// # Errors
///
/// A [`PortError`] of the state or the metric sink.
pub fn publish_once(
    state: &dyn StateStore,
    key: &str,
    metrics: &dyn MetricSink,
    data: Vec<MetricDatum>,
    now: chrono::DateTime<Utc>,
) -> Result<Published, PortError> {
    if state.get(key)?.is_some() {
        return Ok(Published {
            published: 0,
            withheld: None,
            already: true,
        });
    }
    let (publishable, withheld) = publishable_at(data, now);
    metrics.publish(&publishable)?;
    let marker = serde_json::json!({"published": publishable.len(), "at": now.to_rfc3339()}).to_string();
    match state.put_if(key, marker.as_bytes(), None) {
        Ok(_) => {}
        Err(e) if e.kind == PortErrorKind::Conflict => {}
        Err(e) => return Err(e),
    }
    Ok(Published {
        published: publishable.len(),
        withheld,
        already: false,
    })
}

/// Evaluates a Batch Transform job's capture as one window against `baseline` (the use case of the CLI's
/// `--transform-capture` and of evaluate-captures on the job's completion): the reports of a window of captures,
/// every metric with the [`DIMENSION_TRANSFORM_JOB`] dimension, and how the job's input and output lines met.
/// Model quality is left out: the job's records have no ids that ground truth could name.
///
/// # Errors
///
/// A [`PortError`] when an object cannot be listed or opened.
pub fn evaluate_job(
    capture: &TransformCapture<'_>,
    job: &str,
    baseline: &Baseline,
    config: &EvaluationConfig,
    estimate: Option<&CbpeCalibration>,
    scope: &MetricScope,
) -> Result<(Evaluation, JoinCounts), PortError> {
    let sources = Sources {
        captures: capture,
        ground_truth: None,
        quality_constraints: None,
        estimate,
        partials: None,
    };
    let config = EvaluationConfig {
        quality: None,
        ..config.clone()
    };
    let mut evaluation = evaluate_window(&sources, None, baseline, &config, scope, &mut |_, _, _| {})?;
    for datum in &mut evaluation.metrics {
        datum
            .dimensions
            .push((DIMENSION_TRANSFORM_JOB.to_owned(), job.to_owned()));
    }
    Ok((evaluation, capture.counts()))
}

/// The suffix Batch Transform gives an input object's output object.
pub const OUTPUT_SUFFIX: &str = ".out";

/// Where objects named by `s3://` URIs are read from (S3 for the function, a local copy for the CLI).
pub trait ObjectStore: Sync {
    /// The URIs of the objects below `prefix` (an `s3://` URI), in name order.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the prefix.
    fn list(&self, prefix: &str) -> Result<Vec<String>, PortError>;

    /// The bytes of the object at `uri`.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the object.
    fn open(&self, uri: &str) -> Result<Box<dyn Read + Send + '_>, PortError>;
}

/// A manifest: the prefix and the keys below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub prefix: String,
    pub keys: Vec<String>,
}

/// Why a job's capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("{uri} is not a manifest (a JSON array of {{\"prefix\": ...}} then keys): {reason}")]
    Manifest { uri: String, reason: String },
    #[error("no manifest under {destination}input/ for the window")]
    NoInput { destination: String },
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Parses a manifest: one JSON array, or one array a line.
///
/// # Errors
///
/// The reason, when the text holds no array of a prefix object followed by strings.
pub fn parse_manifest(text: &str) -> Result<Vec<Manifest>, String> {
    let arrays: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => vec![v],
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?,
    };
    arrays
        .into_iter()
        .map(|array| {
            let items = array.as_array().ok_or("not an array")?;
            let prefix = items
                .first()
                .and_then(|p| p.get("prefix"))
                .and_then(serde_json::Value::as_str)
                .ok_or("the first element is not {\"prefix\": \"s3://...\"}")?;
            let keys = items[1..]
                .iter()
                .map(|k| k.as_str().map(str::to_owned).ok_or("a key that is not a string"))
                .collect::<Result<Vec<_>, _>>()?;
            let prefix = if prefix.ends_with('/') || prefix.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}/")
            };
            Ok(Manifest { prefix, keys })
        })
        .collect::<Result<Vec<_>, &str>>()
        .map_err(str::to_owned)
}

/// How the job's input and output lines met.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct JoinCounts {
    /// Input objects without an output object.
    pub inputs_without_output: u64,
    /// Input lines without an output line (their records have no output).
    pub lines_without_output: u64,
    /// Output lines beyond their input's lines (not read).
    pub extra_output_lines: u64,
}

struct Pair {
    input: String,
    output: Option<String>,
    hour: DateTime<Utc>,
}

/// A Batch Transform job's data capture as a capture source (see the module docs).
pub struct TransformCapture<'s> {
    store: &'s dyn ObjectStore,
    pairs: Vec<Pair>,
    counts: Mutex<JoinCounts>,
}

impl<'s> TransformCapture<'s> {
    /// The capture under `destination` (the job's `DestinationS3Uri`), its manifests of `window`'s hours (all
    /// without a window).
    ///
    /// # Errors
    ///
    /// [`TransformError`] when a manifest cannot be listed, read or parsed, or there is no input manifest.
    pub fn discover(
        store: &'s dyn ObjectStore,
        destination: &str,
        window: Option<&Window>,
    ) -> Result<Self, TransformError> {
        let destination = if destination.ends_with('/') {
            destination.to_owned()
        } else {
            format!("{destination}/")
        };
        let manifests = |folder: &str| -> Result<Vec<(DateTime<Utc>, Manifest)>, TransformError> {
            let mut out = Vec::new();
            for uri in store.list(&format!("{destination}{folder}/"))? {
                let Some(hour) = hour_of_key(&uri) else { continue };
                if window.is_some_and(|w| !w.overlaps_hour(hour)) {
                    continue;
                }
                let mut text = String::new();
                store
                    .open(&uri)?
                    .read_to_string(&mut text)
                    .map_err(|e| PortError::new("reading", uri.clone(), PortErrorKind::Other, e))?;
                let parsed = parse_manifest(&text).map_err(|reason| TransformError::Manifest {
                    uri: uri.clone(),
                    reason,
                })?;
                out.extend(parsed.into_iter().map(|m| (hour, m)));
            }
            Ok(out)
        };
        let inputs = manifests("input")?;
        if inputs.is_empty() {
            return Err(TransformError::NoInput { destination });
        }
        // An output object is its input's key below the input prefix, `.out` appended, below the output prefix.
        let outputs: std::collections::HashMap<String, String> = manifests("output")?
            .iter()
            .flat_map(|(_, m)| m.keys.iter().map(move |k| (k.clone(), format!("{}{k}", m.prefix))))
            .collect();
        let mut counts = JoinCounts::default();
        let mut pairs = Vec::new();
        for (hour, manifest) in &inputs {
            for key in &manifest.keys {
                let input = format!("{}{key}", manifest.prefix);
                let output = outputs.get(&format!("{key}{OUTPUT_SUFFIX}")).cloned();
                counts.inputs_without_output += u64::from(output.is_none());
                pairs.push(Pair {
                    input,
                    output,
                    hour: *hour,
                });
            }
        }
        pairs.sort_by(|a, b| a.input.cmp(&b.input));
        pairs.dedup_by(|a, b| a.input == b.input);
        Ok(Self {
            store,
            pairs,
            counts: Mutex::new(counts),
        })
    }

    /// How input and output lines met, over the objects opened so far.
    pub fn counts(&self) -> JoinCounts {
        *self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl CaptureSource for TransformCapture<'_> {
    fn list(&self, _window: Option<&Window>) -> Result<Vec<CaptureObject>, PortError> {
        Ok(self
            .pairs
            .iter()
            .map(|p| CaptureObject {
                name: p.input.clone(),
                size: None,
                hour: Some(p.hour),
            })
            .collect())
    }

    fn open(&self, object: &CaptureObject) -> Result<Box<dyn Read + Send + '_>, PortError> {
        let pair = self
            .pairs
            .iter()
            .find(|p| p.input == object.name)
            .ok_or_else(|| PortError::new("finding", object.name.clone(), PortErrorKind::NotFound, "not listed"))?;
        let input = self.store.open(&pair.input)?;
        let output = pair.output.as_deref().map(|o| self.store.open(o)).transpose()?;
        Ok(Box::new(Joined {
            input: BufReader::new(input),
            output: output.map(BufReader::new),
            name: pair.input.clone(),
            time: pair.hour.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            line: 0,
            pending: Vec::new(),
            at: 0,
            counts: &self.counts,
            done: false,
        }))
    }
}

/// An input object's lines joined with its output's, as Data Capture records, one line each.
struct Joined<'c> {
    input: BufReader<Box<dyn Read + Send + 'c>>,
    output: Option<BufReader<Box<dyn Read + Send + 'c>>>,
    name: String,
    time: String,
    line: u64,
    pending: Vec<u8>,
    at: usize,
    counts: &'c Mutex<JoinCounts>,
    done: bool,
}

/// A body as Data Capture writes it: JSON for a line that is a JSON object or array, CSV otherwise.
fn body(line: &str, mode: &str) -> serde_json::Value {
    let json = line.starts_with('{') || line.starts_with('[');
    serde_json::json!({
        "observedContentType": if json { "application/jsonlines" } else { "text/csv" },
        "mode": mode,
        "data": line,
        "encoding": if json { "JSON" } else { "CSV" },
    })
}

fn next_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_owned()))
}

impl Joined<'_> {
    fn fill(&mut self) -> io::Result<()> {
        self.pending.clear();
        self.at = 0;
        let Some(input) = next_line(&mut self.input)? else {
            if let Some(out) = self.output.as_mut() {
                let mut extra = 0;
                while next_line(out)?.is_some() {
                    extra += 1;
                }
                self.counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extra_output_lines += extra;
            }
            self.done = true;
            return Ok(());
        };
        self.line += 1;
        let output = match self.output.as_mut() {
            Some(out) => next_line(out)?,
            None => None,
        };
        let mut data = serde_json::json!({ "endpointInput": body(&input, "INPUT") });
        match output {
            Some(o) => data["endpointOutput"] = body(&o, "OUTPUT"),
            None => {
                self.counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .lines_without_output += 1;
            }
        }
        let record = serde_json::json!({
            "captureData": data,
            "eventMetadata": {"eventId": format!("{}:{}", self.name, self.line), "inferenceTime": self.time},
            "eventVersion": "0",
        });
        serde_json::to_writer(&mut self.pending, &record).map_err(io::Error::other)?;
        self.pending.push(b'\n');
        Ok(())
    }
}

impl Read for Joined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.pending.len() {
            if self.done {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Objects in memory, by URI.
    struct Objects(BTreeMap<String, String>);

    impl ObjectStore for Objects {
        fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
            Ok(self.0.keys().filter(|k| k.starts_with(prefix)).cloned().collect())
        }
        fn open(&self, uri: &str) -> Result<Box<dyn Read + Send + '_>, PortError> {
            let text = self
                .0
                .get(uri)
                .ok_or_else(|| PortError::new("reading", uri.to_owned(), PortErrorKind::NotFound, "absent"))?;
            Ok(Box::new(text.as_bytes()))
        }
    }

    fn job() -> Objects {
        Objects(
            [
                (
                    "s3://cap/job/input/2026/11/26/13/m1",
                    "[{\"prefix\":\"s3://in/batch\"},\"a.csv\",\"b.jsonl\",\"c.csv\"]",
                ),
                (
                    "s3://cap/job/output/2026/11/26/13/m1",
                    "[{\"prefix\":\"s3://out/scored/\"},\n\"a.csv.out\",\n\"b.jsonl.out\"\n]",
                ),
                ("s3://in/batch/a.csv", "1,x\n2,y\n3,z\n"),
                ("s3://out/scored/a.csv.out", "0.9\n0.1\n"),
                ("s3://in/batch/b.jsonl", "{\"f\":1}\n"),
                ("s3://out/scored/b.jsonl.out", "{\"score\":0.5}\n{\"score\":0.6}\n"),
                ("s3://in/batch/c.csv", "4,w\n"),
                (
                    "s3://cap/job/input/2026/11/26/13/m2",
                    "[{\"prefix\":\"s3://in/batch/\"},\"d/a.csv\"]",
                ),
                (
                    "s3://cap/job/output/2026/11/26/13/m2",
                    "[{\"prefix\":\"s3://out/scored/\"},\"d/a.csv.out\"]",
                ),
                ("s3://in/batch/d/a.csv", "5,v\n"),
                ("s3://out/scored/d/a.csv.out", "0.3\n"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        )
    }

    #[test]
    fn manifests_are_read_as_aws_writes_them() {
        let one = parse_manifest("[{\"prefix\":\"s3://b/p\"},\"k1\",\"d/k2\"]").unwrap();
        assert_eq!(
            (one[0].prefix.as_str(), one[0].keys.as_slice()),
            ("s3://b/p/", &["k1".to_owned(), "d/k2".to_owned()][..])
        );
        let lines = parse_manifest("[{\"prefix\":\"s3://b/\"},\"k\"]\n[{\"prefix\":\"s3://c/\"}]\n").unwrap();
        assert_eq!(lines.len(), 2);
        for bad in ["{}", "[\"k\"]", "[{\"prefix\":\"s3://b/\"}, 1]", "not json"] {
            assert!(parse_manifest(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn input_lines_join_output_lines_as_capture_records() {
        let store = job();
        let capture = TransformCapture::discover(&store, "s3://cap/job", None).unwrap();
        let objects = capture.list(None).unwrap();
        let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "s3://in/batch/a.csv",
                "s3://in/batch/b.jsonl",
                "s3://in/batch/c.csv",
                "s3://in/batch/d/a.csv"
            ]
        );
        assert_eq!(objects[0].hour, crate::window::parse_time("2026-11-26T13").ok());
        let read = |o: &CaptureObject| {
            let mut text = String::new();
            capture.open(o).unwrap().read_to_string(&mut text).unwrap();
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<serde_json::Value>>()
        };
        let a = read(&objects[0]);
        assert_eq!(a.len(), 3);
        assert_eq!(a[0]["captureData"]["endpointInput"]["data"], "1,x");
        assert_eq!(a[0]["captureData"]["endpointOutput"]["data"], "0.9");
        assert_eq!(a[1]["eventMetadata"]["eventId"], "s3://in/batch/a.csv:2");
        assert_eq!(a[1]["eventMetadata"]["inferenceTime"], "2026-11-26T13:00:00Z");
        assert!(
            a[2]["captureData"].get("endpointOutput").is_none(),
            "the third line has no output"
        );
        let b = read(&objects[1]);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0]["captureData"]["endpointInput"]["encoding"], "JSON");
        assert_eq!(b[0]["captureData"]["endpointOutput"]["data"], "{\"score\":0.5}");
        let c = read(&objects[2]);
        assert!(c[0]["captureData"].get("endpointOutput").is_none());
        // Paired by key, not by file name: d/a.csv has its own output.
        let d = read(&objects[3]);
        assert_eq!(d[0]["captureData"]["endpointOutput"]["data"], "0.3");
        assert_eq!(
            capture.counts(),
            JoinCounts {
                inputs_without_output: 1,
                lines_without_output: 2,
                extra_output_lines: 1,
            }
        );
    }

    #[test]
    fn a_destination_names_its_job() {
        assert_eq!(job_of_destination("s3://b/batch-capture/score-1/"), "score-1");
        assert_eq!(job_of_destination("s3://b/score-2"), "score-2");
    }

    #[test]
    fn a_jobs_metrics_are_published_once() {
        use crate::memory::{MemoryMetrics, MemoryState};
        let (state, metrics) = (MemoryState::default(), MemoryMetrics::default());
        let now = chrono::Utc::now();
        let datum = MetricDatum {
            namespace: "n".into(),
            metric_name: "m".into(),
            dimensions: vec![],
            value: 1.0,
            statistics: None,
            unit: crate::metrics::Unit::None,
            timestamp: now,
        };
        let key = marker_key("ep", "AllTraffic", "score-1");
        let first = publish_once(&state, &key, &metrics, vec![datum.clone()], now).unwrap();
        assert_eq!((first.published, first.already), (1, false));
        let again = publish_once(&state, &key, &metrics, vec![datum], now).unwrap();
        assert_eq!((again.published, again.already), (0, true));
        assert_eq!(metrics.data.lock().unwrap().len(), 1, "published once");
    }

    #[test]
    fn a_window_selects_the_manifests_of_its_hours() {
        let store = job();
        let other = Window::new(
            crate::window::parse_time("2026-11-26T14").unwrap(),
            crate::window::parse_time("2026-11-26T15").unwrap(),
        )
        .unwrap();
        assert!(matches!(
            TransformCapture::discover(&store, "s3://cap/job/", Some(&other)),
            Err(TransformError::NoInput { .. })
        ));
    }
}
