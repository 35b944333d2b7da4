//! Decoding rows by column position. sqlx's derived `FromRow` looks every column up by
//! name, which cost a tenth of a page's CPU on the read path (docs/benchmarks.md); the
//! hand-written decoders read by position, and debug builds (every test) check that the
//! statement's columns are the ones the decoder expects.

use sqlx::postgres::PgRow;
use sqlx::{Column, Decode, Postgres, Row, Type};

/// Checks, in debug builds, that `row`'s columns from `first` on are named `names`.
pub(crate) fn expect_columns(row: &PgRow, first: usize, names: &[&str]) -> Result<(), sqlx::Error> {
    if !cfg!(debug_assertions) {
        return Ok(());
    }
    for (offset, name) in names.iter().enumerate() {
        let found = row.columns().get(first + offset).map(Column::name);
        if found != Some(*name) {
            return Err(sqlx::Error::ColumnNotFound(format!(
                "{name} at {} (found {found:?})",
                first + offset
            )));
        }
    }
    Ok(())
}

/// Column `index` of `row`. Debug builds (every test) check its type against `T`, as
/// `try_get` does; release builds skip the check, which cost a twentieth of a thread
/// page's server CPU (a type clone and compare per column). What makes skipping it
/// sound is that the statement's columns are the decoder's, which `expect_columns` and
/// this check verify in every test: with a column out of place, a release build could
/// decode a wrong value (an `int4` read as an `i64`) or fail on bytes a decoder does not
/// expect, where a debug build refuses the row.
pub(crate) fn column<'r, T>(row: &'r PgRow, index: usize) -> Result<T, sqlx::Error>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    if cfg!(debug_assertions) {
        row.try_get(index)
    } else {
        row.try_get_unchecked(index)
    }
}
