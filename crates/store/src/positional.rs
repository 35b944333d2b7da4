//! Decoding rows by column position. sqlx's derived `FromRow` looks every column up by
//! name, which cost a tenth of a page's CPU on the read path (docs/benchmarks.md); the
//! hand-written decoders read by position, and debug builds (every test) check that the
//! statement's columns are the ones the decoder expects.

use sqlx::postgres::PgRow;
use sqlx::{Column, Decode, Postgres, Row, Type};

use crate::budget::TextBytes;

/// A row type decoded by position from a run of a statement's columns.
pub(crate) trait Positional: Sized {
    /// How many columns it reads.
    const COLUMNS: usize;

    /// Decodes it from `row`, its first column at index `first`.
    fn from_columns(row: &PgRow, first: usize) -> Result<Self, sqlx::Error>;
}

/// `T` read without the texts its query does not show (they come back empty), then an
/// `omitted_bytes` column: what those texts would have counted, so a narrow read is
/// charged to the read budget as the whole one would be.
pub(crate) struct Narrowed<T> {
    pub(crate) value: T,
    omitted_bytes: i64,
}

impl<T> Narrowed<T> {
    pub(crate) fn new(value: T, omitted_bytes: i64) -> Self {
        Self {
            value,
            omitted_bytes,
        }
    }
}

impl<T: Positional> Positional for Narrowed<T> {
    const COLUMNS: usize = T::COLUMNS + 1;

    fn from_columns(row: &PgRow, first: usize) -> Result<Self, sqlx::Error> {
        let omitted = first + T::COLUMNS;
        expect_columns(row, omitted, &["omitted_bytes"])?;
        Ok(Self {
            value: T::from_columns(row, first)?,
            omitted_bytes: column(row, omitted)?,
        })
    }
}

impl<'r, T: Positional> sqlx::FromRow<'r, PgRow> for Narrowed<T> {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Self::from_columns(row, 0)
    }
}

impl<T: TextBytes> TextBytes for Narrowed<T> {
    fn text_bytes(&self) -> usize {
        let omitted = usize::try_from(self.omitted_bytes).unwrap_or(0);
        self.value.text_bytes() + omitted
    }
}

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
