//! SQL statements per request and the wait for a pooled connection, from the events sqlx
//! already emits (`sqlx::query` per statement, `sqlx::pool::acquire` per acquisition): no
//! wrapper around the pool, and nothing for the store's queries to remember. The pages
//! each shared post page statement reads come the same way, from the store's own event.
//!
//! A request counts its statements in a task-local counter; work it spawns (DataLoader
//! batches) carries the counter along through [`spawn_counted`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer};

use crate::families::metrics;

const STATEMENT_TARGET: &str = "sqlx::query";
const ACQUIRE_TARGET: &str = "sqlx::pool::acquire";
/// The store's `batches::STATEMENT_EVENT_TARGET` (the store names no metrics, and this
/// crate depends on no store; the operations test sees the family move).
const POST_PAGES_TARGET: &str = "gazette_store::post_pages";

tokio::task_local! {
    static STATEMENTS: StatementCount;
}

/// The statements one request ran so far.
#[derive(Debug, Clone, Default)]
pub struct StatementCount(Arc<AtomicU32>);

impl StatementCount {
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Runs `work` counting the SQL statements it (and what it spawns with [`spawn_counted`])
/// runs; returns its output and the count.
pub async fn count_statements<F: Future>(work: F) -> (F::Output, u32) {
    let count = StatementCount::default();
    let output = STATEMENTS.scope(count.clone(), work).await;
    (output, count.get())
}

/// `tokio::spawn`, keeping the spawning request's statement counter (for DataLoaders).
pub fn spawn_counted<F>(work: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match STATEMENTS.try_with(StatementCount::clone) {
        Ok(count) => tokio::spawn(STATEMENTS.scope(count, work)),
        Err(_) => tokio::spawn(work),
    }
}

/// The tracing layer that turns sqlx's events into the counts; use it with
/// [`sql_events_filter`] so it sees nothing else (and the log lines stay as configured).
#[derive(Debug, Clone, Copy, Default)]
pub struct SqlEvents;

/// The events [`SqlEvents`] needs: sqlx logs statements at `debug` and acquisitions at the
/// level the pool is given (`trace`, see the store's pool settings).
pub fn sql_events_filter() -> Targets {
    Targets::new()
        .with_target(STATEMENT_TARGET, Level::TRACE)
        .with_target(ACQUIRE_TARGET, Level::TRACE)
        .with_target(POST_PAGES_TARGET, Level::TRACE)
}

impl<S: Subscriber> Layer<S> for SqlEvents {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        match event.metadata().target() {
            STATEMENT_TARGET => {
                let _ = STATEMENTS.try_with(|count| count.0.fetch_add(1, Ordering::Relaxed));
            }
            ACQUIRE_TARGET => {
                if let Some(seconds) = number(event, "acquired_after_secs") {
                    metrics().pool_acquire.observe(seconds);
                }
            }
            POST_PAGES_TARGET => {
                if let Some(pages) = number(event, "pages") {
                    metrics().post_pages_per_statement.observe(pages);
                }
            }
            _ => {}
        }
    }
}

/// The number `event`'s field `name` holds, if it has one (sqlx's `acquired_after_secs`
/// is a float, the store's `pages` a whole number).
fn number(event: &Event<'_>, name: &'static str) -> Option<f64> {
    let mut field = NumberField { name, value: None };
    event.record(&mut field);
    field.value
}

struct NumberField {
    name: &'static str,
    value: Option<f64>,
}

impl Visit for NumberField {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == self.name {
            self.value = Some(value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == self.name {
            self.value = Some(value as f64);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}
