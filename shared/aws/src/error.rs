//! SDK errors mapped to the core's [`PortError`], once, with the cause kept.
//!
//! Retryable failures (throttling, 5xx, timeouts) never reach this point unless the SDK's retries are exhausted;
//! what arrives here fails the operation with the resource named.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::error::SdkError;
use modelwatch_core::ports::{PortError, PortErrorKind};

/// Error codes meaning the object or bucket is not there.
const NOT_FOUND_CODES: [&str; 3] = ["NoSuchKey", "NotFound", "NoSuchBucket"];
/// Error codes meaning a conditional write lost: `PreconditionFailed` (412, the `If-Match`/`If-None-Match`
/// condition failed) and `ConditionalRequestConflict` (409, a concurrent conditional write to the same key),
/// per the S3 API reference of `PutObject`.
const CONFLICT_CODES: [&str; 2] = ["PreconditionFailed", "ConditionalRequestConflict"];

/// The kind of an SDK error, from its service error code.
pub fn kind_of<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> PortErrorKind {
    match error.code() {
        Some(code) if NOT_FOUND_CODES.contains(&code) => PortErrorKind::NotFound,
        Some(code) if CONFLICT_CODES.contains(&code) => PortErrorKind::Conflict,
        _ => PortErrorKind::Other,
    }
}

/// A [`PortError`] for `operation` on `resource`, keeping the SDK error (and its service message) as the cause.
pub fn port_error<E, R>(operation: &'static str, resource: impl Into<String>, error: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let kind = kind_of(&error);
    PortError::new(operation, resource, kind, DisplayErrorContext(error))
}

/// An SDK error displayed with its whole chain (the SDK's own `Display` says only "service error").
#[derive(Debug)]
struct DisplayErrorContext<E>(E);

impl<E: std::error::Error> std::fmt::Display for DisplayErrorContext<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", aws_smithy_types::error::display::DisplayErrorContext(&self.0))
    }
}

impl<E: std::error::Error + 'static> std::error::Error for DisplayErrorContext<E> {}
