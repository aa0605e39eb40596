//! One invocation: the data set streamed to temporary storage (polars reads files), profiled by the core, the
//! baseline files written to S3.

use modelwatch_aws::s3::{S3Location, S3ReportStore};
use modelwatch_core::ports::error_chain as chain;
use modelwatch_core::suggest;
use modelwatch_core::suggest_request::{BaselineRequest, BaselineRequestError};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::runtime::Handle;

/// What was written.
#[derive(Debug, Serialize)]
pub struct Response {
    /// `s3://` URIs of the files written.
    pub written: Vec<String>,
    pub features: usize,
    pub item_count: u64,
}

/// Why the baseline could not be suggested.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("the event is not a baseline request: {0}")]
    Request(#[from] BaselineRequestError),
    #[error("{0}")]
    Location(#[from] modelwatch_aws::s3::LocationError),
    #[error("{0} names a folder, not a data set")]
    NotAnObject(String),
    #[error("downloading {uri}: {message}")]
    Download { uri: String, message: String },
    #[error("{0}")]
    Suggest(String),
}

/// Handles one event.
///
/// # Errors
///
/// A [`HandlerError`] saying what is wrong: the event, the data set's location or contents, or S3.
pub async fn handle(s3: &aws_sdk_s3::Client, event: serde_json::Value) -> Result<Response, HandlerError> {
    let request = BaselineRequest::from_json(event)?;
    let dataset: S3Location = request.dataset.parse()?;
    let baseline: S3Location = request.baseline.parse()?;
    let file_name = dataset
        .prefix
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| HandlerError::NotAnObject(request.dataset.clone()))?
        .to_owned();
    // Lambda's /tmp (512 MB by default, configurable up to 10 GB) holds the data set; polars reads files.
    let dir = tempfile::tempdir().map_err(|e| HandlerError::Download {
        uri: request.dataset.clone(),
        message: e.to_string(),
    })?;
    let path = dir.path().join(&file_name);
    download(s3, &dataset, &path)
        .await
        .map_err(|message| HandlerError::Download {
            uri: request.dataset.clone(),
            message,
        })?;
    let store = S3ReportStore::new(s3.clone(), Handle::current(), baseline.clone());
    tokio::task::spawn_blocking(move || {
        let quality = request.quality();
        let suggested = suggest::suggest(&path, &request.options(), quality.as_ref()).map_err(|e| chain(&e))?;
        let names = if request.quality_only {
            let q = suggested
                .quality
                .as_ref()
                .ok_or_else(|| "quality_only needs a problem_type".to_owned())?;
            suggest::write_quality(&store, q)
        } else {
            suggest::write(&store, &suggested)
        }
        .map_err(|e| chain(&e))?;
        tracing::info!(dataset = %request.dataset, baseline = %baseline, files = ?names, "baseline suggested");
        Ok(Response {
            written: names.iter().map(|n| baseline.uri_of(&baseline.key(n))).collect(),
            features: suggested.baseline.statistics.features.len(),
            item_count: suggested.baseline.statistics.dataset.item_count,
        })
    })
    .await
    .map_err(|e| HandlerError::Suggest(format!("the baseline run panicked: {e}")))?
    .map_err(HandlerError::Suggest)
}

/// Streams an object to a file, never holding it whole in memory.
async fn download(s3: &aws_sdk_s3::Client, object: &S3Location, path: &std::path::Path) -> Result<(), String> {
    let output = s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.prefix)
        .send()
        .await
        .map_err(|e| chain(&modelwatch_aws::error::port_error("reading", object.to_string(), e)))?;
    let mut body = output.body.into_async_read();
    let mut file = tokio::fs::File::create(path).await.map_err(|e| e.to_string())?;
    tokio::io::copy(&mut body, &mut file).await.map_err(|e| e.to_string())?;
    file.flush().await.map_err(|e| e.to_string())
}
