//! Reading a GraphQL request over HTTP, before anything is parsed as GraphQL: the
//! parameters from a `GET` query string or a `POST` JSON body, with the body's media type,
//! its size and its number of JSON values checked first (a list of a million zeros is 2 MB
//! of text and hundreds of MB once parsed).

use axum::body::Body;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use gazette_store::ReadBudget;
use serde::Deserialize;
use serde_json::Value;

/// The largest request body: a 256 KiB post body, JSON-escaped, with room to spare.
pub(crate) const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A request's parameters, from the JSON body or the query string.
#[derive(Debug, Default)]
pub(super) struct Params {
    pub query: Option<String>,
    pub variables: Option<Value>,
    pub operation_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BodyParams {
    query: Option<String>,
    variables: Option<Value>,
    operation_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryStringParams {
    query: Option<String>,
    /// JSON, encoded in the query string.
    variables: Option<String>,
    operation_name: Option<String>,
}

/// Why a request could not be read: its status and a sentence for the client.
pub(super) struct Unreadable(pub StatusCode, pub String);

fn bad_request(message: String) -> Unreadable {
    Unreadable(StatusCode::BAD_REQUEST, message)
}

/// The parameters of `GET /graphql?query=…`, with at most `max_values` JSON values in
/// `variables`.
pub(super) fn from_query_string(uri: &Uri, max_values: usize) -> Result<Params, Unreadable> {
    let params = match Query::<QueryStringParams>::try_from_uri(uri) {
        Ok(Query(params)) => params,
        Err(rejection) => {
            return Err(bad_request(format!(
                "The query string cannot be read: {rejection}."
            )));
        }
    };
    let values = params
        .variables
        .as_deref()
        .map_or(0, |variables| count_json_values(variables.as_bytes()));
    if values > max_values {
        return Err(bad_request(format!(
            "`variables` holds {values} JSON values and the limit is {max_values}."
        )));
    }
    let variables = match params
        .variables
        .as_deref()
        .map(serde_json::from_str::<Value>)
    {
        None => None,
        Some(Ok(variables)) => Some(variables),
        Some(Err(error)) => {
            return Err(bad_request(format!(
                "`variables` is not valid JSON: {error}."
            )));
        }
    };
    Ok(Params {
        query: params.query,
        variables,
        operation_name: params.operation_name,
    })
}

/// The body's bytes ([`crate::bodies::read`]), or the answer to a client whose body was not
/// read.
async fn read_within(body: Body, budget: &ReadBudget) -> Result<Vec<u8>, Unreadable> {
    use crate::bodies::BodyRefused;
    crate::bodies::read(body, MAX_BODY_BYTES, budget)
        .await
        .map_err(|refused| match refused {
            BodyRefused::TooLarge => Unreadable(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body is larger than {MAX_BODY_BYTES} bytes: send less at once."),
            ),
            BodyRefused::Busy => Unreadable(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is reading as many large requests as it takes at once: try again in a few seconds.".to_owned(),
            ),
            BodyRefused::TimedOut => Unreadable(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "The request body did not arrive within {} seconds.",
                    crate::bodies::READ_TIMEOUT.as_secs()
                ),
            ),
            BodyRefused::Broken => Unreadable(
                StatusCode::BAD_REQUEST,
                "The request body could not be read to its end.".to_owned(),
            ),
        })
}

/// The parameters of a `POST` with a JSON body, read up to [`MAX_BODY_BYTES`] and holding
/// at most `max_values` JSON values.
pub(super) async fn from_body(
    headers: &HeaderMap,
    body: Body,
    budget: ReadBudget,
    max_values: usize,
) -> Result<Params, Unreadable> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    if content_type.as_deref() != Some("application/json") {
        return Err(Unreadable(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the request as JSON with `Content-Type: application/json`.".to_owned(),
        ));
    }
    let body = read_within(body, &budget).await?;
    // Counted before they are parsed: JSON values are built into trees many times their
    // size.
    let values = count_json_values(&body);
    if values > max_values {
        return Err(bad_request(format!(
            "The request holds {values} JSON values and the limit is {max_values}: variables are for arguments, not for data in bulk."
        )));
    }
    if body.trim_ascii_start().starts_with(b"[") {
        return Err(bad_request(
            "Batched requests are not supported: send one operation per request.".to_owned(),
        ));
    }
    let params: BodyParams = match serde_json::from_slice(&body) {
        Ok(params) => params,
        Err(error) if error.is_data() => {
            return Err(bad_request(format!(
                "The body is not a GraphQL request: {error}."
            )));
        }
        Err(error) => {
            return Err(bad_request(format!("The body is not valid JSON: {error}.")));
        }
    };
    Ok(Params {
        query: params.query,
        variables: params.variables,
        operation_name: params.operation_name,
    })
}

/// How many values (objects, arrays and their items) a JSON text holds, counted on its
/// bytes without parsing it: every `{`, `[` and `,` outside strings, plus one.
fn count_json_values(text: &[u8]) -> usize {
    let mut values = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text {
        match (in_string, byte) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (true, b'"') => in_string = false,
            (true, _) => {}
            (false, b'"') => in_string = true,
            (false, b'{' | b'[' | b',') => values += 1,
            (false, _) => {}
        }
    }
    values
}
