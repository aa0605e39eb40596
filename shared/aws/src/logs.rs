//! The Lambda functions' logs: JSON, one object a line, as CloudWatch Logs' JSON log format expects.

/// Sets up JSON logs at `info`, or at what `RUST_LOG` says. Lambda stamps every line with its time, so the lines
/// carry none of their own.
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .init();
}
