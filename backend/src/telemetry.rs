//! Logs for Lambda: one JSON object per line on stdout (CloudWatch collects
//! it; the local stack shows it), level from `RUST_LOG`, `AWS_LAMBDA_LOG_LEVEL` or `LOG_LEVEL` (seed 000's).

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber (call once, first thing in `main`).
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL"))
        .or_else(|_| std::env::var("LOG_LEVEL"))
        .map(|level| level.to_lowercase())
        .unwrap_or_else(|_| "info".to_owned());
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
}
