//! Plain HTML pages for the links Gazette hands out (`Post.url`, feed items, social
//! summaries), so a reader who follows one finds the post and its discussion, and `/posts`
//! lists the latest. Gazette is an API first: `/` stays the playground's address, and
//! sites with their own front end point `--public-url` at it instead (docs/pages.md).

mod comment_form;
mod form;
pub mod moderation;

use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use gazette_domain::feeds::{Subject, feeds_of, main_feed};
use gazette_store::comments::{self, Comment};
use gazette_store::keyset::{Position, SortKey};
use gazette_store::posts::{self, Post, PostColumns, PostFilter, PostOrder, PostOrderField};
use gazette_store::{PgPool, ReadBudget, Reader, StoreError, authors, keyset, tags};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::html::escape;
use crate::state::AppState;
use comment_form::FormView;
pub use comment_form::{form_address as comment_form_address, submit as submit_comment};

/// Comments on one page of a post's thread; a longer thread goes on over "Later comments"
/// pages.
const THREAD_ON_PAGE: i64 = 500;
/// What one page of a thread may print of its comments (their HTML, names and links,
/// counted as the store's `PRINTED_BYTES` bounds them) before it goes on over "Later
/// comments" pages, whatever the count: 500 comments of the longest kind were a 19 MB
/// page, which anyone could make every reader (and every conditional GET) build.
const THREAD_BYTES_ON_PAGE: i64 = 1024 * 1024;
/// Posts on a page of a list (the latest posts, a tag's): one number for every list, as
/// WordPress's "posts per page" serves its archives.
const POSTS_ON_LIST_PAGE: i64 = 20;
/// Pages change with every comment: caches may keep them but ask each time (a 304 when
/// nothing changed).
const PAGE_CACHE_CONTROL: &str = "public, no-cache";

/// `/posts/{slug}?reply=<comment id>` opens the form as a reply; `?held=1` is where the
/// form sends a reader whose comment waits for a moderator; `?after=<place>` shows the
/// thread from after the comment at that place (its path of ids, `12.40.41`).
#[derive(Debug, Default, Deserialize)]
pub struct PostPageQuery {
    reply: Option<String>,
    held: Option<String>,
    after: Option<String>,
}

/// A comment's place in its thread as pages write it: its path of ids, dot-separated.
fn thread_place(path: &[i64]) -> String {
    path.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// A place read back: `None` for anything but positive ids joined by dots (a mangled
/// address shows the thread from its start).
fn read_thread_place(text: &str) -> Option<Vec<i64>> {
    const DEEPEST: usize = 1_000;
    let path: Vec<i64> = text
        .trim()
        .split('.')
        .take(DEEPEST + 1)
        .map(|id| id.parse().ok().filter(|id: &i64| *id > 0))
        .collect::<Option<_>>()?;
    (path.len() <= DEEPEST).then_some(path)
}

/// A post with its comments and the comment form. The page is validated without the
/// form's token (see [`comment_form::TOKEN_SLOT`]) but with the token's epoch, so a 304
/// leaves the reader a form with most of its life ahead.
pub async fn post_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    query: Result<Query<PostPageQuery>, QueryRejection>,
    request: HeaderMap,
) -> Response {
    // The same address serves the post to the fediverse (a pasted link looked up).
    if state.config.federation.is_some() && crate::federation::wants_activity(&request) {
        return crate::federation::article_by_slug(&state, &slug).await;
    }
    // A mangled query string is no reason to refuse the post: it is read as absent.
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let view = FormView {
        reply_to: query.reply.and_then(|id| id.trim().parse().ok()),
        held: query.held.is_some(),
        thread_after: query.after.as_deref().and_then(read_thread_place),
        ..FormView::default()
    };
    let read = state
        .read_page(|pool: PgPool| {
            let (state, slug, view) = (&state, &slug, &view);
            async move { render_post(state, &pool, slug, view).await }
        })
        .await;
    match read {
        Ok(PageOutcome::Found(template, post_id)) => {
            let epoch = state.config.commenting.form.epoch(Utc::now());
            let etag = etag_of(&format!("{template}\u{0}{epoch}"));
            let mut response = validated_page(
                comment_form::fill_token(&state, post_id, &template),
                etag,
                &request,
            );
            if state.config.federation.is_some() {
                // The address also answers ActivityPub JSON: caches keep the two apart.
                response
                    .headers_mut()
                    .insert(header::VARY, HeaderValue::from_static("accept"));
            }
            response
        }
        Ok(PageOutcome::Missing) => {
            not_found(&state, "There is no published post with this address.")
        }
        Err(error) => unavailable(&error),
    }
}

/// A post's page, ready but for its form token; or no such post.
enum PageOutcome {
    /// The page with [`comment_form::TOKEN_SLOT`] where the token goes, and the post's id.
    Found(String, i64),
    Missing,
}

/// Whether a form was sent from this site's own pages. Browsers say where a form comes
/// from (`Sec-Fetch-Site`, `Origin`); a request that says nothing (an old browser, a
/// script) is let through, and still needs the form's token. The site is as
/// [`crate::own_origin`] says.
fn from_this_site(state: &AppState, headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
    };
    if let Some(site) = text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = text(header::ORIGIN.as_str()) else {
        return true;
    };
    crate::own_origin::is_own_origin(
        origin,
        text(header::HOST.as_str()),
        &state.config.site.public_url,
    )
}

/// Where a list of posts continues: `?after=<published at>~<id>`, the last post shown.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    after: Option<String>,
}

impl ListQuery {
    /// The position to continue after; `Err` for one no link of ours made.
    fn position(&self) -> Result<Option<Position>, ()> {
        self.after
            .as_deref()
            .map(|after| parse_list_position(after).ok_or(()))
            .transpose()
    }
}

/// The answer to a list position no link of ours made.
fn unknown_list_page(state: &AppState) -> Response {
    html_error(
        state,
        StatusCode::BAD_REQUEST,
        "Bad page address",
        "This page of posts does not exist: follow the links from the first page.",
    )
}

/// The latest published posts, newest first, a page at a time.
pub async fn posts_page(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
    request: HeaderMap,
) -> Response {
    let Ok(after) = query.position() else {
        return unknown_list_page(&state);
    };
    match state
        .read_page(|pool: PgPool| {
            let (state, after) = (&state, &after);
            async move { render_list(state, &pool, after.clone()).await }
        })
        .await
    {
        Ok(html) => page(html, &request),
        Err(error) => unavailable(&error),
    }
}

/// A tag's published posts, newest first, a page at a time.
pub async fn tag_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<ListQuery>,
    request: HeaderMap,
) -> Response {
    let Ok(after) = query.position() else {
        return unknown_list_page(&state);
    };
    let read = state
        .read_page(|pool: PgPool| {
            let (state, slug, after) = (&state, &slug, &after);
            async move { render_tag(state, &pool, slug, after.clone()).await }
        })
        .await;
    answer(
        &state,
        read,
        &request,
        "There is no tag with published posts at this address.",
    )
}

/// A page of something that may not exist: the page with conditional GET, a 404 saying
/// `missing`, or a 503 when the database did not answer.
fn answer(
    state: &AppState,
    read: Result<Option<String>, StoreError>,
    request: &HeaderMap,
    missing: &str,
) -> Response {
    match read {
        Ok(Some(html)) => page(html, request),
        Ok(None) => not_found(state, missing),
        Err(error) => unavailable(&error),
    }
}

async fn render_post(
    state: &AppState,
    pool: &PgPool,
    slug: &str,
    form: &FormView,
) -> Result<PageOutcome, StoreError> {
    // One connection for the page's four statements: a connection given back to the pool
    // costs a round trip (sqlx pings it) and a task.
    let mut connection = pool.acquire().await?;
    // Pages are for the public: anyone's view, whoever asks.
    let Some(post) = posts::find_visible_by_slug(
        &mut *connection,
        slug,
        Reader::PUBLIC,
        PostColumns::All,
        &ReadBudget::unlimited(),
    )
    .await?
    else {
        return Ok(PageOutcome::Missing);
    };
    let author = authors::find_visible(&mut *connection, &[post.author_id], Reader::PUBLIC)
        .await?
        .remove(&post.author_id)
        .map(|author| author.name)
        .unwrap_or_default();
    let post_tags = gazette_domain::policy::tags_of_read_posts(&mut *connection, &[post.id])
        .await?
        .remove(&post.id)
        .unwrap_or_default();
    let (thread, later) = comments::thread_page_within(
        &mut *connection,
        post.id,
        Reader::PUBLIC,
        form.thread_after.as_deref(),
        THREAD_ON_PAGE,
        THREAD_BYTES_ON_PAGE,
    )
    .await?;
    // Back to the pool before the page is written.
    drop(connection);
    let site = &state.config.site;
    let comments_feed = site.url(&main_feed(Subject::PostComments).key(&post.slug));

    let mut body = String::new();
    let _ = write!(
        body,
        "<article><h1>{}</h1><p class=\"byline\">{} · <time datetime=\"{}\">{}</time></p>{}",
        escape(&post.title),
        escape(&author),
        post.published_at
            .map(|at| at.to_rfc3339())
            .unwrap_or_default(),
        post.published_at
            .map(|at| at.format("%-d %B %Y").to_string())
            .unwrap_or_default(),
        post.body_html,
    );
    if !post_tags.is_empty() {
        body.push_str("<p class=\"tags\">");
        for tag in &post_tags {
            let _ = write!(
                body,
                "<a href=\"{}\">{}</a> ",
                escape(&site.url(&format!("tags/{}", tag.slug))),
                escape(&tag.name)
            );
        }
        body.push_str("</p>");
    }
    body.push_str("</article>");
    let _ = write!(
        body,
        "<section id=\"comments\"><h2>Comments</h2><p><a href=\"{}\">Comments feed</a></p>",
        escape(&comments_feed)
    );
    let post_url = site.post_url(&post.slug);
    // On a later page of the thread, replies and the form keep the reader there.
    let page_query = match &form.thread_after {
        Some(after) => {
            let _ = write!(
                body,
                "<p class=\"thread-pages\"><a href=\"{}#comments\">First comments</a></p>",
                escape(&post_url)
            );
            format!("after={}&", thread_place(after))
        }
        None => String::new(),
    };
    if thread.is_empty() {
        body.push_str(match form.thread_after {
            Some(_) => "<p>No later comments.</p>",
            None => "<p>No comments yet.</p>",
        });
    }
    let reply_base = post
        .comments_open
        .then(|| escape(&format!("{post_url}?{page_query}")));
    for comment in &thread {
        body.push_str(&render_comment(comment, reply_base.as_deref()));
    }
    if let Some(last) = thread.last().filter(|_| later) {
        let _ = write!(
            body,
            "<p class=\"thread-pages\"><a href=\"{}\" rel=\"next\">Later comments</a></p>",
            escape(&format!(
                "{post_url}?after={}#comments",
                thread_place(&last.path)
            ))
        );
    }
    body.push_str(&comment_form::render(state, &post, &thread, form));
    body.push_str("</section>");
    let alternate = format!(
        "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Comments\" href=\"{}\">",
        escape(&comments_feed)
    );
    Ok(PageOutcome::Found(
        document(state, &post.title, &alternate, &body),
        post.id,
    ))
}

/// A comment in the thread, with a link that opens the form under the page as a reply to
/// it when `reply_base` (the page's address up to its query's `reply`, escaped) is given.
fn render_comment(comment: &Comment, reply_base: Option<&str>) -> String {
    let indent = comment.depth.min(8);
    if gazette_domain::policy::shows_as_tombstone(comment) {
        return format!(
            "<div class=\"comment deleted\" id=\"comment-{}\" style=\"margin-left:{indent}em\"><p><em>This comment was deleted.</em></p></div>",
            comment.id
        );
    }
    let name = match &comment.author_url {
        Some(url) => format!(
            "<a href=\"{}\" rel=\"nofollow ugc noopener\">{}</a>",
            escape(url),
            escape(&comment.author_name)
        ),
        None => escape(&comment.author_name),
    };
    let reply = reply_base
        .map(|page_url| {
            format!(
                "<p class=\"reply\"><a href=\"{page_url}reply={}#comment-form\" aria-label=\"Reply to {}\">Reply</a></p>",
                comment.id,
                escape(&comment.author_name)
            )
        })
        .unwrap_or_default();
    format!(
        "<div class=\"comment\" id=\"comment-{}\" style=\"margin-left:{indent}em\"><p class=\"byline\">{name} · <time datetime=\"{}\">{}</time></p>{}{reply}</div>",
        comment.id,
        comment.created_at.to_rfc3339(),
        comment.created_at.format("%-d %B %Y %H:%M UTC"),
        comment.body_html,
    )
}

async fn render_tag(
    state: &AppState,
    pool: &PgPool,
    slug: &str,
    after: Option<Position>,
) -> Result<Option<String>, StoreError> {
    let Some(tag) = tags::find_visible_by_slug(pool, slug, Reader::PUBLIC).await? else {
        return Ok(None);
    };
    let (posts, older) = list_page(pool, Listed::Tagged(tag.id), after, POSTS_ON_LIST_PAGE).await?;
    let site = &state.config.site;
    let feed = site.url(&main_feed(Subject::Tag).key(&tag.slug));
    let mut body = format!(
        "<h1>{}</h1><p><a href=\"{}\">Feed</a></p><ul>",
        escape(&tag.name),
        escape(&feed)
    );
    for post in &posts {
        body.push_str(&list_item(state, post));
    }
    body.push_str("</ul>");
    body.push_str(&older_link(
        state,
        &format!("tags/{}", tag.slug),
        &posts,
        older,
    ));
    let alternate = format!(
        "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"{}\" href=\"{}\">",
        escape(&tag.name),
        escape(&feed)
    );
    Ok(Some(document(state, &tag.name, &alternate, &body)))
}

async fn render_list(
    state: &AppState,
    pool: &PgPool,
    after: Option<Position>,
) -> Result<String, StoreError> {
    let (posts, older) = list_page(
        pool,
        Listed::Matching(&PostFilter::published()),
        after,
        POSTS_ON_LIST_PAGE,
    )
    .await?;
    let mut body = String::from("<h1>Latest posts</h1>");
    if posts.is_empty() {
        body.push_str("<p>Nothing is published yet.</p>");
    }
    body.push_str("<ul class=\"posts\">");
    for post in &posts {
        body.push_str(&list_item(state, post));
    }
    body.push_str("</ul>");
    body.push_str(&older_link(state, "posts", &posts, older));
    Ok(document(state, "Latest posts", "", &body))
}

/// What a list page lists.
enum Listed<'a> {
    /// The published posts `filter` matches.
    Matching(&'a PostFilter),
    /// A tag's published posts, read as `Tag.posts` reads them: planned for that tag (a
    /// tag on most posts walks them in order, a rare one goes through its links).
    Tagged(i64),
}

/// Up to `shown` of the `listed` posts, newest first, after `after`; and whether older
/// ones follow.
async fn list_page(
    pool: &PgPool,
    listed: Listed<'_>,
    after: Option<Position>,
    shown: i64,
) -> Result<(Vec<Post>, bool), StoreError> {
    let window = keyset::Window {
        after,
        // One more than shown tells whether an older page exists.
        limit: shown + 1,
        ..keyset::Window::default()
    };
    let (reader, columns, budget) = (Reader::PUBLIC, PostColumns::All, ReadBudget::unlimited());
    let mut posts: Vec<Post> = match listed {
        Listed::Matching(filter) => {
            let order = PostOrder::default();
            posts::page(pool, reader, filter, order, &window, columns, &budget).await?
        }
        Listed::Tagged(tag) => {
            let owner = posts::PostOwner::Tag;
            posts::owner_pages(pool, reader, owner, &[tag], &window, columns, &budget)
                .await?
                .remove(&tag)
                .unwrap_or_default()
        }
    };
    let older = posts.len() > shown as usize;
    posts.truncate(shown as usize);
    Ok((posts, older))
}

/// The "Older posts" link of the list at `path`, continuing after its last post; nothing
/// when no older post follows.
fn older_link(state: &AppState, path: &str, posts: &[Post], older: bool) -> String {
    match (older, posts.last()) {
        (true, Some(last)) => format!(
            "<p><a rel=\"next\" href=\"{}\">Older posts</a></p>",
            escape(
                &state
                    .config
                    .site
                    .url(&format!("{path}?after={}", list_position(last)))
            )
        ),
        _ => String::new(),
    }
}

/// A post in a list: title, date and excerpt.
fn list_item(state: &AppState, post: &Post) -> String {
    let published = post.published_at.unwrap_or(post.created_at);
    format!(
        "<li><a href=\"{}\">{}</a> <time class=\"byline\" datetime=\"{}\">{}</time><br>{}</li>",
        escape(&state.config.site.post_url(&post.slug)),
        escape(&post.title),
        published.to_rfc3339_opts(SecondsFormat::Secs, true),
        published.format("%-d %B %Y"),
        escape(&post.excerpt)
    )
}

fn list_position(post: &Post) -> String {
    match post.position(PostOrderField::PublishedAt).key {
        SortKey::Time(at) => format!(
            "{}~{}",
            at.to_rfc3339_opts(SecondsFormat::Micros, true),
            post.id
        ),
        // The published-at ordering is keyed by time.
        _ => String::new(),
    }
}

fn parse_list_position(text: &str) -> Option<Position> {
    let (at, id) = text.rsplit_once('~')?;
    Some(Position {
        key: SortKey::Time(DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc)),
        id: id.parse().ok()?,
    })
}

pub(crate) fn document(state: &AppState, title: &str, head: &str, body: &str) -> String {
    let site = &state.config.site;
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {site_title}</title>\
         {feeds}{actor}{head}\
         <style>body{{max-width:42em;margin:2em auto;padding:0 1em;font:1.05em/1.5 system-ui,sans-serif}}\
         .byline{{color:#555;font-size:.9em}}.comment{{border-left:2px solid #ddd;padding-left:.75em;margin-top:1em}}\
         label{{display:block;font-weight:600}}input,textarea{{display:block;width:100%;box-sizing:border-box;font:inherit;padding:.4em;margin-top:.25em}}\
         button{{font:inherit;padding:.5em 1.1em;cursor:pointer}}.hint{{display:block;color:#555;font-size:.9em}}\
         .error{{display:block;color:#a00;font-weight:600}}[aria-invalid=true]{{border:2px solid #a00}}\
         .problem{{border:2px solid #a00;padding:0 .75em;margin:1em 0}}.notice{{border:2px solid #2b6cb0;padding:0 .75em;margin:1em 0}}\
         .trap{{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}}.reply{{margin:.25em 0;font-size:.9em}}\
         :focus-visible{{outline:3px solid #2b6cb0;outline-offset:2px}}.actions form{{display:inline;margin-right:.5em}}\
         .queue h2{{font-size:1.1em}}blockquote{{margin:.5em 0;padding-left:.75em;border-left:3px solid #ccc;color:#333}}</style>\
         </head><body><header><a href=\"{home}\">{site_title}</a></header><main>{body}</main>{follow}</body></html>\n",
        lang = escape(&site.language),
        title = escape(title),
        site_title = escape(&site.title),
        actor = actor_links(state),
        feeds = feeds_of(Subject::Posts)
            .map(|route| format!(
                "<link rel=\"alternate\" type=\"{}\" title=\"{}\" href=\"{}\">",
                route.format.media_type(),
                escape(&site.title),
                escape(&site.url(&route.key("")))
            ))
            .collect::<String>(),
        home = escape(&site.url("posts")),
        follow = follow_footer(state),
    )
}

/// With federation: the actor linked from every page (`rel="me"` and as the
/// ActivityPub alternate), and the handle to follow shown at the foot.
fn actor_links(state: &AppState) -> String {
    match &state.config.federation {
        Some(federation) => {
            let actor = escape(&federation.site.actor_id());
            format!(
                "<link rel=\"me\" href=\"{actor}\"><link rel=\"alternate\" type=\"application/activity+json\" href=\"{actor}\">"
            )
        }
        None => String::new(),
    }
}

fn follow_footer(state: &AppState) -> String {
    match &state.config.federation {
        Some(federation) => format!(
            "<footer><p>Follow this blog from Mastodon or any fediverse account: search for <strong class=\"handle\">{}</strong>.</p></footer>",
            escape(&federation.site.handle())
        ),
        None => String::new(),
    }
}

/// A page with its validator: a weak ETag (the compression layer may gzip the bytes, the
/// content stays the same), and 304 when the reader holds this version already.
fn page(html: String, request: &HeaderMap) -> Response {
    let etag = etag_of(&html);
    validated_page(html, etag, request)
}

/// The weak ETag of a page's `version` (what makes this version this version).
fn etag_of(version: &str) -> String {
    let digest = Sha256::digest(version.as_bytes());
    let hash: String = digest[..12]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("W/\"{hash}\"")
}

/// [`page`] with its ETag made already.
fn validated_page(html: String, etag: String, request: &HeaderMap) -> Response {
    let holds_it = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|candidates| {
            candidates.split(',').map(str::trim).any(|candidate| {
                candidate == "*" || candidate.trim_start_matches("W/") == &etag[2..]
            })
        });
    let mut response = match holds_it {
        true => StatusCode::NOT_MODIFIED.into_response(),
        false => html_response(html),
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(PAGE_CACHE_CONTROL),
    );
    response
}

pub(crate) fn html_response(html: String) -> Response {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            // Bodies are sanitised already; this makes sure nothing in them can run.
            "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; frame-ancestors 'none'",
        )],
        Html(html),
    )
        .into_response()
}

/// A lifetime as the pages say it: "45 seconds", "90 minutes", "12 hours".
fn duration_words(lifetime: std::time::Duration) -> String {
    let (seconds, minutes) = (lifetime.as_secs(), lifetime.as_secs() / 60);
    match minutes {
        0 => format!("{seconds} seconds"),
        1..120 => format!("{minutes} minutes"),
        _ => format!("{} hours", minutes / 60),
    }
}

/// What every address no route serves answers: the 404 page, not an empty body.
pub async fn nowhere(State(state): State<AppState>) -> Response {
    not_found_page(&state)
}

/// The 404 page for an address that leads nowhere.
pub(crate) fn not_found_page(state: &AppState) -> Response {
    not_found(state, "There is nothing at this address.")
}

/// A 404 in the pages' own style, with a way back.
fn not_found(state: &AppState, message: &str) -> Response {
    html_error(state, StatusCode::NOT_FOUND, "Not found", message)
}

pub(crate) fn html_error(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    let body = format!(
        "<h1>{}</h1><p>{}</p><p><a href=\"{}\">The latest posts</a></p>",
        escape(title),
        escape(message),
        escape(&state.config.site.url("posts")),
    );
    let mut response = html_response(document(state, title, "", &body));
    *response.status_mut() = status;
    response
}

/// The site's icon, so browsers asking for `/favicon.ico` get one instead of logging a 404.
pub async fn favicon() -> Response {
    const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">\
                        <rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#2b6cb0\"/>\
                        <text x=\"8\" y=\"12\" font-size=\"11\" text-anchor=\"middle\" \
                        fill=\"#fff\" font-family=\"serif\">G</text></svg>";
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON,
    )
        .into_response()
}

pub(crate) fn unavailable(error: &StoreError) -> Response {
    tracing::error!(error = %gazette_store::display_chain(error), "could not render a page");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        "This page is temporarily unavailable. Try again shortly.\n",
    )
        .into_response()
}
