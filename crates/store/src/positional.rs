//! Decoding rows by column position. sqlx's derived `FromRow` looks every column up by
//! name, which cost a tenth of a page's CPU on the read path (docs/benchmarks.md); the
//! hand-written decoders read by position, and debug builds (every test) check that the
//! statement's columns are the ones the decoder expects.

use sqlx::postgres::PgRow;
use sqlx::{Column, Row};

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
