//! End-to-end tests: the real server (in-process on an ephemeral port, or the `gazette`
//! binary itself) over real HTTP, on a real PostgreSQL. One test binary for the package.

mod api;
mod cli_errors;
mod clients;
mod comments;
mod compiled;
mod discovery;
mod embedded;
mod faults;
mod federation;
mod feeds;
mod first_run;
mod graphql_http;
mod hostile;
mod import;
mod input_text;
mod limits;
mod migrations;
mod operations;
mod page_forms;
mod post_page_batches;
mod posts;
mod replicas;
mod response_cache;
mod scheduling;
mod social;
mod sockets;
mod statements;
mod stored_visibility;
mod subscriptions;
mod support;
mod visibility;
mod warm_connections;
mod webhooks;
mod worker_runs;
