use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue};
use clap::{CommandFactory, Parser};

// glibc's malloc spent a quarter of the CPU of a GraphQL request under load (many small,
// short-lived allocations across threads); mimalloc handles that pattern far better
// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (v2 and v3 alike); the Rust
/// bindings name only the older options.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc 3 keeps freed pages for a second before giving them back to the system. A
/// refused 50 MB answer followed within that second by another large one then holds both:
/// the hostile corpus's server measured 120 MB resident right after such a refusal with the
/// default, 62 MB with 10 ms (mimalloc 2's default). Only the default changes: a delay
/// given in the environment (`MIMALLOC_PURGE_DELAY` in any case, or its old name
/// `MIMALLOC_RESET_DELAY`) still decides. The one unsafe call in Gazette: an FFI setter.
#[allow(unsafe_code)]
fn give_freed_memory_back_soon() {
    // SAFETY: sets one integer option's default; mimalloc reads it on its next purge.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 10) };
}

fn main() -> ExitCode {
    give_freed_memory_back_soon();
    let cli = gazette::Cli::try_parse().unwrap_or_else(|error| naming_the_variable(error).exit());
    if let Some(conflict) = cli.conflict() {
        // As clap reports a value it cannot use: one sentence, exit code 2.
        gazette::Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, conflict)
            .exit();
    }
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

/// clap names the flag of a value it refuses (`--seed <SEED>`) even when the value came
/// from the flag's environment variable; a tip then names the variable, so that someone
/// who set `GAZETTE_SEED=maybe` and never typed `--seed` sees what to change.
fn naming_the_variable(mut error: clap::Error) -> clap::Error {
    let Some(ContextValue::String(argument)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let Some(long) = argument
        .split_whitespace()
        .next()
        .and_then(|flag| flag.strip_prefix("--"))
    else {
        return error;
    };
    let command = gazette::Cli::command();
    let variable = environment_variable(&command, long)
        .and_then(|variable| variable.to_str())
        .filter(|variable| std::env::var_os(variable).is_some());
    let typed = std::env::args_os().any(|given| {
        given.to_str().is_some_and(|given| {
            given.strip_prefix("--").is_some_and(|given| {
                given == long
                    || given
                        .strip_prefix(long)
                        .is_some_and(|rest| rest.starts_with('='))
            })
        })
    });
    if let Some(variable) = variable
        && !typed
    {
        let tip = format!("the value came from the environment variable {variable}");
        error.insert(
            ContextKind::Suggested,
            ContextValue::StyledStrs(vec![tip.into()]),
        );
    }
    error
}

/// The environment variable of the flag `--long`, in `command` or any of its subcommands.
fn environment_variable<'c>(command: &'c clap::Command, long: &str) -> Option<&'c std::ffi::OsStr> {
    command
        .get_arguments()
        .find(|argument| argument.get_long() == Some(long))
        .and_then(clap::Arg::get_env)
        .or_else(|| {
            command
                .get_subcommands()
                .find_map(|subcommand| environment_variable(subcommand, long))
        })
}
