//! Relay global ids: opaque to clients, `base64("Post:42")` inside, as graphql-relay does.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::errors::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Post,
    Author,
    Tag,
    Comment,
    Channel,
}

impl NodeKind {
    const ALL: [NodeKind; 5] = [
        NodeKind::Post,
        NodeKind::Author,
        NodeKind::Tag,
        NodeKind::Comment,
        NodeKind::Channel,
    ];

    pub(crate) fn type_name(self) -> &'static str {
        match self {
            NodeKind::Post => "Post",
            NodeKind::Author => "Author",
            NodeKind::Tag => "Tag",
            NodeKind::Comment => "Comment",
            NodeKind::Channel => "Channel",
        }
    }
}

/// How a query names one object: by global id or by slug, never both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Id(i64),
    Slug(String),
}

impl Lookup {
    pub fn new(id: Option<ID>, slug: Option<String>, kind: NodeKind) -> Result<Self, ApiError> {
        match (id, slug) {
            (Some(id), None) => Ok(Lookup::Id(GlobalId::decode(&id, kind, "id")?)),
            (None, Some(slug)) => Ok(Lookup::Slug(slug)),
            _ => Err(ApiError::bad_input(
                "id",
                "Give exactly one of `id` and `slug`.",
            )),
        }
    }

    /// Reads the one object a field's `id` or `slug` names: by id with `by_id` (a
    /// DataLoader, so look-ups in one query share a statement), by slug with `by_slug`.
    pub async fn find<T, ByIdError, BySlugError>(
        (id, slug, kind): (Option<ID>, Option<String>, NodeKind),
        by_id: impl AsyncFnOnce(i64) -> Result<Option<T>, ByIdError>,
        by_slug: impl AsyncFnOnce(String) -> Result<Option<T>, BySlugError>,
    ) -> Result<Option<T>, ApiError>
    where
        ApiError: From<ByIdError> + From<BySlugError>,
    {
        Ok(match Lookup::new(id, slug, kind)? {
            Lookup::Id(id) => by_id(id).await?,
            Lookup::Slug(slug) => by_slug(slug).await?,
        })
    }
}

/// A decoded global id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalId {
    pub kind: NodeKind,
    pub id: i64,
}

impl GlobalId {
    pub fn new(kind: NodeKind, id: i64) -> Self {
        Self { kind, id }
    }

    pub fn to_id(self) -> ID {
        ID(STANDARD.encode(format!("{}:{}", self.kind.type_name(), self.id)))
    }

    /// [`GlobalId::to_id`] written as a JSON string (base64 needs no escaping) without an
    /// allocation: the compiled path writes one per object of a page.
    pub fn write_json(self, out: &mut Vec<u8>) {
        // "Channel:-9223372036854775808" is 28 bytes; its base64, 40.
        let mut text = [0u8; 32];
        let mut encoded = [0u8; 48];
        let (name, mut number) = (self.kind.type_name().as_bytes(), itoa::Buffer::new());
        let number = number.format(self.id).as_bytes();
        let length = name.len() + 1 + number.len();
        let written = text.get_mut(..length).map(|text| {
            text[..name.len()].copy_from_slice(name);
            text[name.len()] = b':';
            text[name.len() + 1..].copy_from_slice(number);
            length
        });
        match written.and_then(|length| STANDARD.encode_slice(&text[..length], &mut encoded).ok()) {
            Some(length) => {
                out.push(b'"');
                out.extend_from_slice(&encoded[..length]);
                out.push(b'"');
            }
            None => {
                out.push(b'"');
                out.extend_from_slice(self.to_id().as_bytes());
                out.push(b'"');
            }
        }
    }

    /// The row id behind `id`, which must be a `kind` id; `field` names the argument in the
    /// error otherwise.
    pub fn decode(id: &str, kind: NodeKind, field: &str) -> Result<i64, ApiError> {
        match Self::parse(id) {
            Some(global) if global.kind == kind => Ok(global.id),
            _ => Err(ApiError::bad_input(
                field,
                format!("`{field}` is not a valid {} id.", kind.type_name()),
            )),
        }
    }

    /// `None` when `id` is not one of ours.
    pub fn parse(id: &str) -> Option<Self> {
        let decoded = STANDARD.decode(id).ok()?;
        let decoded = std::str::from_utf8(&decoded).ok()?;
        let (type_name, number) = decoded.split_once(':')?;
        let kind = NodeKind::ALL
            .into_iter()
            .find(|kind| kind.type_name() == type_name)?;
        // Only the digits `to_id` writes: `Post:+2` or `Post:0002` would be a second id of
        // one object, which clients' caches keyed by id (Relay, Apollo) keep apart.
        if number.starts_with('0') || !number.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        let id = number.parse::<i64>().ok().filter(|id| *id > 0)?;
        Some(Self { kind, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let id = GlobalId::new(NodeKind::Post, 42);
        assert_eq!(id.to_id().0, "UG9zdDo0Mg==");
        assert_eq!(GlobalId::parse("UG9zdDo0Mg=="), Some(id));
        // Found by a probe: "Post:000002" and "Post:+2" were Post 2 too.
        for other_spelling in ["Post:000002", "Post:+2", "Post:2 ", "Post:", "Post:-2"] {
            let encoded = STANDARD.encode(other_spelling);
            assert_eq!(GlobalId::parse(&encoded), None, "{other_spelling}");
        }
    }

    #[test]
    fn written_as_json_as_to_id_gives_it() {
        for (kind, id) in [
            (NodeKind::Post, 42),
            (NodeKind::Comment, 0),
            (NodeKind::Channel, i64::MIN),
            (NodeKind::Author, i64::MAX),
        ] {
            let global = GlobalId::new(kind, id);
            let mut out = Vec::new();
            global.write_json(&mut out);
            assert_eq!(out, format!("\"{}\"", global.to_id().0).into_bytes());
        }
    }

    #[test]
    fn rejects_foreign_ids() {
        for bad in ["", "42", "!!!", "UG9zdA==", "VXNlcjox", "UG9zdDotMQ=="] {
            assert_eq!(GlobalId::parse(bad), None, "{bad}");
        }
    }
}
