//! Summary templates: literal text with placeholders from a fixed, documented set.

use std::fmt;

/// What a template may say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    Title,
    Excerpt,
    Link,
    Hashtags,
    Author,
    Date,
}

impl Placeholder {
    pub const ALL: [Placeholder; 6] = [
        Placeholder::Title,
        Placeholder::Excerpt,
        Placeholder::Link,
        Placeholder::Hashtags,
        Placeholder::Author,
        Placeholder::Date,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Title => "title",
            Placeholder::Excerpt => "excerpt",
            Placeholder::Link => "link",
            Placeholder::Hashtags => "hashtags",
            Placeholder::Author => "author",
            Placeholder::Date => "date",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Literal(String),
    Field(Placeholder),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub(crate) parts: Vec<Part>,
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `{name}` is not one of the placeholders.
    UnknownPlaceholder(String),
    /// A `{` without its `}`.
    Unclosed,
    /// Longer than [`Template::MAX_CHARS`].
    TooLong,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = Placeholder::ALL
            .iter()
            .map(|placeholder| format!("{{{}}}", placeholder.name()))
            .collect::<Vec<_>>()
            .join(" ");
        match self {
            TemplateError::UnknownPlaceholder(name) => write!(
                f,
                "The template uses an unknown placeholder {{{name}}}; the placeholders are {known}."
            ),
            TemplateError::Unclosed => write!(
                f,
                "The template has a `{{` without its `}}`; write placeholders such as {{title}}, and `{{{{` for a literal brace."
            ),
            TemplateError::TooLong => write!(
                f,
                "A template may have at most {} characters.",
                Template::MAX_CHARS
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    pub const MAX_CHARS: usize = 2_000;

    /// Parses `{placeholder}`s; `{{` and `}}` stand for literal braces.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        if source.chars().count() > Self::MAX_CHARS {
            return Err(TemplateError::TooLong);
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(TemplateError::Unclosed),
                        }
                    }
                    let placeholder = Placeholder::ALL
                        .into_iter()
                        .find(|placeholder| placeholder.name() == name.trim())
                        .ok_or(TemplateError::UnknownPlaceholder(name))?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(placeholder));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self { parts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_placeholders_and_escapes() {
        let template = Template::parse("{title} — {link} {{x}}").expect("valid");
        assert_eq!(
            template.parts,
            [
                Part::Field(Placeholder::Title),
                Part::Literal(" — ".to_owned()),
                Part::Field(Placeholder::Link),
                Part::Literal(" {x}".to_owned()),
            ]
        );
    }

    #[test]
    fn unknown_placeholders_are_named() {
        let error = Template::parse("{title} {summary}").expect_err("refused");
        assert_eq!(
            error,
            TemplateError::UnknownPlaceholder("summary".to_owned())
        );
        let message = error.to_string();
        assert!(
            message.contains("{summary}") && message.contains("{hashtags}"),
            "{message}"
        );
        assert_eq!(Template::parse("{title"), Err(TemplateError::Unclosed));
    }
}
