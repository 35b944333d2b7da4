//! GraphQL over HTTP: `POST /graphql` with a JSON body, `GET /graphql?query=…`.

use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;

use crate::state::AppState;

pub async fn post(State(state): State<AppState>, request: GraphQLRequest) -> GraphQLResponse {
    state.schema.execute(request.into_inner()).await.into()
}

pub async fn get(State(state): State<AppState>, request: GraphQLRequest) -> GraphQLResponse {
    state.schema.execute(request.into_inner()).await.into()
}
