use std::process::ExitCode;

use clap::Parser;

// glibc's malloc spent a quarter of the CPU of a GraphQL request under load (many small,
// short-lived allocations across threads); mimalloc handles that pattern far better
// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = gazette::Cli::parse();
    gazette::telemetry::init(&cli.settings.log, cli.settings.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gazette: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(gazette::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gazette: {error:#}");
            ExitCode::FAILURE
        }
    }
}
