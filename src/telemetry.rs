//! Logging, set up once: lines on stderr, filtered by `--log`, as text (coloured only on a
//! terminal, so files and `docker compose logs` get no escape codes) or JSON.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
