//! What the tests share: Gazette in-process ([`TestApp`]) or as the `gazette` binary
//! ([`Server`], [`start_process`]), the embedded cluster under it, the database beside it,
//! and the clients that talk to it (HTTP, GraphQL, WebSocket, `/metrics`). Test files
//! import from here, never from one another.

mod app;
mod cluster;
mod content;
mod database;
mod metrics;
mod process;
mod sockets;

pub use app::{
    TestApp, WHOLE_BATCHES, demo_post_id, error_code, eventually, graphql_at, http_client,
    json_answer, post_graphql, settings, status_type_json,
};
pub use cluster::{
    connect_embedded, connect_embedded_as_superuser, database_url, glob_pg_ctl, pg_ctl,
    short_temp_dir,
};
pub use content::{COMMENT, add_comment, published_post};
pub use database::{
    connect_to, hold_feed_lock, hold_in_transaction, insert_published_post,
    sessions_waiting_on_locks,
};
pub use metrics::Scrape;
pub use process::{
    EmbeddedServe, Server, assert_each_rebuilt_once, command, feeds_rebuilt, free_address,
    free_port, gazette, log_lines, read_log, spawn_logged, start_process, terminate,
    terminate_cleanly, until_ok,
};
pub use sockets::{
    Socket, connect, connect_at, connect_with, open, receive, send, subscribe,
    subscribe_to_comments, subscribe_with,
};
