//! `/moderation`: the queue of held comments in the browser. A moderator signs in once
//! with an API token; the browser keeps a session cookie (HttpOnly, SameSite=Strict,
//! Secure on an https site) whose secret is stored only as a digest (`store::sessions`).
//! Every action is a form carrying the session's form token, and goes through the same
//! use cases and policy as the GraphQL mutations. docs/pages.md has the details.

use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use gazette_domain::comment_form::{check_moderation_form_token, moderation_form_token};
use gazette_domain::commenting::{self, HeldComment, ModerationQueue};
use gazette_domain::{DomainError, Viewer};
use gazette_store::comments::CommentStatus;
use gazette_store::tokens::{Role, TokenOwner};
use gazette_store::{StoreError, authors, sessions, tokens};
use serde::Deserialize;

use super::form::{FormRefused, PageForm};
use super::{document, from_this_site, html_response, unavailable};
use crate::html::escape;
use crate::state::AppState;

const COOKIE: &str = "gazette_moderation";
const PAGE_SIZE: i64 = 20;
/// Longest excerpt of the comment a held one answers.
const PARENT_EXCERPT_CHARS: usize = 280;

/// `?before=<id>` continues the queue with older comments; `?done=` says what just happened.
#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    before: Option<String>,
    done: Option<String>,
}

/// The queue, or the sign-in form when the browser holds no good session.
pub async fn queue(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let (secret, owner) = match session(&state, &headers).await {
        Ok(Some(session)) => session,
        Ok(None) => return sign_in_page(&state, StatusCode::OK, None),
        Err(error) => return unavailable(&error),
    };
    let before = query.before.and_then(|before| before.trim().parse().ok());
    let viewer = Viewer::Token(owner);
    let queue = match commenting::moderation_queue(&state.pool, &viewer, before, PAGE_SIZE).await {
        Ok(queue) => queue,
        Err(error) => return refused(&state, &error),
    };
    let name = match authors::find_visible(&state.pool, &[owner.author_id], viewer.reader()).await {
        Ok(mut found) => found
            .remove(&owner.author_id)
            .map(|author| author.name)
            .unwrap_or_default(),
        Err(error) => return unavailable(&error),
    };
    let form_token = moderation_form_token(&state.config.commenting.edit_tokens, &secret);
    let done = query.done.as_deref().and_then(|done| match done {
        "approved" => Some("The comment was approved: it is on the post now."),
        "spam" => Some("The comment was marked as spam."),
        "deleted" => Some("The comment was deleted."),
        _ => None,
    });
    private(html_response(render_queue(
        &state,
        &owner,
        &name,
        &queue,
        &form_token,
        done,
        before,
    )))
}

fn render_queue(
    state: &AppState,
    owner: &TokenOwner,
    name: &str,
    queue: &ModerationQueue,
    form_token: &str,
    done: Option<&str>,
    before: Option<i64>,
) -> String {
    let site = &state.config.site;
    let whose = match owner.role {
        Role::Admin => "every post (admin)",
        Role::Author => "your own posts (author)",
    };
    let mut body = format!(
        "<h1>Moderation</h1><p>Signed in as {} — comments on {whose}.</p>\
         <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"form_token\" value=\"{form_token}\"><button type=\"submit\">Sign out</button></form>",
        escape(name),
        escape(&site.url("moderation/sign-out")),
    );
    if let Some(done) = done {
        let _ = write!(
            body,
            "<div class=\"notice\" role=\"status\"><p>{done}</p></div>"
        );
    }
    let _ = write!(
        body,
        "<p class=\"counts\"><strong>{}</strong> held for moderation · {} marked as spam</p>",
        queue.held_count, queue.spam_count
    );
    if queue.held.is_empty() {
        body.push_str(match before {
            Some(_) => "<p>No older held comments.</p>",
            None => "<p>No comments are waiting for you.</p>",
        });
    }
    body.push_str("<ol class=\"queue\">");
    for held in &queue.held {
        render_held(&mut body, state, held, form_token);
    }
    body.push_str("</ol>");
    if let Some(older) = queue.older_than {
        let _ = write!(
            body,
            "<p><a rel=\"next\" href=\"{}\">Older held comments</a></p>",
            escape(&site.url(&format!("moderation?before={older}")))
        );
    }
    if before.is_some() {
        let _ = write!(
            body,
            "<p><a href=\"{}\">Newest held comments</a></p>",
            escape(&site.url("moderation"))
        );
    }
    document(state, "Moderation", "", &body)
}

fn render_held(body: &mut String, state: &AppState, held: &HeldComment, form_token: &str) {
    let site = &state.config.site;
    let comment = &held.comment;
    let title_id = format!("held-{}-title", comment.id);
    let _ = write!(
        body,
        "<li><article class=\"comment\" id=\"held-{}\" aria-labelledby=\"{title_id}\"><h2 id=\"{title_id}\">{} on <a href=\"{}\">{}</a></h2>",
        comment.id,
        escape(&comment.author_name),
        escape(&site.post_url(&held.post.slug)),
        escape(&held.post.title),
    );
    if let Some(parent) = &held.parent {
        let excerpt: String = parent.body.chars().take(PARENT_EXCERPT_CHARS).collect();
        let more = if parent.body.chars().count() > PARENT_EXCERPT_CHARS {
            "…"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<blockquote><p class=\"byline\">In reply to {}:</p><p>{}{more}</p></blockquote>",
            escape(&parent.author_name),
            escape(&excerpt),
        );
    }
    let mut details = vec![escape(&comment.author_name)];
    if let Some(email) = &comment.author_email {
        details.push(format!("<a href=\"mailto:{0}\">{0}</a>", escape(email)));
    }
    if let Some(url) = &comment.author_url {
        details.push(format!(
            "<a href=\"{0}\" rel=\"nofollow ugc noopener noreferrer\">{0}</a>",
            escape(url)
        ));
    }
    if let Some(address) = &comment.client_address {
        details.push(format!("from {}", escape(address)));
    }
    details.push(format!(
        "<time datetime=\"{}\">{}</time>",
        comment.created_at.to_rfc3339(),
        comment.created_at.format("%-d %B %Y %H:%M UTC")
    ));
    let _ = write!(
        body,
        "<p class=\"byline\">{}</p>{}<div class=\"actions\">",
        details.join(" · "),
        comment.body_html
    );
    let action_url = escape(&site.url(&format!("moderation/comments/{}", comment.id)));
    for (action, label) in [
        ("approve", "Approve"),
        ("spam", "Mark as spam"),
        ("delete", "Delete"),
    ] {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"{action_url}\"><input type=\"hidden\" name=\"form_token\" value=\"{form_token}\">\
             <input type=\"hidden\" name=\"action\" value=\"{action}\"><button type=\"submit\" aria-label=\"{label}: comment by {}\">{label}</button></form>",
            escape(&comment.author_name),
        );
    }
    body.push_str("</div></article></li>");
}

/// `GET` on a moderation form's address (the address bar after a refused form, or a
/// shared link): the queue, or the sign-in form.
pub async fn to_queue(State(state): State<AppState>) -> Response {
    back_to_queue(&state, "", None)
}

#[derive(Debug, Default, Deserialize)]
pub struct SignInFields {
    #[serde(default)]
    token: String,
}

/// `POST /moderation/sign-in`: an API token for a session cookie.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<PageForm<SignInFields>, FormRefused>,
) -> Response {
    if let Some(response) = not_to_act_on(&state, &headers, &form) {
        return response;
    }
    let token = form
        .map(|PageForm(fields)| fields.token)
        .unwrap_or_default();
    let token = token.trim();
    if token.is_empty() {
        return sign_in_page(&state, StatusCode::BAD_REQUEST, Some("Enter an API token."));
    }
    let owner = match tokens::authenticate(&state.pool, token).await {
        Ok(Some(owner)) => owner,
        Ok(None) => {
            return sign_in_page(
                &state,
                StatusCode::UNAUTHORIZED,
                Some("This token is not valid: it is unknown or has been revoked."),
            );
        }
        Err(error) => return unavailable(&error),
    };
    let lifetime = state.config.moderation_session_lifetime;
    let expires_at = Utc::now() + chrono::TimeDelta::from_std(lifetime).unwrap_or_default();
    let secret = match sessions::start(&state.pool, &owner, expires_at).await {
        Ok(secret) => secret,
        Err(error) => return unavailable(&error),
    };
    let cookie = cookie(&state, &secret, lifetime.as_secs());
    back_to_queue(&state, "", Some(cookie))
}

#[derive(Debug, Default, Deserialize)]
pub struct ActionFields {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    action: String,
}

/// `POST /moderation/sign-out`: ends the session.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<PageForm<ActionFields>, FormRefused>,
) -> Response {
    if let Some(response) = not_to_act_on(&state, &headers, &form) {
        return response;
    }
    let secret = match checked_session(&state, &headers, form.as_ref().ok()).await {
        Ok((secret, _)) => secret,
        Err(response) => return *response,
    };
    if let Err(error) = sessions::end(&state.pool, &secret).await {
        return unavailable(&error);
    }
    back_to_queue(&state, "", Some(cookie(&state, "", 0)))
}

/// `POST /moderation/comments/{id}`: approve, mark as spam, or delete a comment.
pub async fn act(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<PageForm<ActionFields>, FormRefused>,
) -> Response {
    if let Some(response) = not_to_act_on(&state, &headers, &form) {
        return response;
    }
    let owner = match checked_session(&state, &headers, form.as_ref().ok()).await {
        Ok((_, owner)) => owner,
        Err(response) => return *response,
    };
    let Ok(id) = id.parse::<i64>() else {
        return refused(
            &state,
            &DomainError::not_found("There is no comment with this id."),
        );
    };
    let action = form
        .map(|PageForm(fields)| fields.action)
        .unwrap_or_default();
    let viewer = Viewer::Token(owner);
    let (done, result) = match action.as_str() {
        "approve" => (
            "approved",
            commenting::moderate(&state.pool, &viewer, id, CommentStatus::Published).await,
        ),
        "spam" => (
            "spam",
            commenting::moderate(&state.pool, &viewer, id, CommentStatus::Spam).await,
        ),
        "delete" => (
            "deleted",
            commenting::delete_comment(&state.pool, &state.config.commenting, &viewer, id, None)
                .await,
        ),
        _ => {
            return refused(
                &state,
                &DomainError::bad_input("action", "Choose approve, spam or delete."),
            );
        }
    };
    match result {
        Ok(_) => {
            state.wrote_content();
            back_to_queue(&state, &format!("?done={done}"), None)
        }
        Err(error) => refused(&state, &error),
    }
}

/// The session of a form sent from a moderation page, with its form token checked; or the
/// page to answer instead.
async fn checked_session(
    state: &AppState,
    headers: &HeaderMap,
    fields: Option<&PageForm<ActionFields>>,
) -> Result<(String, TokenOwner), Box<Response>> {
    if !from_this_site(state, headers) {
        return Err(Box::new(forged(state)));
    }
    let (secret, owner) = match session(state, headers).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            return Err(Box::new(sign_in_page(
                state,
                StatusCode::UNAUTHORIZED,
                Some(
                    "You are signed out (the session ended, or its token was revoked): sign in again.",
                ),
            )));
        }
        Err(error) => return Err(Box::new(unavailable(&error))),
    };
    let token = fields
        .map(|PageForm(fields)| fields.form_token.as_str())
        .unwrap_or_default();
    if !check_moderation_form_token(&state.config.commenting.edit_tokens, &secret, token) {
        return Err(Box::new(forged(state)));
    }
    Ok((secret, owner))
}

/// The browser's session and its owner, while the session and its token are good.
async fn session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, TokenOwner)>, StoreError> {
    let secret = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| value.len() == 64 && value.bytes().all(|byte| byte.is_ascii_hexdigit()));
    let Some(secret) = secret else {
        return Ok(None);
    };
    Ok(sessions::owner(&state.pool, &secret)
        .await?
        .map(|owner| (secret, owner)))
}

/// The session cookie (an empty value with `max_age` 0 removes it).
fn cookie(state: &AppState, secret: &str, max_age: u64) -> HeaderValue {
    let secure = match state.config.site.public_url.starts_with("https://") {
        true => "; Secure",
        false => "",
    };
    let text = format!(
        "{COOKIE}={secret}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
        moderation_path(state)
    );
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("gazette_moderation=; Max-Age=0"))
}

/// `/moderation` under the public URL's path (a site served below `/blog` has its pages
/// at `/blog/moderation`): the only path the cookie is sent to.
fn moderation_path(state: &AppState) -> String {
    let public = &state.config.site.public_url;
    let path = public
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
        .unwrap_or("");
    format!("{}/moderation", path.trim_end_matches('/'))
}

fn back_to_queue(state: &AppState, query: &str, cookie: Option<HeaderValue>) -> Response {
    let location = format!("{}{query}", state.config.site.url("moderation"));
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    if let Some(cookie) = cookie {
        headers.insert(header::SET_COOKIE, cookie);
    }
    private(response)
}

fn sign_in_page(state: &AppState, status: StatusCode, problem: Option<&str>) -> Response {
    let mut body = String::from("<h1>Moderation</h1>");
    if let Some(problem) = problem {
        let _ = write!(
            body,
            "<div class=\"problem\" role=\"alert\" id=\"sign-in-problem\"><p>{}</p></div>",
            escape(problem)
        );
    }
    let described = match problem {
        Some(_) => " aria-describedby=\"sign-in-problem token-hint\" aria-invalid=\"true\"",
        None => " aria-describedby=\"token-hint\"",
    };
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}\"><p class=\"field\"><label for=\"token\">API token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" required autocomplete=\"off\"{described}>\
         <span class=\"hint\" id=\"token-hint\">An admin's or an author's token (<code>gazette token create</code>). \
         This browser stays signed in for {} unless you sign out or the token is revoked.</span></p>\
         <p><button type=\"submit\">Sign in</button></p></form>",
        escape(&state.config.site.url("moderation/sign-in")),
        super::duration_words(state.config.moderation_session_lifetime),
    );
    let mut response = html_response(document(state, "Moderation", "", &body));
    *response.status_mut() = status;
    private(response)
}

/// The page answering a form that is not to be acted on, whatever it holds; `None` for a
/// form to go on with (one that was read, or could not be parsed: checked as empty).
/// - Forged (not sent from this site): refused as such first, whatever its body.
/// - Not read because of its size, the time it took, or a busy server: said so, rather
///   than taken for an empty one.
fn not_to_act_on<T>(
    state: &AppState,
    headers: &HeaderMap,
    form: &Result<PageForm<T>, FormRefused>,
) -> Option<Response> {
    if !from_this_site(state, headers) {
        return Some(forged(state));
    }
    match form {
        Err(refused) if *refused != FormRefused::Unreadable => Some(private(super::html_error(
            state,
            refused.status(),
            "The form could not be read",
            refused.sentence(),
        ))),
        _ => None,
    }
}

/// A form not sent from this site's moderation page (or without its token).
fn forged(state: &AppState) -> Response {
    private(super::html_error(
        state,
        StatusCode::FORBIDDEN,
        "Not sent from the moderation page",
        "Nothing was changed: moderation forms are taken only from this site's own moderation page, with its form token. Open the moderation page and try again.",
    ))
}

/// A use case's refusal as a page.
fn refused(state: &AppState, error: &DomainError) -> Response {
    let status = match error {
        DomainError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
        DomainError::NotFound(_) => StatusCode::NOT_FOUND,
        DomainError::BadUserInput { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    if status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(error = %gazette_store::display_chain(error), "a moderation page failed");
    }
    let body = format!(
        "<h1>Moderation</h1><div class=\"problem\" role=\"alert\"><p>{}</p></div><p><a href=\"{}\">Back to the queue</a></p>",
        escape(&error.to_string()),
        escape(&state.config.site.url("moderation")),
    );
    let mut response = html_response(document(state, "Moderation", "", &body));
    *response.status_mut() = status;
    private(response)
}

/// Moderation pages show private data: never stored by a cache, never sent as a referrer.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
