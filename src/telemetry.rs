//! Logging, set up once: human-readable lines on stderr, filtered by `--log`.

use tracing_subscriber::EnvFilter;

pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|error| {
        eprintln!("gazette: ignoring the log filter {filter:?} ({error}); logging at info");
        EnvFilter::new("info")
    });
    // A second initialisation (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
