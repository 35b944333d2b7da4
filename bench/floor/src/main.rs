//! The floor: the least an HTTP server can do to answer the benchmark's q2r (a random
//! post's page) from PostgreSQL, as a baseline for what raw SQL's rate leaves to a server
//! on the same cores. It reads the request's body, takes `variables.slug` from its JSON,
//! runs the very statement pgbench runs for q2r (prepared, by a pool of 10 connections as
//! Gazette's default) and writes the row as JSON, the thread as PostgreSQL's `json_agg`
//! text. No GraphQL, no visibility rule but the statement's, no limits, no metrics, no
//! logs: nothing a real service can leave out. `bench/floor.py` runs it.
//!
//!     gazette-bench-floor postgres://postgres@127.0.0.1:5432/gazette 127.0.0.1:9101

use std::convert::Infallible;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};

/// bench/queries/q2r.sql, with the slug as its parameter and the text casts a client
/// needs to pass the values on without decoding them.
const POST_PAGE: &str = "select p.id, p.title, p.body_html, p.published_at::text,
       (select json_agg(c)::text from (
           select c.id, c.parent_id, c.depth, c.author_name, c.body_html, c.created_at
           from comments c where c.post_id = p.id and c.status = 'published'
           order by c.path limit 100) c)
from posts p where p.slug = $1 and p.status = 'published'";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(listen)) = (args.next(), args.next()) else {
        return Err("usage: gazette-bench-floor DATABASE_URL LISTEN_ADDRESS".into());
    };
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .test_before_acquire(false)
        .connect(&url)
        .await?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let pool = pool.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| answer(pool.clone(), request));
            // A connection the client closes ends here; nothing to report.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    pool: PgPool,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => return Ok(json(format!(r#"{{"errors":[{:?}]}}"#, error.to_string()))),
    };
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let slug = sent["variables"]["slug"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let row = sqlx::query(POST_PAGE)
        .bind(slug)
        .fetch_optional(&pool)
        .await;
    Ok(json(match row {
        Ok(Some(row)) => {
            post(&row).unwrap_or_else(|error| format!(r#"{{"errors":[{:?}]}}"#, error.to_string()))
        }
        Ok(None) => r#"{"data":{"post":null}}"#.to_owned(),
        Err(error) => format!(r#"{{"errors":[{:?}]}}"#, error.to_string()),
    }))
}

fn post(row: &PgRow) -> Result<String, sqlx::Error> {
    let text = |index: usize| -> Result<String, sqlx::Error> {
        Ok(serde_json::Value::String(row.try_get(index)?).to_string())
    };
    let thread: Option<String> = row.try_get(4)?;
    Ok(format!(
        r#"{{"data":{{"post":{{"id":{},"title":{},"bodyHtml":{},"publishedAt":{},"thread":{}}}}}}}"#,
        row.try_get::<i64, _>(0)?,
        text(1)?,
        text(2)?,
        text(3)?,
        thread.as_deref().unwrap_or("[]"),
    ))
}

fn json(body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
