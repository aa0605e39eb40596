//! The S3 adapters: where captures are read, reports written and small state objects kept.
//!
//! Keys follow SageMaker's layouts: captures under `{prefix}/{endpoint}/{variant}/yyyy/mm/dd/hh/`, ground truth
//! under `{prefix}/yyyy/mm/dd/hh/`, and reports under `{prefix}/{endpoint}/{variant}/yyyy/mm/dd/hh/` with the
//! same file names the CLI writes.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::str::FromStr;
use std::sync::Mutex;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use modelwatch_core::capture::is_capture_file;
use modelwatch_core::ports::{
    CaptureObject, CaptureSource, PortError, PortErrorKind, ReportStore, StateStore, StateVersion,
};
use modelwatch_core::window::{Window, hour_of_key};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_util::io::SyncIoBridge;

use crate::error::port_error;

/// Objects requested ahead of the one being parsed, so that the next bodies are already on their way.
pub const PREFETCH: usize = 4;

/// An S3 location: a bucket and a key prefix (without leading or trailing slashes; may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
}

/// Not an `s3://bucket/prefix` URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an S3 location: expected s3://bucket or s3://bucket/prefix")]
pub struct LocationError(pub String);

impl FromStr for S3Location {
    type Err = LocationError;

    fn from_str(uri: &str) -> Result<Self, Self::Err> {
        let rest = uri.strip_prefix("s3://").ok_or_else(|| LocationError(uri.to_owned()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(LocationError(uri.to_owned()));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

impl S3Location {
    /// The location `part` below this one.
    pub fn join(&self, part: &str) -> Self {
        Self {
            bucket: self.bucket.clone(),
            prefix: self.key(part.trim_matches('/')),
        }
    }

    /// The key of `name` below this location.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// `s3://bucket/key`.
    pub fn uri_of(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The bucket and key of an `s3://` URI naming an object.
    pub fn split_uri(uri: &str) -> Option<(&str, &str)> {
        uri.strip_prefix("s3://")?.split_once('/')
    }
}

/// Lists the keys under `prefix` (all pages), with their sizes.
///
/// # Errors
///
/// A [`PortError`] naming the prefix.
pub async fn list_keys(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<(String, Option<u64>)>, PortError> {
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| port_error("listing", format!("s3://{bucket}/{prefix}"), e))?;
        for object in page.contents() {
            if let Some(key) = object.key() {
                keys.push((key.to_owned(), object.size().and_then(|s| u64::try_from(s).ok())));
            }
        }
    }
    Ok(keys)
}

/// The whole body and ETag of a small object, or `None` when it does not exist.
///
/// # Errors
///
/// A [`PortError`] naming the object.
pub async fn get_bytes(client: &Client, bucket: &str, key: &str) -> Result<Option<(Vec<u8>, String)>, PortError> {
    let uri = format!("s3://{bucket}/{key}");
    let output = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(o) => o,
        Err(e) => {
            let error = port_error("reading", uri, e);
            return if error.kind == PortErrorKind::NotFound {
                Ok(None)
            } else {
                Err(error)
            };
        }
    };
    let etag = output.e_tag().unwrap_or_default().to_owned();
    let body = output
        .body
        .collect()
        .await
        .map_err(|e| PortError::new("reading", uri, PortErrorKind::Other, e))?;
    Ok(Some((body.to_vec(), etag)))
}

/// Writes a small object.
///
/// # Errors
///
/// A [`PortError`] naming the object.
pub async fn put_bytes(client: &Client, bucket: &str, key: &str, body: &[u8]) -> Result<(), PortError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type(key))
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .map_err(|e| port_error("writing", format!("s3://{bucket}/{key}"), e))?;
    Ok(())
}

fn content_type(key: &str) -> &'static str {
    if key.ends_with(".jsonl") {
        "application/jsonlines"
    } else if key.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

type PendingGet = JoinHandle<Result<GetObjectOutput, SdkError<GetObjectError, HttpResponse>>>;

/// Capture (or ground-truth) objects below a location laid out by hour: `{location}/yyyy/mm/dd/hh/*.jsonl[.gz]`.
///
/// A window lists only its hours' prefixes; without one, everything below the location. Opening an object also
/// requests the next [`PREFETCH`] objects of the listing, so that their bodies stream in while this one is parsed;
/// no body is ever held whole in memory.
pub struct S3CaptureSource {
    client: Client,
    handle: Handle,
    location: S3Location,
    listing: Mutex<Vec<String>>,
    pending: Mutex<HashMap<String, PendingGet>>,
}

impl S3CaptureSource {
    /// A source over `location`, blocking on `handle` (call its methods from a blocking thread).
    pub fn new(client: Client, handle: Handle, location: S3Location) -> Self {
        Self {
            client,
            handle,
            location,
            listing: Mutex::new(Vec::new()),
            pending: Mutex::new(HashMap::new()),
        }
    }

    fn spawn_get(&self, key: &str) -> PendingGet {
        let request = self.client.get_object().bucket(&self.location.bucket).key(key);
        self.handle.spawn(request.send())
    }

    /// Starts the requests of the objects that follow `key` in the listing.
    fn prefetch_after(&self, key: &str) {
        let listing = self.listing.lock().expect("listing lock");
        let Some(at) = listing.iter().position(|k| k == key) else {
            return;
        };
        let mut pending = self.pending.lock().expect("pending lock");
        for next in listing.iter().skip(at + 1).take(PREFETCH) {
            if !pending.contains_key(next) {
                pending.insert(next.clone(), self.spawn_get(next));
            }
        }
    }
}

impl CaptureSource for S3CaptureSource {
    fn list(&self, window: Option<&Window>) -> Result<Vec<CaptureObject>, PortError> {
        let prefixes: Vec<String> = match window {
            Some(w) => w
                .hours()
                .into_iter()
                .map(|h| self.location.key(&h.format("%Y/%m/%d/%H/").to_string()))
                .collect(),
            None if self.location.prefix.is_empty() => vec![String::new()],
            None => vec![format!("{}/", self.location.prefix)],
        };
        let mut objects = Vec::new();
        for prefix in prefixes {
            let keys = self
                .handle
                .block_on(list_keys(&self.client, &self.location.bucket, &prefix))?;
            for (key, size) in keys {
                let file = key.rsplit('/').next().unwrap_or(&key);
                if !is_capture_file(file) {
                    continue;
                }
                objects.push(CaptureObject {
                    hour: hour_of_key(&key),
                    size,
                    name: self.location.uri_of(&key),
                });
            }
        }
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        *self.listing.lock().expect("listing lock") = objects
            .iter()
            .filter_map(|o| S3Location::split_uri(&o.name).map(|(_, k)| k.to_owned()))
            .collect();
        Ok(objects)
    }

    fn open(&self, object: &CaptureObject) -> Result<Box<dyn Read + Send + '_>, PortError> {
        let Some((bucket, key)) = S3Location::split_uri(&object.name) else {
            return Err(PortError::new(
                "opening",
                object.name.clone(),
                PortErrorKind::Other,
                "not an s3:// object name",
            ));
        };
        let request = if bucket == self.location.bucket {
            self.pending.lock().expect("pending lock").remove(key)
        } else {
            None
        };
        let request = request.unwrap_or_else(|| self.spawn_get(key));
        self.prefetch_after(key);
        let output = self
            .handle
            .block_on(request)
            .map_err(|e| PortError::new("opening", object.name.clone(), PortErrorKind::Other, e))?
            .map_err(|e| port_error("opening", object.name.clone(), e))?;
        let body = output.body.into_async_read();
        Ok(Box::new(SyncIoBridge::new_with_handle(body, self.handle.clone())))
    }
}

/// Objects named by `s3://` URIs in any bucket the role may read: a Batch Transform job's capture manifests and
/// the input and output objects they name.
pub struct S3Objects {
    client: Client,
    handle: Handle,
}

impl S3Objects {
    pub fn new(client: Client, handle: Handle) -> Self {
        Self { client, handle }
    }
}

impl modelwatch_core::transform::ObjectStore for S3Objects {
    fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        let rest = prefix.strip_prefix("s3://").ok_or_else(|| {
            PortError::new(
                "listing",
                prefix.to_owned(),
                PortErrorKind::Other,
                "not an s3:// prefix",
            )
        })?;
        let (bucket, key_prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let keys = self.handle.block_on(list_keys(&self.client, bucket, key_prefix))?;
        Ok(keys
            .into_iter()
            .map(|(key, _)| format!("s3://{bucket}/{key}"))
            .collect())
    }

    fn open(&self, uri: &str) -> Result<Box<dyn Read + Send + '_>, PortError> {
        let (bucket, key) = S3Location::split_uri(uri)
            .ok_or_else(|| PortError::new("opening", uri.to_owned(), PortErrorKind::Other, "not an s3:// object"))?;
        let output = self
            .handle
            .block_on(self.client.get_object().bucket(bucket).key(key).send())
            .map_err(|e| port_error("opening", uri.to_owned(), e))?;
        let body = output.body.into_async_read();
        Ok(Box::new(SyncIoBridge::new_with_handle(body, self.handle.clone())))
    }
}

/// Reports written below a location, replacing what was there.
pub struct S3ReportStore {
    client: Client,
    handle: Handle,
    location: S3Location,
}

impl S3ReportStore {
    /// A store writing below `location`, blocking on `handle`.
    pub fn new(client: Client, handle: Handle, location: S3Location) -> Self {
        Self {
            client,
            handle,
            location,
        }
    }
}

impl ReportStore for S3ReportStore {
    fn put(&self, name: &str, body: &[u8]) -> Result<(), PortError> {
        let key = self.location.key(name);
        self.handle
            .block_on(put_bytes(&self.client, &self.location.bucket, &key, body))
    }
}

/// Small JSON state objects below a location, written with S3's conditional requests: `If-None-Match: *` to
/// create, `If-Match: <ETag>` to replace, so that of two overlapping writers exactly one wins.
pub struct S3StateStore {
    client: Client,
    handle: Handle,
    location: S3Location,
}

impl S3StateStore {
    /// A store below `location`, blocking on `handle`.
    pub fn new(client: Client, handle: Handle, location: S3Location) -> Self {
        Self {
            client,
            handle,
            location,
        }
    }
}

impl StateStore for S3StateStore {
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, StateVersion)>, PortError> {
        let key = self.location.key(key);
        self.handle
            .block_on(get_bytes(&self.client, &self.location.bucket, &key))
    }

    fn put_if(&self, key: &str, body: &[u8], expected: Option<&StateVersion>) -> Result<StateVersion, PortError> {
        let key = self.location.key(key);
        let mut request = self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .content_type(content_type(&key))
            .body(ByteStream::from(body.to_vec()));
        request = match expected {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        let output = self
            .handle
            .block_on(request.send())
            .map_err(|e| port_error("writing", self.location.uri_of(&key), e))?;
        Ok(output.e_tag().unwrap_or_default().to_owned())
    }
}

/// Labelled data below an S3 location (the retraining file's `training.captured`): listed by folder, with the
/// training manifests written beside it.
pub struct S3LabelledData {
    client: Client,
    handle: Handle,
    location: S3Location,
}

impl S3LabelledData {
    /// The data below `location`, blocking on `handle`.
    pub fn new(client: Client, handle: Handle, location: S3Location) -> Self {
        Self {
            client,
            handle,
            location,
        }
    }
}

impl modelwatch_core::retrain::lifecycle::LabelledDataPort for S3LabelledData {
    fn list(&self, folder: &str) -> Result<Vec<String>, PortError> {
        let prefix = self.location.key(folder);
        let root = self.location.key("");
        let keys = self
            .handle
            .block_on(list_keys(&self.client, &self.location.bucket, &prefix))?;
        Ok(keys
            .into_iter()
            .filter_map(|(k, _)| k.strip_prefix(&root).map(str::to_owned))
            .collect())
    }

    fn put(&self, key: &str, body: &[u8]) -> Result<String, PortError> {
        let key = self.location.key(key);
        self.handle
            .block_on(put_bytes(&self.client, &self.location.bucket, &key, body))?;
        Ok(self.location.uri_of(&key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_joins_locations() {
        let l: S3Location = "s3://bucket/some/prefix/".parse().unwrap();
        assert_eq!(l.bucket, "bucket");
        assert_eq!(l.prefix, "some/prefix");
        assert_eq!(l.key("a.json"), "some/prefix/a.json");
        assert_eq!(l.join("/ep/v/").to_string(), "s3://bucket/some/prefix/ep/v");
        let bare: S3Location = "s3://bucket".parse().unwrap();
        assert_eq!(bare.key("a.json"), "a.json");
        assert_eq!(bare.to_string(), "s3://bucket");
        assert!("bucket/prefix".parse::<S3Location>().is_err());
        assert!("s3:///prefix".parse::<S3Location>().is_err());
        assert_eq!(S3Location::split_uri("s3://b/k/x.jsonl"), Some(("b", "k/x.jsonl")));
    }
}
