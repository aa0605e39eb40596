//! The Lambda functions' logs: JSON, one object a line, as CloudWatch Logs' JSON log format expects.

/// The variable Lambda's advanced logging controls set from the function's `LoggingConfig.ApplicationLogLevel`
/// (the template's `LogLevel`): `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL` ("Log-level filtering", Lambda
/// developer guide: a custom runtime reads it to filter its own logs).
pub const LAMBDA_LOG_LEVEL_VAR: &str = "AWS_LAMBDA_LOG_LEVEL";

/// Sets up JSON logs at the level [`log_filter`] chooses from the environment. Lambda stamps every line with its
/// time, so the lines carry none of their own.
pub fn init_json_logs() {
    let directive = log_filter(
        std::env::var(LAMBDA_LOG_LEVEL_VAR).ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let filter = tracing_subscriber::EnvFilter::try_new(&directive)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .init();
}

/// The log filter: Lambda's application log level when it is set (it is what the function's configuration, and so
/// the template's `LogLevel`, says; `FATAL` has no `tracing` level and is taken as `error`), else `RUST_LOG` (local
/// runs), else `info`.
pub fn log_filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> String {
    let lambda = lambda_level.map(str::trim).and_then(|level| {
        Some(match level.to_ascii_uppercase().as_str() {
            "TRACE" => "trace",
            "DEBUG" => "debug",
            "INFO" => "info",
            "WARN" => "warn",
            "ERROR" | "FATAL" => "error",
            _ => return None,
        })
    });
    match (lambda, rust_log.map(str::trim).filter(|r| !r.is_empty())) {
        (Some(level), _) => level.to_owned(),
        (None, Some(rust_log)) => rust_log.to_owned(),
        (None, None) => "info".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_log_level_wins_then_rust_log_then_info() {
        assert_eq!(log_filter(Some("DEBUG"), Some("warn")), "debug");
        assert_eq!(log_filter(Some("FATAL"), None), "error");
        assert_eq!(log_filter(Some("WARN"), None), "warn");
        assert_eq!(log_filter(None, Some("modelwatch_core=trace")), "modelwatch_core=trace");
        assert_eq!(
            log_filter(Some("nonsense"), Some("debug")),
            "debug",
            "an unknown level is ignored"
        );
        assert_eq!(log_filter(None, Some(" ")), "info");
        assert_eq!(log_filter(None, None), "info");
    }
}
