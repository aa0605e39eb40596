//! The streaming reader of SageMaker Data Capture files.
//!
//! One pass over any byte stream, memory independent of the number of records: each line is parsed in place
//! (strings borrowed from the line buffer where they need no unescaping), decoded into typed rows in reused
//! buffers, and handed to a [`CaptureSink`]. Bad input never stops the run: a bad line (record), row or value is
//! skipped and counted by reason in a [`SkipReport`], which counts the three apart, with the first few locations
//! (source and line, never the payload).
//!
//! # Format
//!
//! JSON Lines, one capture record a line (`eventVersion` "0"):
//!
//! ```json
//! {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",  "data": "1,2", "encoding": "CSV"},
//!                  "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.3", "encoding": "CSV"}},
//!  "eventMetadata": {"eventId": "...", "inferenceId": "...", "inferenceTime": "2024-01-19T19:27:57Z", "customAttributes": [..]},
//!  "eventVersion": "0"}
//! ```
//!
//! `encoding` is `CSV`, `JSON` or `BASE64`; a BASE64 body is CSV or JSON according to `observedContentType`
//! (`json` anywhere in it means JSON; parameters such as `; charset=utf-8` are ignored). Either side may be absent
//! (input-only or output-only capture). Bodies are decoded by [`crate::payload`]. Files ending in `.gz` are
//! gzip-compressed (see [`open_decompressed`]). A UTF-8 byte order mark at the start of a file or of a body is not
//! content. A file that fails part-way (a gzip file cut short) keeps what was read before the failure: its rows were
//! handed on, and [`CaptureError::read_before`] counts them.
//!
//! # Layout
//!
//! - `types`: the row and schema types (a leaf: it imports neither the reader nor the profiles).
//! - `reader`: the streaming reader, its configuration and errors, and the file helpers (gzip, capture file names).
//! - `number`: Model Monitor's classification of values as integral, fractional or text ([`classify`]).
//! - The skip report is the crate's one [`crate::skip::SkipReport`], re-exported here.

mod number;
mod reader;
mod types;

pub use number::classify;
pub use reader::{
    CaptureError, CaptureReader, DEFAULT_MAX_LINE_BYTES, ReaderConfig, ReaderCounts, is_capture_file,
    open_decompressed, records_read,
};
pub use types::{CaptureRow, CaptureSink, EventMeta, FeatureSpec, FileSummary, InferredType, Schema, Value};

pub(crate) use reader::without_bom;

pub use crate::skip::{DEFAULT_MAX_LOCATIONS, Location, SkipReason, SkipReport, SkipUnit};

#[cfg(test)]
mod tests;
