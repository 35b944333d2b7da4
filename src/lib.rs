//! The `gazette` binary as a library, so tests start exactly what users run.

mod cli;
mod commands;
pub mod seed;
mod services;
pub mod telemetry;

pub use cli::{Cli, Command, MetricsListen, RoleArg, Settings, TokenCommand};
pub use commands::run;
pub use services::{Services, run_services};
