//! One invocation: the data set streamed to temporary storage, profiled by the core in one pass of bounded
//! memory, the baseline files written to S3.

use modelwatch_aws::error::port_error;
use modelwatch_aws::lambda::{self, Classify, Panicked};
use modelwatch_aws::s3::{LocationError, S3Location, S3ReportStore};
use modelwatch_core::ports::PortError;
use modelwatch_core::suggest::{self, SuggestError};
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
    #[error("the event is not a baseline request")]
    Request(#[from] BaselineRequestError),
    #[error(transparent)]
    Location(#[from] LocationError),
    #[error("{0} names a folder, not a data set")]
    NotAnObject(String),
    #[error("quality_only needs a problem_type")]
    QualityOnly,
    #[error("downloading the data set")]
    Download(#[source] Box<PortError>),
    #[error("copying {uri} to temporary storage")]
    Transfer {
        uri: String,
        #[source]
        source: std::io::Error,
    },
    #[error("suggesting the baseline of {uri}")]
    Suggest {
        uri: String,
        #[source]
        source: Box<SuggestError>,
    },
    #[error("writing the baseline files")]
    Write(#[source] Box<PortError>),
    #[error(transparent)]
    Panicked(#[from] Panicked),
}

/// A bad event, a missing or unreadable data set or a missing column is bad input; S3 failing, temporary
/// storage failing (unless full) or a panic is retryable.
impl Classify for HandlerError {
    fn retryable(&self) -> bool {
        match self {
            Self::Request(_) | Self::Location(_) | Self::NotAnObject(_) | Self::QualityOnly => false,
            Self::Download(e) | Self::Write(e) => e.retryable(),
            Self::Transfer { source, .. } => source.kind() != std::io::ErrorKind::StorageFull,
            Self::Suggest { source, .. } => match source.as_ref() {
                SuggestError::Dataset(e) => e.is_storage(),
                SuggestError::Missing(_) | SuggestError::Calibration(_) | SuggestError::Empty(_) => false,
            },
            Self::Panicked(e) => e.retryable(),
        }
    }
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
    // Lambda's /tmp (512 MB by default, configurable up to 10 GB: the largest data set a baseline can be made of
    // here) holds the data set: Parquet is read from its footer first, so it needs a file.
    let dir = tempfile::tempdir().map_err(|source| HandlerError::Transfer {
        uri: request.dataset.clone(),
        source,
    })?;
    let path = dir.path().join(&file_name);
    download(s3, &dataset, &path).await?;
    let store = S3ReportStore::new(s3.clone(), Handle::current(), baseline.clone());
    let target = request.dataset.clone();
    lambda::blocking(&target, move || {
        let quality = request.quality();
        let suggested =
            suggest::suggest(&path, &request.options(), quality.as_ref()).map_err(|source| HandlerError::Suggest {
                uri: request.dataset.clone(),
                source: Box::new(source),
            })?;
        let names = if request.quality_only {
            let q = suggested.quality.as_ref().ok_or(HandlerError::QualityOnly)?;
            suggest::write_quality(&store, q)
        } else {
            suggest::write(&store, &suggested)
        }
        .map_err(|e| HandlerError::Write(Box::new(e)))?;
        tracing::info!(dataset = %request.dataset, baseline = %baseline, files = ?names, "Baseline suggested.");
        Ok(Response {
            written: names.iter().map(|n| baseline.uri_of(&baseline.key(n))).collect(),
            features: suggested.baseline.statistics.features.len(),
            item_count: suggested.baseline.statistics.dataset.item_count,
        })
    })
    .await
}

/// Streams an object to a file, never holding it whole in memory.
async fn download(s3: &aws_sdk_s3::Client, object: &S3Location, path: &std::path::Path) -> Result<(), HandlerError> {
    let uri = object.to_string();
    let output = s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.prefix)
        .send()
        .await
        .map_err(|e| HandlerError::Download(Box::new(port_error("reading", uri.clone(), e))))?;
    let transfer = |source| HandlerError::Transfer {
        uri: uri.clone(),
        source,
    };
    let mut body = output.body.into_async_read();
    let mut file = tokio::fs::File::create(path).await.map_err(transfer)?;
    tokio::io::copy(&mut body, &mut file).await.map_err(transfer)?;
    file.flush().await.map_err(transfer)
}

#[cfg(test)]
mod tests {
    use modelwatch_aws::lambda::{BAD_INPUT, RETRYABLE, diagnostic};
    use modelwatch_core::ports::PortErrorKind;

    use super::*;

    #[tokio::test]
    async fn a_bad_request_is_bad_input_naming_what_is_wrong() {
        // The event is read before S3 is called: a client with no credentials or region does.
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::Config::builder().behavior_version_latest().build());
        let typo = serde_json::json!({"dataset": "s3://b/train.csv", "baseline": "s3://b/base", "labels": "y"});
        let d = diagnostic(&handle(&s3, typo).await.unwrap_err());
        assert_eq!(d.error_type, BAD_INPUT);
        assert!(
            d.error_message
                .starts_with("the event is not a baseline request: unknown field `labels`"),
            "{}",
            d.error_message
        );
        let quality = serde_json::json!({"dataset": "s3://b/v.csv", "baseline": "s3://b/base", "quality_only": true});
        let d = diagnostic(&handle(&s3, quality).await.unwrap_err());
        assert_eq!(
            (d.error_type.as_str(), d.error_message.as_str()),
            (
                BAD_INPUT,
                "the event is not a baseline request: quality_only: needs a problem_type"
            )
        );
        let bucket = serde_json::json!({"dataset": "s3://b", "baseline": "s3://b/base"});
        let d = diagnostic(&handle(&s3, bucket).await.unwrap_err());
        assert_eq!(
            (d.error_type.as_str(), d.error_message.as_str()),
            (
                BAD_INPUT,
                "the event is not a baseline request: dataset: must be the s3:// URI of an object (s3://bucket/key)"
            )
        );
    }

    #[test]
    fn a_missing_data_set_is_bad_input_a_failing_s3_is_retryable() {
        let missing = HandlerError::Download(Box::new(PortError::new(
            "reading",
            "s3://b/nope.csv",
            PortErrorKind::NotFound,
            "NoSuchKey: The specified key does not exist.",
        )));
        let d = diagnostic(&missing);
        assert_eq!(d.error_type, BAD_INPUT);
        assert_eq!(
            d.error_message,
            "downloading the data set: reading s3://b/nope.csv: NoSuchKey: The specified key does not exist."
        );
        let throttled = HandlerError::Write(Box::new(PortError::new(
            "writing",
            "s3://b/base/statistics.json",
            PortErrorKind::Other,
            "SlowDown: Please reduce your request rate.",
        )));
        let d = diagnostic(&throttled);
        assert_eq!(d.error_type, RETRYABLE);
        assert!(
            d.error_message
                .ends_with(": SlowDown: Please reduce your request rate.")
        );
    }
}
