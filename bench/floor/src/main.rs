//! The floor: a minimal HTTP server that answers the benchmark's q2r (a random post's page)
//! from PostgreSQL, as a baseline for what raw SQL's rate leaves to a server on the same
//! cores. It reads the request's body, takes `variables.slug` from its JSON, runs the very
//! statement pgbench runs for q2r (prepared) and writes the row as JSON, the thread as
//! PostgreSQL's `json_agg` text. No GraphQL, no visibility rule but the statement's, no
//! limits, no metrics, no logs: nothing a real service can leave out. Gazette's stack
//! (tokio's default runtime, hyper's HTTP/1 server, sqlx, mimalloc), but its connections
//! are kept in a plain list rather than sqlx's pool, which pings every connection given
//! back to it (a round trip per request that Gazette's compiled reads avoid too).
//! `bench/floor.py` runs it.
//!
//!     gazette-bench-floor postgres://postgres@127.0.0.1:5432/gazette 127.0.0.1:9101 [connections]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde::Deserialize;
use serde_json::json;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Connection, Row};
use tokio::sync::Semaphore;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// bench/queries/q2r.sql, with the slug as its parameter and the text casts a client
/// needs to pass the values on without decoding them.
const POST_PAGE: &str = "select p.id, p.title, p.body_html, p.published_at::text,
       (select json_agg(c)::text from (
           select c.id, c.parent_id, c.depth, c.author_name, c.body_html, c.created_at
           from comments c where c.post_id = p.id and c.status = 'published'
           order by c.path limit 100) c)
from posts p where p.slug = $1 and p.status = 'published'";

/// Open connections, taken by a request for its statement and put back after: a permit
/// for each one in the list.
struct Connections {
    idle: Mutex<Vec<PgConnection>>,
    permits: Semaphore,
}

/// A connection taken from the list, put back when dropped: also when hyper drops the
/// request's future half-way (its client went away), since sqlx finishes the interrupted
/// exchange before the connection's next statement.
struct Taken<'a> {
    connections: &'a Connections,
    /// Always `Some` until dropped.
    connection: Option<PgConnection>,
}

impl<'a> Taken<'a> {
    fn from(connections: &'a Connections) -> Option<Self> {
        let connection = connections.idle.lock().ok()?.pop()?;
        Some(Self {
            connections,
            connection: Some(connection),
        })
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if let (Some(connection), Ok(mut idle)) =
            (self.connection.take(), self.connections.idle.lock())
        {
            idle.push(connection);
        }
    }
}

#[derive(Deserialize)]
struct Sent {
    variables: Variables,
}

#[derive(Deserialize)]
struct Variables {
    slug: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(listen)) = (args.next(), args.next()) else {
        return Err("usage: gazette-bench-floor DATABASE_URL LISTEN_ADDRESS [CONNECTIONS]".into());
    };
    let count: usize = args.next().map_or(Ok(10), |count| count.parse())?;
    let mut idle = Vec::with_capacity(count);
    for _ in 0..count {
        idle.push(PgConnection::connect(&url).await?);
    }
    let connections = Arc::new(Connections {
        idle: Mutex::new(idle),
        permits: Semaphore::new(count),
    });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    loop {
        // A refused or reset connection is the client's business; the server goes on.
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        if stream.set_nodelay(true).is_err() {
            continue;
        }
        let connections = connections.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| answer(connections.clone(), request));
            // A connection the client closes ends here; nothing to report.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    connections: Arc<Connections>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => return Ok(errors(&error.to_string())),
    };
    let Ok(sent) = serde_json::from_slice::<Sent>(&body) else {
        return Ok(errors("the body has no variables.slug"));
    };
    let Ok(_permit) = connections.permits.acquire().await else {
        return Ok(errors("closed"));
    };
    let mut taken = Taken::from(&connections);
    let Some(connection) = taken.as_mut().and_then(|taken| taken.connection.as_mut()) else {
        return Ok(errors("no connection"));
    };
    let row = sqlx::query(POST_PAGE)
        .bind(sent.variables.slug)
        .fetch_optional(connection)
        .await;
    Ok(match row {
        Ok(Some(row)) => post(&row).unwrap_or_else(|error| errors(&error.to_string())),
        Ok(None) => json_response(r#"{"data":{"post":null}}"#.to_owned()),
        Err(error) => errors(&error.to_string()),
    })
}

fn post(row: &PgRow) -> Result<Response<Full<Bytes>>, sqlx::Error> {
    let text = |index: usize| -> Result<String, sqlx::Error> {
        serde_json::to_string(&row.try_get::<&str, _>(index)?)
            .map_err(|error| sqlx::Error::Decode(error.into()))
    };
    let thread: Option<&str> = row.try_get(4)?;
    Ok(json_response(format!(
        r#"{{"data":{{"post":{{"id":{},"title":{},"bodyHtml":{},"publishedAt":{},"thread":{}}}}}}}"#,
        row.try_get::<i64, _>(0)?,
        text(1)?,
        text(2)?,
        text(3)?,
        thread.unwrap_or("[]"),
    )))
}

fn errors(message: &str) -> Response<Full<Bytes>> {
    json_response(json!({ "errors": [{ "message": message }] }).to_string())
}

fn json_response(body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
