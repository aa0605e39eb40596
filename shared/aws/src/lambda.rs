//! The functions' edge: how a failure is reported to Lambda, and the per-target loop the handlers share.
//!
//! Each function has one `thiserror` enum that keeps its causes. [`Classify`] says whether trying again can
//! help, and [`diagnostic`] turns the error into the [`Diagnostic`] Lambda records for the invocation:
//!
//! - [`RETRYABLE`]: an AWS call or a port failed, a compare-and-set kept losing, a blocking thread panicked.
//!   Lambda's asynchronous retries, or the next scheduled run, should try again.
//! - [`BAD_INPUT`]: the event is not one the function handles, the request is refused, or a configuration,
//!   policy, settings or baseline file is missing or invalid. Retrying the same invocation cannot help.
//!
//! The message is the whole cause chain on one line (`outer: cause: root cause`).
//!
//! [`for_each_target`] runs one job per target (an endpoint variant, an endpoint, an object) on a blocking
//! thread, one after the other: a target that fails or panics does not stop the others, each outcome is one log
//! event, and a panic becomes a [`Panicked`] error naming the target.

use std::future::Future;

use lambda_runtime::Diagnostic;
use modelwatch_core::baseline::BaselineError;
use modelwatch_core::history::HistoryStateError;
use modelwatch_core::monitor::MonitorError;
use modelwatch_core::ports::{PortError, PortErrorKind, error_chain};
use modelwatch_core::retrain::lifecycle::LifecycleError;
use modelwatch_core::scaling::controller::ControllerError;
use modelwatch_core::state::StateError;
use tokio::task::JoinHandle;

use crate::env::{ConfigError, EndpointVariant};
use crate::s3::LocationError;

/// The `errorType` of a failure that trying again may cure.
pub const RETRYABLE: &str = "Retryable";
/// The `errorType` of a failure that trying again cannot cure.
pub const BAD_INPUT: &str = "BadInput";

/// Whether trying again can help.
pub trait Classify: std::error::Error {
    /// `true` for a failure of AWS, a port, contention or a panic; `false` for bad input.
    fn retryable(&self) -> bool;
}

/// The `errorType` of `error`: [`RETRYABLE`] or [`BAD_INPUT`].
pub fn error_type(error: &impl Classify) -> &'static str {
    if error.retryable() { RETRYABLE } else { BAD_INPUT }
}

/// What Lambda records for a failed invocation: [`error_type`], and the whole cause chain as the message.
pub fn diagnostic(error: &impl Classify) -> Diagnostic {
    Diagnostic {
        error_type: error_type(error).to_owned(),
        error_message: error_chain(error),
    }
}

/// A handler's result, its error turned into a [`Diagnostic`]: what a function's `service_fn` returns.
///
/// # Errors
///
/// The [`diagnostic`] of the handler's error.
pub fn respond<T, E: Classify>(result: Result<T, E>) -> Result<T, Diagnostic> {
    result.map_err(|e| diagnostic(&e))
}

// ----------------------------------------------------------------------------------------------------------
// The core's and the adapters' errors, classified here once (the core knows nothing of Lambda).

/// Retryable unless the resource is not there: a missing object, bucket or data set stays missing.
impl Classify for PortError {
    fn retryable(&self) -> bool {
        match self.kind {
            PortErrorKind::NotFound => false,
            PortErrorKind::Conflict | PortErrorKind::Other => true,
        }
    }
}

impl Classify for StateError {
    fn retryable(&self) -> bool {
        match self {
            Self::Read { source, .. } | Self::Write { source, .. } => source.retryable(),
            Self::Contended { .. } => true,
            Self::Invalid { .. } => false,
        }
    }
}

impl Classify for HistoryStateError {
    fn retryable(&self) -> bool {
        match self {
            Self::Read { source, .. } | Self::Write { source, .. } => source.retryable(),
            Self::Contended { .. } => true,
            Self::State { .. } | Self::WindowLength { .. } | Self::Invalid { .. } => false,
        }
    }
}

impl Classify for BaselineError {
    fn retryable(&self) -> bool {
        match self {
            Self::Read { source, .. } => source.retryable(),
            Self::Io { .. } => true,
            Self::Parse { .. } | Self::Missing { .. } | Self::Invalid { .. } => false,
        }
    }
}

impl Classify for MonitorError {
    fn retryable(&self) -> bool {
        match self {
            Self::Port(e) => e.retryable(),
            Self::State(e) => e.retryable(),
            Self::History(e) => e.retryable(),
        }
    }
}

impl Classify for ControllerError {
    fn retryable(&self) -> bool {
        match self {
            Self::Port(e) => e.retryable(),
            // The stored state is not the controller's JSON, or the variant cannot be scaled as configured.
            Self::State { .. } | Self::Observe(_) => false,
        }
    }
}

impl Classify for LifecycleError {
    fn retryable(&self) -> bool {
        match self {
            Self::Port(e) => e.retryable(),
            Self::State(e) => e.retryable(),
            Self::Baseline(e) => e.retryable(),
            // No such version to roll back to, a deployment in progress, an endpoint not InService: the request
            // is refused as it stands; the next event about the endpoint runs the step again.
            Self::Rollback(_) | Self::Refused(_) => false,
        }
    }
}

impl Classify for ConfigError {
    fn retryable(&self) -> bool {
        false
    }
}

impl Classify for LocationError {
    fn retryable(&self) -> bool {
        false
    }
}

// ----------------------------------------------------------------------------------------------------------
// The per-target loop.

/// What a handler runs once per invocation for each of its targets: how log events and errors name it.
pub trait Target {
    /// The endpoint it belongs to.
    fn endpoint(&self) -> &str;

    /// The production variant, when the target is one.
    fn variant(&self) -> Option<&str> {
        None
    }

    /// The object, when the target is one S3 object.
    fn object(&self) -> Option<&str> {
        None
    }

    /// Its name in errors: `endpoint`, `endpoint/variant`, `s3://bucket/key (endpoint/variant)`.
    fn name(&self) -> String {
        let owner = match self.variant() {
            Some(variant) => format!("{}/{variant}", self.endpoint()),
            None => self.endpoint().to_owned(),
        };
        match self.object() {
            Some(object) => format!("{object} ({owner})"),
            None => owner,
        }
    }
}

/// An endpoint variant of the configuration.
impl Target for EndpointVariant {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn variant(&self) -> Option<&str> {
        Some(&self.variant)
    }
}

/// An endpoint, by name.
impl Target for String {
    fn endpoint(&self) -> &str {
        self
    }
}

/// A target's job panicked on its blocking thread.
#[derive(Debug, thiserror::Error)]
#[error("{target}: the run panicked")]
pub struct Panicked {
    /// The target's [`name`](Target::name).
    pub target: String,
    /// The panic, with its message.
    #[source]
    pub source: tokio::task::JoinError,
}

/// A panic is a bug or a transient condition (an exhausted resource); the next run may well get through.
impl Classify for Panicked {
    fn retryable(&self) -> bool {
        true
    }
}

/// Runs `job` on a blocking thread (the adapters block on the runtime); a panic there becomes [`Panicked`]
/// naming `target` instead of unwinding through the handler.
///
/// # Errors
///
/// The job's error, or [`Panicked`].
pub async fn blocking<R, E>(target: &str, job: impl FnOnce() -> Result<R, E> + Send + 'static) -> Result<R, E>
where
    R: Send + 'static,
    E: From<Panicked> + Send + 'static,
{
    joined(target, tokio::task::spawn_blocking(job)).await
}

/// Waits for a job spawned on a blocking thread; a panic there becomes [`Panicked`] naming `target`.
///
/// # Errors
///
/// The job's error, or [`Panicked`].
pub async fn joined<R, E: From<Panicked>>(target: &str, job: JoinHandle<Result<R, E>>) -> Result<R, E> {
    job.await.unwrap_or_else(|source| {
        Err(E::from(Panicked {
            target: target.to_owned(),
            source,
        }))
    })
}

/// What [`for_each_target`] did: the targets that succeeded with their results, and the failures in target
/// order (each error names its target).
#[derive(Debug)]
pub struct Runs<T, R, E> {
    pub done: Vec<(T, R)>,
    pub failed: Vec<E>,
}

impl<T, R, E> Default for Runs<T, R, E> {
    fn default() -> Self {
        Self {
            done: Vec::new(),
            failed: Vec::new(),
        }
    }
}

impl<T, R, E> Runs<T, R, E> {
    /// The results, or the first failure.
    ///
    /// # Errors
    ///
    /// The first target's error; the later ones were logged.
    pub fn into_result(self) -> Result<Vec<(T, R)>, E> {
        match self.failed.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(self.done),
        }
    }
}

/// Runs each target, one after the other: `spawn` does the target's asynchronous reading (a policy, a
/// settings file) and spawns its job on a blocking thread (`tokio::task::spawn_blocking`: the job calls the
/// core with adapters that block on the runtime); this waits for the job.
///
/// A failure of one target (in `spawn`, in its job, or a panic in its job, as [`Panicked`]) does not stop
/// the others. Each outcome is one log event carrying the target's fields: `Target run succeeded.` at `INFO`,
/// or `Target run failed.` at `ERROR` with `retryable` and the error's cause chain.
pub async fn for_each_target<T, R, E, F, Fut>(targets: impl IntoIterator<Item = T>, mut spawn: F) -> Runs<T, R, E>
where
    T: Target + Clone,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<JoinHandle<Result<R, E>>, E>>,
    E: Classify + From<Panicked>,
{
    let mut runs = Runs::default();
    for target in targets {
        let outcome = match spawn(target.clone()).await {
            Ok(job) => joined(&target.name(), job).await,
            Err(e) => Err(e),
        };
        let (endpoint, variant, object) = (target.endpoint(), target.variant(), target.object());
        match outcome {
            Ok(result) => {
                tracing::info!(endpoint, variant, object, "Target run succeeded.");
                runs.done.push((target, result));
            }
            Err(error) => {
                tracing::error!(
                    endpoint,
                    variant,
                    object,
                    retryable = error.retryable(),
                    error = %error_chain(&error),
                    "Target run failed."
                );
                runs.failed.push(error);
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A handler's error as the functions write theirs.
    #[derive(Debug, thiserror::Error)]
    enum HandlerError {
        #[error("unrecognised event: {0}")]
        Event(String),
        #[error("{endpoint}: reading the policy")]
        Policy {
            endpoint: String,
            #[source]
            source: Box<PortError>,
        },
        #[error("{endpoint}: the run failed")]
        Run {
            endpoint: String,
            #[source]
            source: Box<StateError>,
        },
        #[error(transparent)]
        Panicked(#[from] Panicked),
    }

    impl Classify for HandlerError {
        fn retryable(&self) -> bool {
            match self {
                Self::Event(_) => false,
                Self::Policy { source, .. } => source.retryable(),
                Self::Run { source, .. } => source.retryable(),
                Self::Panicked(e) => e.retryable(),
            }
        }
    }

    fn throttled(resource: &str) -> PortError {
        PortError::new(
            "reading",
            resource,
            PortErrorKind::Other,
            "ThrottlingException: Rate exceeded",
        )
    }

    #[test]
    fn a_bad_event_is_bad_input_and_says_what_is_wrong() {
        let d = diagnostic(&HandlerError::Event(
            "EventBridge detail-type \"Object Created\" is not a schedule".into(),
        ));
        assert_eq!(d.error_type, BAD_INPUT);
        assert_eq!(
            d.error_message,
            "unrecognised event: EventBridge detail-type \"Object Created\" is not a schedule"
        );
        let config = diagnostic(&ConfigError::Missing("ENDPOINTS"));
        assert_eq!(
            (config.error_type.as_str(), config.error_message.as_str()),
            (BAD_INPUT, "environment variable ENDPOINTS is required")
        );
    }

    #[test]
    fn a_port_failure_is_retryable_and_carries_its_cause_chain() {
        let e = HandlerError::Policy {
            endpoint: "churn-prod".into(),
            source: Box::new(throttled("s3://b/policies/churn-prod.json")),
        };
        let d = diagnostic(&e);
        assert_eq!(d.error_type, RETRYABLE);
        assert_eq!(
            d.error_message,
            "churn-prod: reading the policy: reading s3://b/policies/churn-prod.json: ThrottlingException: Rate exceeded"
        );
        // Two levels down: a state read that failed in its port.
        let state = HandlerError::Run {
            endpoint: "churn-prod".into(),
            source: Box::new(StateError::Read {
                key: "churn-prod/AllTraffic/last_window.json".into(),
                source: throttled("s3://b/state/churn-prod/AllTraffic/last_window.json"),
            }),
        };
        let d = diagnostic(&state);
        assert_eq!(d.error_type, RETRYABLE);
        assert!(
            d.error_message.ends_with(": ThrottlingException: Rate exceeded"),
            "{}",
            d.error_message
        );
        assert!(
            d.error_message
                .contains("reading state object churn-prod/AllTraffic/last_window.json")
        );
    }

    #[test]
    fn missing_and_invalid_things_are_bad_input_contention_is_retryable() {
        let missing = PortError::new("reading", "s3://b/nope.csv", PortErrorKind::NotFound, "NoSuchKey");
        assert!(!missing.retryable());
        let conflict = PortError::new("writing", "s3://b/k", PortErrorKind::Conflict, "PreconditionFailed");
        assert!(conflict.retryable());
        let contended = StateError::Contended {
            key: "k".into(),
            attempts: 5,
        };
        assert!(contended.retryable());
        assert!(!StateError::invalid("k", "not JSON").retryable());
        assert!(
            !BaselineError::Missing {
                path: "s3://b/baseline/statistics.json".into()
            }
            .retryable()
        );
        assert!(!LifecycleError::Refused("endpoint churn-prod is Updating".into()).retryable());
        assert!(LifecycleError::Port(throttled("churn-prod")).retryable());
        assert!(!MonitorError::State(StateError::invalid("k", "not JSON")).retryable());
    }

    #[derive(Debug, Clone)]
    struct Variant(&'static str);

    impl Target for Variant {
        fn endpoint(&self) -> &str {
            "ep"
        }

        fn variant(&self) -> Option<&str> {
            Some(self.0)
        }
    }

    #[tokio::test]
    async fn one_target_failing_or_panicking_does_not_stop_the_others() {
        let prepared = Arc::new(Mutex::new(Vec::new()));
        let seen = prepared.clone();
        let targets = [
            Variant("A"),
            Variant("Bad"),
            Variant("Boom"),
            Variant("D"),
            Variant("Unread"),
        ];
        let runs = for_each_target(targets, |t: Variant| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(t.0);
                if t.0 == "Unread" {
                    return Err(HandlerError::Policy {
                        endpoint: t.name(),
                        source: Box::new(throttled("s3://b/p.json")),
                    });
                }
                Ok(tokio::task::spawn_blocking(move || match t.0 {
                    "Bad" => Err(HandlerError::Run {
                        endpoint: t.name(),
                        source: Box::new(StateError::invalid("k", "not JSON")),
                    }),
                    "Boom" => panic!("index out of bounds"),
                    v => Ok(v.to_lowercase()),
                }))
            }
        })
        .await;
        assert_eq!(*prepared.lock().unwrap(), ["A", "Bad", "Boom", "D", "Unread"]);
        let done: Vec<(&str, &str)> = runs.done.iter().map(|(t, r)| (t.0, r.as_str())).collect();
        assert_eq!(done, [("A", "a"), ("D", "d")]);
        let failed: Vec<String> = runs.failed.iter().map(|e| error_chain(e)).collect();
        assert_eq!(failed.len(), 3, "{failed:?}");
        assert!(
            failed[0].starts_with("ep/Bad: the run failed: state object k is not valid"),
            "{}",
            failed[0]
        );
        assert!(!runs.failed[0].retryable());
        // The panic is an error naming the target, with the panic's message, and retryable.
        assert!(
            failed[1].starts_with("ep/Boom: the run panicked: task "),
            "{}",
            failed[1]
        );
        assert!(failed[1].contains("index out of bounds"), "{}", failed[1]);
        assert!(matches!(&runs.failed[1], HandlerError::Panicked(p) if p.target == "ep/Boom"));
        assert!(runs.failed[1].retryable());
        assert!(failed[2].starts_with("ep/Unread: reading the policy"), "{}", failed[2]);
        // The first failure is the invocation's.
        let first = runs.into_result().unwrap_err();
        assert!(error_chain(&first).starts_with("ep/Bad: "));
    }

    #[tokio::test]
    async fn all_targets_succeeding_gives_every_result_in_order() {
        let runs = for_each_target(["a".to_owned(), "b".to_owned()], |t: String| async move {
            Ok::<_, HandlerError>(tokio::task::spawn_blocking(move || Ok(t.len())))
        })
        .await;
        let done = runs.into_result().unwrap();
        assert_eq!(done, [("a".to_owned(), 1), ("b".to_owned(), 1)]);
        assert_eq!("churn".to_owned().name(), "churn");
        let ev = EndpointVariant {
            endpoint: "churn".into(),
            variant: "AllTraffic".into(),
        };
        assert_eq!(ev.name(), "churn/AllTraffic");
    }
}
