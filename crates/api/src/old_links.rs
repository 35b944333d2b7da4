//! Old permalinks of an imported blog, redirected (301) to the post's Gazette address, so
//! links and search results pointing at the old blog keep working: Blogger's
//! `/2013/08/slug.html`, WordPress's `/2024/03/slug/` and `/2024/03/12/slug/`, and
//! WordPress's `/?p=123`. Only published posts are redirected to (the public's view, by
//! the one visibility rule); anything else is the usual 404 page.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gazette_store::posts::PostColumns;
use gazette_store::{PgPool, ReadBudget, Reader, imports, posts};
use serde::Deserialize;

use crate::graphiql;
use crate::state::AppState;

/// `/{year}/{month}/{slug}` and `/{year}/{month}/{slug}/`, `slug` maybe ending in `.html`.
pub async fn by_month(
    State(state): State<AppState>,
    Path((year, month, slug)): Path<(String, String, String)>,
) -> Response {
    redirect_to_slug(&state, &year, &month, &slug).await
}

/// `/{year}/{month}/{day}/{slug}/`.
pub async fn by_day(
    State(state): State<AppState>,
    Path((year, month, day, slug)): Path<(String, String, String, String)>,
) -> Response {
    if !is_number(&day, 2) {
        return crate::pages::not_found_page(&state);
    }
    redirect_to_slug(&state, &year, &month, &slug).await
}

#[derive(Debug, Deserialize)]
pub struct RootQuery {
    p: Option<String>,
}

/// `/`: the playground, as always; `/?p=123`, an imported WordPress post.
pub async fn root(State(state): State<AppState>, Query(query): Query<RootQuery>) -> Response {
    let Some(id) = query.p else {
        return Redirect::temporary(graphiql::PLAYGROUND_PATH).into_response();
    };
    if !is_number(&id, 20) {
        return crate::pages::not_found_page(&state);
    }
    let exported_id = format!("post-{id}");
    let found = state
        .read(|pool: PgPool| {
            let exported_id = &exported_id;
            async move {
                let Some(post_id) =
                    imports::post_by_wordpress_id(&pool, exported_id, Reader::PUBLIC).await?
                else {
                    return Ok(None);
                };
                let mut found = posts::find_visible(
                    &pool,
                    &[post_id],
                    Reader::PUBLIC,
                    PostColumns::All,
                    &ReadBudget::unlimited(),
                )
                .await?;
                Ok(found.remove(&post_id))
            }
        })
        .await
        .ok()
        .flatten();
    match found {
        Some(post) => moved_to(&state.config.site.post_url(&post.slug)),
        None => crate::pages::not_found_page(&state),
    }
}

async fn redirect_to_slug(state: &AppState, year: &str, month: &str, slug: &str) -> Response {
    let slug = slug.trim_end_matches(".html");
    if !is_number(year, 4) || !is_number(month, 2) || !gazette_content::is_slug(slug, 200) {
        return crate::pages::not_found_page(state);
    }
    let found = state
        .read(|pool: PgPool| async move {
            posts::find_visible_by_slug(
                &pool,
                slug,
                Reader::PUBLIC,
                PostColumns::All,
                &ReadBudget::unlimited(),
            )
            .await
        })
        .await;
    match found {
        Ok(Some(post)) => moved_to(&state.config.site.post_url(&post.slug)),
        _ => crate::pages::not_found_page(state),
    }
}

/// `301 Moved Permanently`, the status search engines carry a page's standing over with.
fn moved_to(url: &str) -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, url.to_owned())],
    )
        .into_response()
}

fn is_number(text: &str, max_digits: usize) -> bool {
    !text.is_empty() && text.len() <= max_digits && text.bytes().all(|byte| byte.is_ascii_digit())
}
