use axum::extract::State;
use axum::http::StatusCode;

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers; load balancers send traffic only then.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match sqlx_ping(&state).await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unreachable\n",
            )
        }
    }
}

async fn sqlx_ping(state: &AppState) -> Result<(), gazette_store::StoreError> {
    gazette_store::meta::ping(&state.pool).await
}
