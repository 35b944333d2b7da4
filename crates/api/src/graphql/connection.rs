//! Relay connections: `first/after/last/before` in, `edges { cursor node }`, `pageInfo` and
//! `totalCount` out. Cursors are opaque (base64 of the ordering, the row's sort key and id)
//! and pages are read by keyset.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_graphql::{Result, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use gazette_store::keyset::{Position, SortKey, Window};
use gazette_store::{PgPool, Reader, StoreError};

use super::errors::ApiError;

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: i32 = 100;
/// The page size when the client gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: i32 = 20;

/// How many items a paged list (not a connection) returns: `first`, between 0 and the
/// largest page, else `default`.
pub fn list_size(first: Option<i32>, default: i32) -> Result<usize, ApiError> {
    match first {
        Some(size) if !(0..=MAX_PAGE_SIZE).contains(&size) => Err(ApiError::bad_input(
            "first",
            format!("`first` must be between 0 and {MAX_PAGE_SIZE}, not {size}."),
        )),
        size => Ok(usize::try_from(size.unwrap_or(default)).unwrap_or_default()),
    }
}

/// The pagination arguments of a connection field.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Self {
        Self {
            first,
            after,
            last,
            before,
        }
    }
}

/// A checked request for one page: the keyset window (one row more than asked, to learn
/// whether there is more) and what the page reports back.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub window: Window,
    size: usize,
    has_after: bool,
    has_before: bool,
}

impl PageRequest {
    /// Checks the arguments; `ordering` names the list order, so a cursor from another
    /// ordering is refused rather than silently misread.
    pub fn new(args: &PageArgs, ordering: &str) -> Result<Self, ApiError> {
        let check = |field: &str, value: Option<i32>| match value {
            Some(size) if !(0..=MAX_PAGE_SIZE).contains(&size) => Err(ApiError::bad_input(
                field,
                format!("`{field}` must be between 0 and {MAX_PAGE_SIZE}, not {size}."),
            )),
            _ => Ok(value),
        };
        let first = check("first", args.first)?;
        let last = check("last", args.last)?;
        if first.is_some() && last.is_some() {
            return Err(ApiError::bad_input(
                "last",
                "Pass `first` or `last`, not both.",
            ));
        }
        let after = args
            .after
            .as_deref()
            .map(|cursor| decode_cursor(cursor, ordering, "after"))
            .transpose()?;
        let before = args
            .before
            .as_deref()
            .map(|cursor| decode_cursor(cursor, ordering, "before"))
            .transpose()?;
        let (size, from_end) = match (first, last) {
            (_, Some(last)) => (last, true),
            (Some(first), None) => (first, false),
            (None, None) => (DEFAULT_PAGE_SIZE, false),
        };
        let size = usize::try_from(size).unwrap_or_default();
        Ok(Self {
            window: Window {
                after,
                before,
                limit: i64::try_from(size + 1).unwrap_or(i64::MAX),
                from_end,
            },
            size,
            has_after: args.after.is_some(),
            has_before: args.before.is_some(),
        })
    }

    /// Trims the extra row and builds the edges and page info.
    pub fn finish<T, N>(
        &self,
        rows: Vec<T>,
        ordering: &str,
        position: impl Fn(&T) -> Position,
        node: impl Fn(T) -> N,
    ) -> (Vec<Edge<N>>, PageInfo) {
        let (rows, sides) = self.trim(rows);
        let edges: Vec<Edge<N>> = rows
            .into_iter()
            .map(|row| Edge {
                cursor: encode_cursor(ordering, &position(&row)),
                node: node(row),
            })
            .collect();
        let page_info = PageInfo {
            has_next_page: sides.has_next_page,
            has_previous_page: sides.has_previous_page,
            start_cursor: edges.first().map(|edge| edge.cursor.clone()),
            end_cursor: edges.last().map(|edge| edge.cursor.clone()),
        };
        (edges, page_info)
    }

    /// Trims the extra row and tells whether there is more on either side; the cursors
    /// are left to the caller ([`encode_cursor`]), which may not need them.
    pub fn trim<T>(&self, mut rows: Vec<T>) -> (Vec<T>, Sides) {
        let more = rows.len() > self.size;
        if more {
            if self.window.from_end {
                rows.remove(0);
            } else {
                rows.truncate(self.size);
            }
        }
        // As the Relay spec allows: the side we did not read reports whether a cursor
        // bounded the page there.
        let (has_next_page, has_previous_page) = if self.window.from_end {
            (self.has_before, more)
        } else {
            (more, self.has_after)
        };
        let sides = Sides {
            has_next_page,
            has_previous_page,
        };
        (rows, sides)
    }
}

/// Checks the arguments, reads the page with `fetch`, and builds its edges and page info.
pub async fn load_page<T, N, Fut>(
    args: &PageArgs,
    ordering: &str,
    fetch: impl FnOnce(Window) -> Fut,
    position: impl Fn(&T) -> Position,
    node: impl Fn(T) -> N,
) -> Result<(Vec<Edge<N>>, PageInfo), ApiError>
where
    Fut: Future<Output = Result<Vec<T>, StoreError>>,
{
    let page = PageRequest::new(args, ordering)?;
    let rows = fetch(page.window.clone()).await?;
    Ok(page.finish(rows, ordering, position, node))
}

/// A page of a list read as `reader` sees it: rows by `page`, the whole list counted by
/// `count` only when a client asks for `totalCount`.
pub async fn reader_page<T, N, PageFut, CountFut>(
    args: &PageArgs,
    ordering: &str,
    (pool, reader): (PgPool, Reader),
    page: impl FnOnce(PgPool, Reader, Window) -> PageFut,
    count: impl Fn(PgPool, Reader) -> CountFut + Send + Sync + 'static,
    position: impl Fn(&T) -> Position,
    node: impl Fn(T) -> N,
) -> Result<(Vec<Edge<N>>, PageInfo, TotalCount), ApiError>
where
    PageFut: Future<Output = Result<Vec<T>, StoreError>>,
    CountFut: Future<Output = Result<i64, StoreError>> + Send + 'static,
{
    let counted = pool.clone();
    let (edges, page_info) = load_page(
        args,
        ordering,
        |window| page(pool, reader, window),
        position,
        node,
    )
    .await?;
    let total_count = TotalCount::new(move || {
        let counting = count(counted.clone(), reader);
        async move { Ok(counting.await?) }
    });
    Ok((edges, page_info, total_count))
}

/// Where a page sits in its list.
#[derive(Debug, Clone, SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// Whether a page has more rows after or before it.
#[derive(Debug, Clone, Copy)]
pub struct Sides {
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

#[derive(Debug, Clone)]
pub struct Edge<N> {
    pub cursor: String,
    pub node: N,
}

type CountFuture = Pin<Box<dyn Future<Output = Result<i64, ApiError>> + Send>>;

/// Counts the whole list, only when a client asks for `totalCount`.
#[derive(Clone)]
pub struct TotalCount(Arc<dyn Fn() -> CountFuture + Send + Sync>);

impl TotalCount {
    pub fn new<F, Fut>(count: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<i64, ApiError>> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(count())))
    }

    pub async fn resolve(&self) -> Result<i64> {
        Ok((self.0)().await?)
    }
}

/// Declares `<Name>Connection` and `<Name>Edge` object types for a node type.
macro_rules! connection_types {
    ($connection:ident, $edge:ident, $node:ty, $doc:literal) => {
        #[doc = $doc]
        pub struct $connection {
            pub edges: Vec<$crate::graphql::connection::Edge<$node>>,
            pub page_info: $crate::graphql::connection::PageInfo,
            pub total_count: $crate::graphql::connection::TotalCount,
        }

        impl
            From<(
                Vec<$crate::graphql::connection::Edge<$node>>,
                $crate::graphql::connection::PageInfo,
                $crate::graphql::connection::TotalCount,
            )> for $connection
        {
            fn from(
                (edges, page_info, total_count): (
                    Vec<$crate::graphql::connection::Edge<$node>>,
                    $crate::graphql::connection::PageInfo,
                    $crate::graphql::connection::TotalCount,
                ),
            ) -> Self {
                Self {
                    edges,
                    page_info,
                    total_count,
                }
            }
        }

        #[async_graphql::Object]
        impl $connection {
            async fn edges(&self) -> Vec<$edge<'_>> {
                self.edges.iter().map($edge).collect()
            }

            /// The nodes of `edges`, for clients that need no cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|edge| &edge.node).collect()
            }

            async fn page_info(&self) -> &$crate::graphql::connection::PageInfo {
                &self.page_info
            }

            /// How many items the whole list holds, across all pages.
            async fn total_count(&self) -> async_graphql::Result<i64> {
                self.total_count.resolve().await
            }
        }

        pub struct $edge<'a>(&'a $crate::graphql::connection::Edge<$node>);

        #[async_graphql::Object]
        impl $edge<'_> {
            /// Opaque; pass it as `after` or `before`.
            async fn cursor(&self) -> &str {
                &self.0.cursor
            }

            async fn node(&self) -> &$node {
                &self.0.node
            }
        }
    };
}
pub(crate) use connection_types;

pub fn encode_cursor(ordering: &str, position: &Position) -> String {
    let key = match &position.key {
        SortKey::Time(time) => format!("t{}", time.to_rfc3339()),
        SortKey::Text(text) => format!("s{text}"),
        SortKey::Int(number) => format!("i{number}"),
    };
    URL_SAFE_NO_PAD.encode(format!("{ordering}|{}|{key}", position.id))
}

fn decode_cursor(cursor: &str, ordering: &str, field: &str) -> Result<Position, ApiError> {
    let invalid = || {
        ApiError::bad_input(
            field,
            format!("`{field}` is not a cursor of this list; use a cursor this list returned."),
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, '|');
    let (Some(cursor_ordering), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if cursor_ordering != ordering {
        return Err(ApiError::bad_input(
            field,
            format!("`{field}` is a cursor of a differently ordered list; pass the same orderBy."),
        ));
    }
    let id = id.parse::<i64>().map_err(|_| invalid())?;
    // A forged cursor may name this ordering with another kind of key, or a text
    // PostgreSQL cannot hold: refused here, not by the database as an internal error.
    let key = match (key.split_at_checked(1), cursor_key_kind(ordering)) {
        (Some(("t", time)), Some(KeyKind::Time)) => SortKey::Time(
            DateTime::parse_from_rfc3339(time)
                .map_err(|_| invalid())?
                .with_timezone(&Utc),
        ),
        (Some(("s", text)), Some(KeyKind::Text)) if !text.contains('\0') => {
            SortKey::Text(text.to_owned())
        }
        (Some(("i", number)), Some(KeyKind::Int)) => {
            SortKey::Int(number.parse().map_err(|_| invalid())?)
        }
        _ => return Err(invalid()),
    };
    Ok(Position { key, id })
}

/// What a list's rows sort by, so what its cursors carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Time,
    Text,
    Int,
}

/// The kind of key in the cursors of `ordering` (the names `post_ordering`,
/// `comment_ordering` and the lists' constants give), as their position functions make
/// them; `None` for a name no list uses.
fn cursor_key_kind(ordering: &str) -> Option<KeyKind> {
    match ordering.split(':').collect::<Vec<_>>()[..] {
        ["posts", "published" | "updated", _] => Some(KeyKind::Time),
        ["posts", "title", _] | ["tags", "name"] | ["authors", "name"] | ["thread"] => {
            Some(KeyKind::Text)
        }
        ["comments" | "replies", _] => Some(KeyKind::Int),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let position = Position {
            key: SortKey::Text("a|b".to_owned()),
            id: 7,
        };
        let cursor = encode_cursor("posts:title:asc", &position);
        assert_eq!(
            decode_cursor(&cursor, "posts:title:asc", "after").ok(),
            Some(position)
        );
        let time = Position {
            key: SortKey::Time(DateTime::from_timestamp(1_377_172_800, 123_456_000).expect("time")),
            id: 1,
        };
        let cursor = encode_cursor("posts:published:desc", &time);
        assert_eq!(
            decode_cursor(&cursor, "posts:published:desc", "after").ok(),
            Some(time)
        );
    }

    #[test]
    fn foreign_and_malformed_cursors_are_refused() {
        let text = |text: &str| Position {
            key: SortKey::Text(text.to_owned()),
            id: 1,
        };
        let cursor = encode_cursor("posts:title:asc", &text("x"));
        // The right ordering's name with another kind of key, as a forger would write it.
        let time_key = encode_cursor(
            "tags:name",
            &Position {
                key: SortKey::Time(DateTime::from_timestamp(0, 0).expect("time")),
                id: 1,
            },
        );
        let number_key = encode_cursor(
            "posts:published:desc",
            &Position {
                key: SortKey::Int(123),
                id: 5,
            },
        );
        let nul = encode_cursor("authors:name", &text("A\0"));
        let unknown = encode_cursor("no-such-list", &text("x"));
        for (bad, ordering) in [
            (cursor.as_str(), "posts:published:desc"),
            ("%%%", "posts:title:asc"),
            ("dGl0bGU", "posts:title:asc"),
            (time_key.as_str(), "tags:name"),
            (number_key.as_str(), "posts:published:desc"),
            (nul.as_str(), "authors:name"),
            (unknown.as_str(), "no-such-list"),
        ] {
            let error = decode_cursor(bad, ordering, "after").expect_err("refused");
            assert_eq!(error.code(), "BAD_USER_INPUT");
        }
    }

    /// Every list's ordering has a key kind, and it is the kind its positions hold.
    #[test]
    fn every_ordering_names_the_kind_of_key_its_positions_hold() {
        use super::super::authors::AUTHOR_ORDERING;
        use super::super::objects::{
            THREAD_ORDERING, comment_ordering, comment_position, post_ordering, thread_position,
        };
        use super::super::tags::TAG_ORDERING;
        use gazette_store::comments::{Comment, CommentStatus, Parent};
        use gazette_store::keyset::Direction;
        use gazette_store::posts::{Post, PostOrder, PostOrderField, PostStatus};

        let kind = |key: &SortKey| match key {
            SortKey::Time(_) => KeyKind::Time,
            SortKey::Text(_) => KeyKind::Text,
            SortKey::Int(_) => KeyKind::Int,
        };
        let at = DateTime::from_timestamp(0, 0).expect("time");
        let post = Post {
            id: 1,
            author_id: 1,
            slug: "s".to_owned(),
            title: "t".to_owned(),
            body: String::new(),
            body_html: String::new(),
            excerpt: String::new(),
            custom_excerpt: false,
            status: PostStatus::Published,
            comments_open: true,
            published_at: Some(at),
            created_at: at,
            updated_at: at,
        };
        for field in [
            PostOrderField::PublishedAt,
            PostOrderField::UpdatedAt,
            PostOrderField::Title,
        ] {
            for direction in [Direction::Asc, Direction::Desc] {
                let ordering = post_ordering(PostOrder { field, direction });
                assert_eq!(
                    cursor_key_kind(ordering),
                    Some(kind(&post.position(field).key)),
                    "{ordering}"
                );
            }
        }
        let comment = Comment {
            id: 1,
            post_id: 1,
            parent_id: None,
            path: vec![1],
            depth: 0,
            author_name: "a".to_owned(),
            author_email: None,
            author_url: None,
            author_id: None,
            body: String::new(),
            body_html: String::new(),
            status: CommentStatus::Published,
            client_address: None,
            client_mutation_id: None,
            created_at: at,
            updated_at: at,
            post_author_id: 1,
        };
        for parent in [Parent::Post, Parent::Comment] {
            for newest_first in [false, true] {
                let ordering = comment_ordering(parent, newest_first);
                let expected = Some(kind(&comment_position(&comment).key));
                assert_eq!(cursor_key_kind(ordering), expected, "{ordering}");
            }
        }
        let thread = Some(kind(&thread_position(&comment).key));
        assert_eq!(cursor_key_kind(THREAD_ORDERING), thread);
        // Tags and authors sort by name.
        assert_eq!(cursor_key_kind(TAG_ORDERING), Some(KeyKind::Text));
        assert_eq!(cursor_key_kind(AUTHOR_ORDERING), Some(KeyKind::Text));
    }

    #[test]
    fn page_sizes_are_bounded() {
        let too_big = PageArgs::new(Some(101), None, None, None);
        assert!(PageRequest::new(&too_big, "x").is_err());
        let negative = PageArgs::new(None, None, Some(-1), None);
        assert!(PageRequest::new(&negative, "x").is_err());
        let both = PageArgs::new(Some(1), None, Some(1), None);
        assert!(PageRequest::new(&both, "x").is_err());
        let fine = PageRequest::new(&PageArgs::new(Some(100), None, None, None), "x").expect("ok");
        assert_eq!(fine.window.limit, 101);
    }

    #[test]
    fn pages_report_their_neighbours() {
        let position = |n: &i64| Position {
            key: SortKey::Text(n.to_string()),
            id: *n,
        };
        let forward = PageRequest::new(&PageArgs::new(Some(2), None, None, None), "x").expect("ok");
        let (edges, info) = forward.finish(vec![1, 2, 3], "x", position, |n| n);
        assert_eq!(edges.iter().map(|e| e.node).collect::<Vec<_>>(), [1, 2]);
        assert!(info.has_next_page && !info.has_previous_page);

        let backward =
            PageRequest::new(&PageArgs::new(None, None, Some(2), None), "x").expect("ok");
        let (edges, info) = backward.finish(vec![1, 2, 3], "x", position, |n| n);
        assert_eq!(edges.iter().map(|e| e.node).collect::<Vec<_>>(), [2, 3]);
        assert!(!info.has_next_page && info.has_previous_page);
    }
}
