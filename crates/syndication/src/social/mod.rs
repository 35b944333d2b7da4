//! Social-channel texts: summaries of posts and digests of activity, each fitted to its
//! channel's rules.

mod digest;
mod measure;
mod rules;
mod summary;
mod template;
mod twitter_text;

#[cfg(test)]
mod properties;

pub use digest::{DigestFeedback, DigestInput, DigestPost, render_digest, render_digests};
pub use measure::measure;
pub use rules::{ChannelKind, ChannelRules, Counting, rules};
pub use summary::{Summary, SummaryInput, hashtags, summarize};
pub use template::{Placeholder, Template, TemplateError};
