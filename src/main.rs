use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = gazette::Cli::parse();
    gazette::telemetry::init(&cli.settings.log);
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
