//! Logging, set up once: lines on stderr, filtered by `--log`, as text (coloured only on a
//! terminal, so files and `docker compose logs` get no escape codes) or JSON.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::LogFormat;

/// PostgreSQL's notices (`relation "_sqlx_migrations" already exists, skipping` at every
/// start) are noise at `info`; a filter that names their target decides for itself.
const QUIET_NOTICES: &str = "sqlx::postgres::notice=warn";

pub fn init(filter: &str, format: LogFormat) {
    let directives = match filter.contains("sqlx::postgres::notice") {
        true => filter.to_owned(),
        false => format!("{filter},{QUIET_NOTICES}"),
    };
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|error| {
        eprintln!("gazette: ignoring the log filter {filter:?} ({error}); logging at info");
        EnvFilter::new(format!("info,{QUIET_NOTICES}"))
    });
    // Each layer filters for itself: the log lines follow `--log`, while the metrics layer
    // sees sqlx's statement and pool events whatever the log level.
    let log_lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let log_lines = match format {
        LogFormat::Text => log_lines
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => log_lines.json().with_filter(filter).boxed(),
    };
    // A second initialisation (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(log_lines)
        .with(gazette_metrics::SqlEvents.with_filter(gazette_metrics::sql_events_filter()))
        .try_init();
}
