//! `modelwatch history` and `modelwatch rollback`: an endpoint's model versions, read from the state store the
//! retraining function keeps (a local folder, or `s3://` with feature `aws`), and the return to an earlier
//! version's configuration (feature `aws`: one `UpdateEndpoint`, recorded in the same history).

use anyhow::{Context, Result, bail};
use clap::Args;
use modelwatch_core::retrain::lifecycle;

use crate::local::FsStateStore;

/// `modelwatch history`.
#[derive(Args)]
pub struct HistoryArgs {
    /// The endpoint.
    #[arg(long)]
    pub endpoint: String,
    /// The state store: the retraining function's STATE_S3_URI (`s3://...`, needs feature `aws`) or a folder.
    #[arg(long, env = "MODELWATCH_STATE")]
    pub state: String,
    /// Print the history as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `modelwatch rollback`.
#[derive(Args)]
pub struct RollbackArgs {
    /// The endpoint.
    #[arg(long)]
    pub endpoint: String,
    /// The version to return to (as `modelwatch history` lists it); default: the one that served before the
    /// current one.
    #[arg(long)]
    pub to: Option<String>,
    /// The retraining function's STATE_S3_URI (`s3://bucket/prefix`).
    #[arg(long, env = "MODELWATCH_STATE")]
    pub state: String,
    /// Who asks, for the history (default: $USER, or `cli`).
    #[arg(long)]
    pub requested_by: Option<String>,
}

/// Prints the version history of an endpoint.
///
/// # Errors
///
/// When the state cannot be read.
pub fn history(args: &HistoryArgs) -> Result<()> {
    let history = if args.state.starts_with("s3://") {
        aws::history(&args.state, &args.endpoint)?
    } else {
        lifecycle::version_history(&FsStateStore::new(&args.state), &args.endpoint)
            .with_context(|| format!("reading the version history of {} in {}", args.endpoint, args.state))?
    };
    if args.json {
        outln!("{}", history.to_json());
    } else {
        out!("{}", history.render());
    }
    Ok(())
}

/// Rolls an endpoint back and prints what changed.
///
/// # Errors
///
/// When there is no version to return to, a deployment is in progress, or AWS refuses.
pub fn rollback(args: &RollbackArgs) -> Result<()> {
    if !args.state.starts_with("s3://") {
        bail!("--state must be the retraining function's s3:// state location: a rollback calls SageMaker");
    }
    let by = args
        .requested_by
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".to_owned());
    let report = aws::rollback(&args.state, &args.endpoint, args.to.as_deref(), &by)?;
    outln!(
        "{}: rolling back from version {} to version {} (endpoint configuration {}); `modelwatch history` shows \
         when it serves",
        report.endpoint,
        report.from_version,
        report.to_version,
        report.endpoint_config
    );
    Ok(())
}

#[cfg(feature = "aws")]
mod aws {
    use anyhow::{Context, Result};
    use modelwatch_aws::retrain::SageMakerRetrain;
    use modelwatch_aws::s3::{S3Location, S3StateStore};
    use modelwatch_aws::sagemaker::SageMakerEndpoints;
    use modelwatch_core::memory::MemoryState;
    use modelwatch_core::retrain::VersionHistory;
    use modelwatch_core::retrain::lifecycle::{self, RetrainPorts, RollbackReport};

    fn runtime() -> Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the AWS client runtime")
    }

    fn location(uri: &str) -> Result<S3Location> {
        uri.parse().map_err(|e| anyhow::anyhow!("--state {uri}: {e}"))
    }

    pub fn history(uri: &str, endpoint: &str) -> Result<VersionHistory> {
        let rt = runtime()?;
        let sdk = rt.block_on(modelwatch_aws::config::load());
        let state = S3StateStore::new(
            modelwatch_aws::config::s3_client(&sdk),
            rt.handle().clone(),
            location(uri)?,
        );
        lifecycle::version_history(&state, endpoint)
            .with_context(|| format!("reading the version history of {endpoint} in {uri}"))
    }

    pub fn rollback(uri: &str, endpoint: &str, to: Option<&str>, by: &str) -> Result<RollbackReport> {
        let rt = runtime()?;
        let sdk = rt.block_on(modelwatch_aws::config::load());
        let handle = rt.handle().clone();
        let state = S3StateStore::new(modelwatch_aws::config::s3_client(&sdk), handle.clone(), location(uri)?);
        let client = aws_sdk_sagemaker::Client::new(&sdk);
        let endpoints = SageMakerEndpoints::new(client.clone(), handle.clone());
        let sagemaker = SageMakerRetrain::new(client, handle);
        // A rollback reads no reports or baselines.
        let unused = MemoryState::default();
        let ports = RetrainPorts {
            state: &state,
            reports: &unused,
            baseline: &unused,
            baseline_name: "(none)",
            training: &sagemaker,
            registry: &sagemaker,
            endpoints: &endpoints,
            models: &sagemaker,
            labelled: None,
        };
        lifecycle::rollback(&ports, endpoint, to, by, chrono::Utc::now())
            .with_context(|| format!("rolling back endpoint {endpoint}"))
    }
}

#[cfg(not(feature = "aws"))]
mod aws {
    use anyhow::{Result, bail};
    use modelwatch_core::retrain::VersionHistory;
    use modelwatch_core::retrain::lifecycle::RollbackReport;

    const NO_AWS: &str = "this modelwatch was built without AWS support: build it with `--features aws`";

    pub fn history(_uri: &str, _endpoint: &str) -> Result<VersionHistory> {
        bail!(NO_AWS)
    }

    pub fn rollback(_uri: &str, _endpoint: &str, _to: Option<&str>, _by: &str) -> Result<RollbackReport> {
        bail!(NO_AWS)
    }
}
