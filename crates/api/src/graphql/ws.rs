//! GraphQL subscriptions over WebSocket at `/graphql/ws`, in both the
//! `graphql-transport-ws` protocol and the legacy `graphql-ws` one. A token may come in the
//! upgrade request's `Authorization` header or in the `connection_init` payload
//! (`{"Authorization": "Bearer …"}`), since browsers cannot set headers on WebSockets.

use std::net::SocketAddr;

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gazette_store::PgPool;

use super::auth::Viewer;
use super::context::RequestContext;
use super::errors::ApiError;
use super::http::authenticate;
use crate::client::client_address;
use crate::state::AppState;

pub async fn subscriptions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let header_viewer = match authenticate(&state.pool, headers.get(header::AUTHORIZATION)).await {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    let client = client_address(&headers, peer, state.config.comments.trust_forwarded_for);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let init_state = state.clone();
            let connection = GraphQLWebSocket::new(socket, state.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let viewer = match payload_authorization(&payload) {
                        Some(value) => viewer_from(&init_state.pool, &value).await?,
                        None => header_viewer,
                    };
                    let mut data = Data::default();
                    data.insert(RequestContext::new(
                        init_state.pool.clone(),
                        init_state.config.clone(),
                        viewer,
                        Some(client),
                    ));
                    Ok(data)
                });
            let mut shutting_down = state.shutting_down.clone();
            // End the connection when the server stops, so shutdown never waits on it.
            tokio::select! {
                () = connection.serve() => {}
                _ = shutting_down.wait_for(|down| *down) => {}
            }
        })
        .into_response()
}

/// `Authorization` (any case) from a `connection_init` payload.
fn payload_authorization(payload: &serde_json::Value) -> Option<String> {
    payload
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, value)| value.as_str())
        .map(str::to_owned)
}

async fn viewer_from(pool: &PgPool, authorization: &str) -> async_graphql::Result<Viewer> {
    let value = HeaderValue::from_str(authorization).map_err(|_| {
        ApiError::Unauthenticated("The Authorization value must be `Bearer <token>`.".to_owned())
    })?;
    authenticate(pool, Some(&value)).await.map_err(|_| {
        ApiError::Unauthenticated(
            "The token is not valid: it is unknown or has been revoked.".to_owned(),
        )
        .into()
    })
}
