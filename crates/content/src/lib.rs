//! Gazette's text handling, pure functions only: Markdown rendered to sanitised HTML (once,
//! when a post or comment is written), plain-text excerpts, and URL slugs.

mod comment_html;
mod markdown;
mod nesting;
mod slug;
mod url;

pub use comment_html::comment_text_from_html;
pub use markdown::{
    MAX_POST_HTML_BYTES, Unrenderable, absolute_links, excerpt, plain_text, render_comment_body,
    render_new_comment_body, render_post_body,
};
pub use nesting::{MAX_HTML_NESTING, html_nesting_exceeds};
pub use slug::{is_slug, slugify};
pub use url::is_http_url;
