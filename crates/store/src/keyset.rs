//! Keyset pagination: a page is "the rows after (or before) this position", where a
//! position is a row's sort key and id. Unlike OFFSET, page 1,000 costs what page 1 costs.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// A row's sort key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SortKey {
    Time(DateTime<Utc>),
    Text(String),
    Int(i64),
}

/// A row's position in an ordering: its sort key, then its id to break ties.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    pub key: SortKey,
    pub id: i64,
}

/// A window of an ordered list: at most `limit` rows strictly between `after` and `before`,
/// counted from the start, or from the end when `from_end`. Returned in list order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Window {
    pub after: Option<Position>,
    pub before: Option<Position>,
    pub limit: i64,
    pub from_end: bool,
}

/// Appends the window's bounds (` and …`), its `order by` and its `limit` to a query whose
/// rows are ordered by `key` then `id` in `direction`.
pub(crate) fn push_window(
    query: &mut QueryBuilder<Postgres>,
    key: &str,
    id: &str,
    direction: Direction,
    window: &Window,
    limit: Limit,
) {
    let ascending = direction == Direction::Asc;
    let bounds = [
        (&window.after, if ascending { ">" } else { "<" }),
        (&window.before, if ascending { "<" } else { ">" }),
    ];
    for (position, operator) in bounds {
        if let Some(position) = position {
            query.push(format!(" and ({key}, {id}) {operator} ("));
            match &position.key {
                SortKey::Time(time) => query.push_bind(*time),
                SortKey::Text(text) => query.push_bind(text.clone()),
                SortKey::Int(number) => query.push_bind(*number),
            };
            query.push(", ").push_bind(position.id).push(")");
        }
    }
    // Counting from the end reads the list backwards; the caller flips the rows back.
    let scan = if ascending != window.from_end {
        "asc"
    } else {
        "desc"
    };
    query.push(format!(" order by {key} {scan}, {id} {scan} limit "));
    match limit {
        Limit::Bound => query.push_bind(window.limit),
        // A number the statement's plan can see (it is only ever an integer).
        Limit::Written => query.push(window.limit.to_string()),
    };
}

/// How [`push_window`] gives the statement its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// A parameter: one plan for every page size.
    Bound,
    /// Written into the statement, for a statement planned for its values.
    Written,
}

/// Puts rows read by [`push_window`] back in list order.
pub(crate) fn in_list_order<T>(mut rows: Vec<T>, window: &Window) -> Vec<T> {
    if window.from_end {
        rows.reverse();
    }
    rows
}
