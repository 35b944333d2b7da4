//! One WebSocket's shared state, seen by the operations it runs: its viewer and token, its
//! operation allowance, its subscription count, and how one event is executed (in a slot,
//! within a budget and the response cap). The socket's protocol and timers are `ws`; the
//! checks every operation passes are `limits`; resolvers take a [`SubscriptionSlot`] here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{ExtensionContext, NextExecute};
use async_graphql::{Data, ErrorExtensions, ServerError, ServerResult};
use gazette_domain::{ClientKey, Viewer};
use gazette_store::{ReadBudget, tokens};

use super::context::RequestContext;
use super::errors::{has_code, refusal};
use crate::state::AppState;

/// What every operation on one socket shares (connection data). Each operation gets a
/// [`RequestContext`] of its own, and so does each event it delivers.
pub struct SocketSession {
    state: AppState,
    viewer: Viewer,
    client: ClientKey,
    /// The token the socket was opened with, checked again by every operation.
    token_id: Option<i64>,
    subscriptions: Arc<AtomicUsize>,
    /// Operations this socket may still start now (refilled over time).
    allowance: Mutex<Allowance>,
}

/// A token bucket: [`OPERATIONS_PER_SECOND`] operations a second, [`OPERATIONS_BURST`] at
/// once.
struct Allowance {
    tokens: f64,
    at: Instant,
}

/// How many operations a socket may start: each runs its subscription's resolver (a read
/// of the database) before any slot is involved.
const OPERATIONS_PER_SECOND: f64 = 10.0;
const OPERATIONS_BURST: f64 = 20.0;

impl SocketSession {
    /// The session of a socket just initialised, with its full allowance.
    pub fn new(
        state: AppState,
        viewer: Viewer,
        client: ClientKey,
        token_id: Option<i64>,
        subscriptions: Arc<AtomicUsize>,
    ) -> Self {
        Self {
            state,
            viewer,
            client,
            token_id,
            subscriptions,
            allowance: Mutex::new(Allowance {
                tokens: OPERATIONS_BURST,
                at: Instant::now(),
            }),
        }
    }

    /// The context of one operation or one event, reading as the socket's viewer within
    /// `answer`.
    pub fn context(&self, answer: Arc<ReadBudget>) -> RequestContext {
        RequestContext::new(
            self.state.pool.clone(),
            self.state.config.clone(),
            self.viewer,
            Some(self.client.clone()),
            answer,
        )
    }

    /// Runs the selection of one subscription event for this socket's subscriber: in an
    /// execution slot (as an HTTP operation), with an answer budget of its own, and within
    /// the response size cap, so one comment cannot make the server build an 11 MB
    /// message per subscriber.
    pub async fn execute_event(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let limits = &self.state.config.limits;
        let Some(_slot) = self.state.executions.acquire(limits.queue_timeout).await else {
            return async_graphql::Response::from_errors(vec![refusal(
                "SERVER_BUSY",
                "The server was too busy to deliver an event to this subscription; it goes on with the next.".to_owned(),
                |_| {},
            )]);
        };
        gazette_metrics::metrics()
            .graphql_executions
            .with_label_values(&["websocket"])
            .inc();
        let budget = Arc::new(self.state.answer_budget(&self.client));
        let mut data = Data::default();
        data.insert(self.context(budget.clone()));
        let response = next.run_with_data(ctx, operation_name, data).await;
        // As over HTTP, what was built past a budget is not an answer: one error instead.
        if budget.is_exceeded()
            && has_code(&response, "SERVER_BUSY")
            && !has_code(&response, "RESPONSE_TOO_LARGE")
        {
            return async_graphql::Response::from_errors(vec![refusal(
                "SERVER_BUSY",
                "The server was too busy to build this event's message; it goes on with the next."
                    .to_owned(),
                |_| {},
            )]);
        }
        if budget.is_exceeded() || !fits(&response, limits.max_response_bytes) {
            return async_graphql::Response::from_errors(vec![refusal(
                "RESPONSE_TOO_LARGE",
                format!(
                    "This event's message would be larger than {} bytes: select fewer or smaller fields.",
                    limits.max_response_bytes
                ),
                |extensions| extensions.set("limit", limits.max_response_bytes),
            )]);
        }
        response
    }

    /// Takes one operation from the socket's allowance, or refuses it (`RATE_LIMITED`).
    pub fn admit_operation(&self) -> ServerResult<()> {
        let mut allowance = self
            .allowance
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let refilled = now.duration_since(allowance.at).as_secs_f64() * OPERATIONS_PER_SECOND;
        allowance.tokens = (allowance.tokens + refilled).min(OPERATIONS_BURST);
        allowance.at = now;
        if allowance.tokens < 1.0 {
            return Err(refusal(
                "RATE_LIMITED",
                format!(
                    "This socket starts operations faster than {OPERATIONS_PER_SECOND} a second: slow down."
                ),
                |extensions| extensions.set("retryAfter", 1),
            ));
        }
        allowance.tokens -= 1.0;
        Ok(())
    }

    /// Refuses the operation when the socket's address is penalised for its refusals.
    pub fn check_penalty(&self) -> ServerResult<()> {
        match self.state.refusals.penalty(&self.client) {
            Some(wait) => Err(refusal(
                "RATE_LIMITED",
                "Too many of your requests were refused in the last minute: try again later."
                    .to_owned(),
                |extensions| extensions.set("retryAfter", wait.as_secs().max(1)),
            )),
            None => Ok(()),
        }
    }

    /// Counts a document this socket sent that was refused.
    pub fn refused(&self) {
        self.state.refusals.refused(&self.client);
    }

    /// Refuses the operation when the socket's token has been revoked since.
    pub async fn check_token(&self) -> ServerResult<()> {
        let Some(token_id) = self.token_id else {
            return Ok(());
        };
        match tokens::is_active(&self.state.pool, token_id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(revoked()),
            Err(error) => {
                tracing::warn!(error = %gazette_store::display_chain(&error), "cannot check a socket's token");
                Err(refusal(
                    "SERVICE_UNAVAILABLE",
                    "The token cannot be checked right now; try again shortly.".to_owned(),
                    |_| {},
                ))
            }
        }
    }

    /// A place for one more subscription on this socket, held until the guard drops (when
    /// the subscription completes or the socket closes).
    pub fn subscription_slot(&self) -> Result<SubscriptionSlot, async_graphql::Error> {
        let taken = self.subscriptions.fetch_add(1, Ordering::SeqCst);
        let slot = SubscriptionSlot::take(self.subscriptions.clone());
        let max = self.state.config.limits.ws_max_subscriptions;
        if taken >= max {
            drop(slot);
            return Err(async_graphql::Error::new(format!(
                "This socket runs {max} subscriptions already: complete one first, or open another socket."
            ))
            .extend_with(|_, extensions| {
                extensions.set("code", "TOO_MANY_SUBSCRIPTIONS");
                extensions.set("limit", max);
            }));
        }
        Ok(slot)
    }
}

/// One running subscription, counted until dropped.
pub struct SubscriptionSlot(Arc<AtomicUsize>);

impl SubscriptionSlot {
    /// The caller has counted it on its socket already.
    fn take(socket_count: Arc<AtomicUsize>) -> Self {
        gazette_metrics::metrics().subscriptions.inc();
        Self(socket_count)
    }
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        gazette_metrics::metrics().subscriptions.dec();
    }
}

/// Whether `response` serialises to at most `cap` bytes (counted, not kept).
fn fits(response: &async_graphql::Response, cap: usize) -> bool {
    struct Counter {
        written: usize,
        cap: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.written += bytes.len();
            match self.written > self.cap {
                true => Err(std::io::Error::other("over the cap")),
                false => Ok(bytes.len()),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(&mut Counter { written: 0, cap }, response).is_ok()
}

/// The slot a new subscription takes, when it runs on a socket.
pub fn subscription_slot(
    ctx: &async_graphql::Context<'_>,
) -> Result<Option<SubscriptionSlot>, async_graphql::Error> {
    ctx.data_opt::<SocketSession>()
        .map(SocketSession::subscription_slot)
        .transpose()
}

fn revoked() -> ServerError {
    refusal(
        "UNAUTHENTICATED",
        "The socket's token has been revoked.".to_owned(),
        |_| {},
    )
}
