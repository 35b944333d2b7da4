//! The comment form under a post page: rendering it, and taking what it sends through the
//! one commenting use case (`commenting::add_comment`, as `addComment` does). Works
//! without JavaScript and without cookies; docs/pages.md describes every refusal.

use std::collections::HashMap;
use std::fmt::Write;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use gazette_domain::comment_form::{self, FormTokenError};
use gazette_domain::commenting::{self, CommentInput, Moderation};
use gazette_domain::{DomainError, Viewer};
use gazette_store::comments::{self, Comment, CommentStatus};
use gazette_store::posts::{self, Post, PostColumns};
use gazette_store::{ReadBudget, Reader};
use serde::Deserialize;

use super::form::{FormRefused, PageForm};
use super::{PageOutcome, html_error, html_response, render_post, unavailable};
use crate::client::client_key;
use crate::html::escape;
use crate::state::AppState;

/// Stands in the rendered page where the form token goes: pages are validated (ETag)
/// without it, so a fresh token does not make an unchanged page look changed. A NUL cannot
/// occur in anything stored (PostgreSQL's text refuses it), so it cannot be forged.
pub(super) const TOKEN_SLOT: &str = "\u{0}form-token\u{0}";

/// What the form shows: empty under a page, or as it was sent with the problems found.
#[derive(Debug, Default)]
pub(super) struct FormView {
    /// The comment answered (`?reply=<id>`).
    pub reply_to: Option<i64>,
    /// The reader's comment was held for moderation (`?held=1` after sending).
    pub held: bool,
    /// The page of the thread shown: after the comment at this place (`?after=`), or
    /// from the start.
    pub thread_after: Option<Vec<i64>>,
    pub sent: Fields,
    /// A problem with one field, by the field's form name.
    pub field_errors: HashMap<&'static str, String>,
    /// A problem with the whole form.
    pub problem: Option<String>,
}

/// The form's fields as sent (all optional: a missing field is an empty one).
#[derive(Debug, Default, Deserialize)]
pub struct Fields {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    parent: String,
    /// The page of the thread the form was sent from (its `?after=`).
    #[serde(default)]
    after: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    body: String,
    /// The honeypot: hidden from people, filled by programs that fill every field.
    #[serde(default)]
    homepage: String,
}

/// The form (or the sentence saying comments are closed), for the end of a post's page.
pub(super) fn render(state: &AppState, post: &Post, thread: &[Comment], view: &FormView) -> String {
    let site = &state.config.site;
    let post_url = site.post_url(&post.slug);
    // This page of the thread's own address.
    let page_url = match &view.thread_after {
        Some(after) => format!("{post_url}?after={}", super::thread_place(after)),
        None => post_url.clone(),
    };
    let mut html = String::new();
    if view.held {
        html.push_str(
            "<div class=\"notice\" id=\"comment-held\" role=\"status\"><p>Thank you: your comment \
             is held for moderation and will appear here once a moderator approves it.</p></div>",
        );
    }
    if !post.comments_open {
        html.push_str(
            "<p id=\"comment-form\" class=\"closed\">Comments on this post are closed.</p>",
        );
        if let Some(problem) = &view.problem {
            let _ = write!(
                html,
                "<div class=\"problem\" role=\"alert\"><p>{}</p></div>",
                escape(problem)
            );
        }
        return html;
    }
    let parent = view.reply_to.and_then(|id| {
        thread.iter().find(|comment| {
            comment.id == id && !gazette_domain::policy::shows_as_tombstone(comment)
        })
    });
    html.push_str("<section id=\"comment-form\" aria-labelledby=\"comment-form-title\">");
    match parent {
        Some(parent) => {
            let _ = write!(
                html,
                "<h2 id=\"comment-form-title\">Reply to {}</h2><p><a href=\"{}#comment-{}\">Their comment</a> · <a href=\"{}#comment-form\">Write a new comment instead</a></p>",
                escape(&parent.author_name),
                escape(&page_url),
                parent.id,
                escape(&page_url),
            );
        }
        None => html.push_str("<h2 id=\"comment-form-title\">Leave a comment</h2>"),
    }
    if view.reply_to.is_some() && parent.is_none() {
        html.push_str(
            "<p class=\"notice\">The comment you wanted to answer is not shown on this page: this form posts a new comment.</p>",
        );
    }
    let problems = view.problem.is_some() || !view.field_errors.is_empty();
    if problems {
        html.push_str("<div class=\"problem\" role=\"alert\" id=\"comment-form-problem\">");
        match &view.problem {
            Some(problem) => {
                let _ = write!(html, "<p>{}</p>", escape(problem));
            }
            None => html
                .push_str("<p>Your comment was not sent: please correct what is marked below.</p>"),
        }
        html.push_str("</div>");
    }
    let _ = write!(
        html,
        "<form method=\"post\" action=\"{}/comments#comment-form\"{}><input type=\"hidden\" name=\"form_token\" value=\"{TOKEN_SLOT}\">",
        escape(&post_url),
        if problems {
            " aria-describedby=\"comment-form-problem\""
        } else {
            ""
        },
    );
    if let Some(parent) = parent {
        let _ = write!(
            html,
            "<input type=\"hidden\" name=\"parent\" value=\"{}\">",
            parent.id
        );
    }
    if let Some(after) = &view.thread_after {
        let _ = write!(
            html,
            "<input type=\"hidden\" name=\"after\" value=\"{}\">",
            super::thread_place(after)
        );
    }
    let moderation_hint = match state.config.commenting.policy.moderation {
        Moderation::Open => "Plain text or simple Markdown; web addresses become links.",
        Moderation::Links => {
            "Plain text or simple Markdown; web addresses become links. A comment with two or more links waits for a moderator."
        }
        Moderation::All => {
            "Plain text or simple Markdown; web addresses become links. Every comment waits for a moderator before it appears."
        }
    };
    let fields = [
        Input {
            name: "name",
            label: "Name",
            kind: "text",
            value: &view.sent.name,
            extra: "required maxlength=\"80\" autocomplete=\"name\"",
            hint: None,
        },
        Input {
            name: "email",
            label: "Email (optional)",
            kind: "email",
            value: &view.sent.email,
            extra: "maxlength=\"320\" autocomplete=\"email\"",
            hint: Some("Never shown; only moderators see it."),
        },
        Input {
            name: "website",
            label: "Website (optional)",
            kind: "url",
            value: &view.sent.website,
            extra: "maxlength=\"2048\" autocomplete=\"url\" placeholder=\"https://\"",
            hint: None,
        },
        Input {
            name: "body",
            label: "Comment",
            kind: "textarea",
            value: &view.sent.body,
            extra: "required maxlength=\"10000\" rows=\"8\"",
            hint: Some(moderation_hint),
        },
    ];
    for input in &fields {
        input.render(&mut html, view.field_errors.get(input.name));
    }
    html.push_str(
        "<div class=\"trap\" aria-hidden=\"true\"><label for=\"comment-homepage\">Leave this field empty</label>\
         <input id=\"comment-homepage\" name=\"homepage\" tabindex=\"-1\" autocomplete=\"off\"></div>\
         <p><button type=\"submit\">Post comment</button></p></form></section>",
    );
    html
}

/// One labelled field, with its hint and its problem tied to it for screen readers.
struct Input<'a> {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    value: &'a str,
    extra: &'static str,
    hint: Option<&'static str>,
}

impl Input<'_> {
    fn render(&self, html: &mut String, error: Option<&String>) {
        let id = format!("comment-{}", self.name);
        let mut described_by = Vec::new();
        if error.is_some() {
            described_by.push(format!("{id}-error"));
        }
        if self.hint.is_some() {
            described_by.push(format!("{id}-hint"));
        }
        let aria = match described_by.is_empty() {
            true => String::new(),
            false => format!(" aria-describedby=\"{}\"", described_by.join(" ")),
        };
        let invalid = if error.is_some() {
            " aria-invalid=\"true\""
        } else {
            ""
        };
        let _ = write!(
            html,
            "<p class=\"field\"><label for=\"{id}\">{}</label>",
            self.label
        );
        if let Some(error) = error {
            let _ = write!(
                html,
                "<span class=\"error\" id=\"{id}-error\">{}</span>",
                escape(error)
            );
        }
        match self.kind {
            "textarea" => {
                let _ = write!(
                    html,
                    "<textarea id=\"{id}\" name=\"{}\" {}{aria}{invalid}>{}</textarea>",
                    self.name,
                    self.extra,
                    escape(self.value)
                );
            }
            kind => {
                let _ = write!(
                    html,
                    "<input id=\"{id}\" name=\"{}\" type=\"{kind}\" value=\"{}\" {}{aria}{invalid}>",
                    self.name,
                    escape(self.value),
                    self.extra
                );
            }
        }
        if let Some(hint) = self.hint {
            let _ = write!(html, "<span class=\"hint\" id=\"{id}-hint\">{hint}</span>");
        }
        html.push_str("</p>");
    }
}

/// A fresh token for `post`'s form.
pub(super) fn fill_token(state: &AppState, post_id: i64, template: &str) -> String {
    let token = comment_form::issue(&state.config.commenting.edit_tokens, post_id, Utc::now());
    // One slot, in the form: text on the page is escaped, and escaping drops NULs.
    template.replacen(TOKEN_SLOT, &token, 1)
}

/// `GET /posts/{slug}/comments`: the form's own address, shown in the address bar after a
/// refusal, typed or shared: the form is on the post's page.
pub async fn form_address(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let slug: String = slug
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            byte => format!("%{byte:02X}"),
        })
        .collect();
    see_other(&format!(
        "{}#comment-form",
        state.config.site.post_url(&slug)
    ))
}

/// `POST /posts/{slug}/comments`: a comment from the form.
pub async fn submit(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<PageForm<Fields>, FormRefused>,
) -> Response {
    if !super::from_this_site(&state, &headers) {
        return html_error(
            &state,
            StatusCode::FORBIDDEN,
            "Not sent from this site",
            "Comments are taken from the form on this site's own post pages. This one was sent from another site, so it was not taken.",
        );
    }
    let sent = match form {
        Ok(PageForm(sent)) => sent,
        Err(FormRefused::Unreadable) => {
            return html_error(
                &state,
                StatusCode::BAD_REQUEST,
                "The form could not be read",
                "Nothing was posted: send your comment with the form under the post.",
            );
        }
        Err(refused) => {
            return html_error(
                &state,
                refused.status(),
                "The form could not be read",
                refused.sentence(),
            );
        }
    };
    let post = match posts::find_visible_by_slug(
        &state.pool,
        &slug,
        Reader::PUBLIC,
        PostColumns::All,
        &ReadBudget::unlimited(),
    )
    .await
    {
        Ok(Some(post)) => post,
        Ok(None) => {
            return html_error(
                &state,
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no published post with this address to comment on.",
            );
        }
        Err(error) => return unavailable(&error),
    };
    let mut view = FormView {
        reply_to: sent.parent.trim().parse().ok(),
        thread_after: super::read_thread_place(&sent.after),
        ..FormView::default()
    };
    let trapped = !sent.homepage.trim().is_empty();
    view.sent = sent;
    if trapped {
        view.problem = Some(
            "Your comment was not sent: a field that must stay empty was filled in, as programs that send spam do. If you are a person, leave the field “Leave this field empty” empty and send it again.".to_owned(),
        );
        return form_again(&state, &post, view, StatusCode::BAD_REQUEST, None).await;
    }
    let token = comment_form::check(
        &state.config.commenting.edit_tokens,
        &state.config.commenting.form,
        &view.sent.form_token,
        post.id,
        Utc::now(),
    );
    let token = match token {
        Ok(token) => token,
        Err(refusal) => {
            let status = match refusal {
                FormTokenError::TooQuick => StatusCode::BAD_REQUEST,
                FormTokenError::Expired | FormTokenError::NotThisForm => StatusCode::FORBIDDEN,
            };
            view.problem = Some(token_problem(&state, refusal));
            return form_again(&state, &post, view, status, None).await;
        }
    };
    let parent_id = match view.sent.parent.trim() {
        "" => None,
        parent => match parent.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                view.problem = Some("The comment you reply to is not on this post.".to_owned());
                return form_again(&state, &post, view, StatusCode::BAD_REQUEST, None).await;
            }
        },
    };
    let client = client_key(&headers, peer, state.config.trusted_proxy_hops);
    let retry_id = comment_form::form_retry_id(&token, parent_id, &view.sent.name, &view.sent.body);
    let added = commenting::add_comment(
        &state.pool,
        &state.config.commenting,
        &Viewer::Anonymous,
        Some(&client),
        CommentInput {
            post_id: post.id,
            parent_id,
            author_name: view.sent.name.clone(),
            author_email: Some(view.sent.email.clone()),
            author_url: Some(view.sent.website.clone()),
            body: view.sent.body.clone(),
            client_mutation_id: Some(retry_id),
            federated: None,
        },
    )
    .await;
    match added {
        Ok(added) => {
            // A retry of a form already taken wrote nothing new: the first one emptied
            // the cache, and a resubmitted form must not empty it again for free.
            if !added.retried {
                state.wrote_content();
            }
            if !added.retried && added.comment.status == CommentStatus::Pending {
                gazette_metrics::metrics().comments_held.inc();
            }
            let post_url = state.config.site.post_url(&post.slug);
            let location = match added.comment.status {
                CommentStatus::Published => {
                    // The page of the thread that shows the new comment.
                    let start = comments::page_start_before(
                        &state.pool,
                        post.id,
                        &added.comment.path,
                        Reader::PUBLIC,
                        super::THREAD_ON_PAGE,
                        super::THREAD_BYTES_ON_PAGE,
                    )
                    .await;
                    match start {
                        Ok(None) => format!("{post_url}#comment-{}", added.comment.id),
                        Ok(Some(before)) => format!(
                            "{post_url}?after={}#comment-{}",
                            super::thread_place(&before),
                            added.comment.id
                        ),
                        // The comment is stored: the reader is sent to the thread's start.
                        Err(error) => {
                            tracing::warn!(error = %gazette_store::display_chain(&error), "cannot find the page of a new comment");
                            format!("{post_url}#comments")
                        }
                    }
                }
                _ => format!("{post_url}?held=1#comment-held"),
            };
            see_other(&location)
        }
        Err(error) => refused(&state, &post, view, error).await,
    }
}

/// The form again, with the reader's text, a fresh token and what was wrong.
async fn form_again(
    state: &AppState,
    post: &Post,
    view: FormView,
    status: StatusCode,
    retry_after: Option<u64>,
) -> Response {
    let rendered = render_post(state, &state.pool, &post.slug, &view).await;
    let mut response = match rendered {
        Ok(PageOutcome::Found(template, post_id)) => {
            html_response(fill_token(state, post_id, &template))
        }
        Ok(PageOutcome::Missing) => {
            return html_error(
                state,
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no published post with this address to comment on.",
            );
        }
        Err(error) => return unavailable(&error),
    };
    *response.status_mut() = status;
    if let Some(seconds) = retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The commenting use case's refusal, shown on the form.
async fn refused(
    state: &AppState,
    post: &Post,
    mut view: FormView,
    error: DomainError,
) -> Response {
    let (status, retry_after) = match &error {
        DomainError::BadUserInput { field, message } => {
            match on_the_form(field, message) {
                Ok(name) => {
                    view.field_errors.insert(name, message.clone());
                }
                Err(problem) => view.problem = Some(problem),
            }
            (StatusCode::BAD_REQUEST, None)
        }
        DomainError::CommentsClosed(message) => {
            view.problem = Some(message.clone());
            (StatusCode::FORBIDDEN, None)
        }
        DomainError::RateLimited { retry_after } => {
            view.problem = Some(format!("{error} Your text is kept below."));
            (StatusCode::TOO_MANY_REQUESTS, Some(*retry_after))
        }
        DomainError::NotFound(message) => {
            return html_error(state, StatusCode::NOT_FOUND, "Not found", message);
        }
        _ => {
            tracing::error!(error = %gazette_store::display_chain(&error), "a comment from the form could not be stored");
            let mut response = html_error(
                state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "Your comment could not be stored right now; nothing was posted. Go back, and send it again in a few seconds.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return response;
        }
    };
    form_again(state, post, view, status, retry_after).await
}

/// What a refusal of `addComment`'s `field` means on the form: the form field it names,
/// or a sentence for the whole form.
fn on_the_form(field: &str, message: &str) -> Result<&'static str, String> {
    match (form_field(field), field) {
        (Some(name), _) => Ok(name),
        // The retry id is the form's token and text: the same text from the same page
        // with other details, or once more after its comment was deleted.
        (None, "clientMutationId") => Err(
            "This form was already sent with this text. To send it again with other details, reload the page and use the new form.".to_owned(),
        ),
        (None, _) => Err(message.to_owned()),
    }
}

/// The form's name for an `addComment` input field.
fn form_field(field: &str) -> Option<&'static str> {
    match field {
        "authorName" => Some("name"),
        "authorEmail" => Some("email"),
        "authorUrl" => Some("website"),
        "body" => Some("body"),
        _ => None,
    }
}

/// What a refused form token means for the reader, who gets the form back with a new one.
fn token_problem(state: &AppState, refusal: FormTokenError) -> String {
    match refusal {
        FormTokenError::Expired => format!(
            "{refusal} Forms last {}: your text is kept below, send it again.",
            super::duration_words(state.config.commenting.form.lifetime)
        ),
        FormTokenError::TooQuick => format!("{refusal} Please read it over and send it again."),
        FormTokenError::NotThisForm => {
            format!("{refusal} Your text is kept below: send it again from this page.")
        }
    }
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        // Post URLs are made of the public URL and a slug: always a valid header.
        Err(_) => StatusCode::SEE_OTHER.into_response(),
    }
}
