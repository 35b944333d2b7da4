//! One-dimensional arrays in PostgreSQL's binary format, read in place. A post page's
//! comments come as one row of parallel arrays (`comments::post_pages`), which
//! costs the server a fraction of a row per comment: sqlx's row machinery (a message, a
//! row and its column table per comment) and its generic array decoding (a type check
//! and a clone of the element type per element) are skipped.

use chrono::{DateTime, Utc};
use sqlx::error::BoxDynError;

/// PostgreSQL's type oids for the element types read here.
pub(crate) const BYTEA: i32 = 17;
pub(crate) const INT4: i32 = 23;
pub(crate) const INT8: i32 = 20;
pub(crate) const TEXT: i32 = 25;
pub(crate) const TIMESTAMPTZ: i32 = 1184;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00:00 UTC).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The elements of a one-dimensional array of `element_type`, each `None` for a null.
#[derive(Debug, Clone)]
pub(crate) struct Elements<'r> {
    rest: &'r [u8],
    remaining: usize,
}

impl<'r> Elements<'r> {
    /// No elements.
    pub(crate) fn empty() -> Self {
        Self {
            rest: &[],
            remaining: 0,
        }
    }

    /// Reads the array's header: `bytes` is a column's binary value (`None`, a null
    /// array, reads as an empty one: `array_agg` over no rows is null).
    pub(crate) fn of(bytes: Option<&'r [u8]>, element_type: i32) -> Result<Self, BoxDynError> {
        let Some(bytes) = bytes else {
            return Ok(Self::empty());
        };
        let word = |at: usize| -> Result<i32, BoxDynError> {
            let word = bytes.get(at..at + 4).ok_or("an array ends early")?;
            Ok(i32::from_be_bytes(word.try_into()?))
        };
        // Dimensions, a has-nulls flag, the element type, then each dimension's length
        // and lower bound.
        let (remaining, rest) = match word(0)? {
            0 => (0, &[][..]),
            1 => {
                if word(8)? != element_type {
                    return Err(format!(
                        "an array of type {} where {element_type} was expected",
                        word(8)?
                    )
                    .into());
                }
                let length = usize::try_from(word(12)?)?;
                let rest = bytes.get(20..).ok_or("an array ends early")?;
                // Every element takes four bytes at least: a length beyond that is not
                // allocated for.
                if length > rest.len() / 4 {
                    return Err("an array longer than its bytes".into());
                }
                (length, rest)
            }
            dimensions => return Err(format!("an array of {dimensions} dimensions").into()),
        };
        Ok(Self { rest, remaining })
    }

    /// How many elements are left.
    pub(crate) fn len(&self) -> usize {
        self.remaining
    }

    /// The next element's bytes (`None` for a null); an error past the end.
    pub(crate) fn next_bytes(&mut self) -> Result<Option<&'r [u8]>, BoxDynError> {
        if self.remaining == 0 {
            return Err("an array ends before its neighbours".into());
        }
        let (size, rest) = self
            .rest
            .split_first_chunk::<4>()
            .ok_or("an array ends early")?;
        let size = i32::from_be_bytes(*size);
        self.remaining -= 1;
        if size == -1 {
            self.rest = rest;
            return Ok(None);
        }
        let size = usize::try_from(size).map_err(|_| "an element of negative length")?;
        let element = rest.get(..size).ok_or("an array ends early")?;
        self.rest = &rest[size..];
        Ok(Some(element))
    }

    /// Checks that every element was read and nothing follows the last.
    pub(crate) fn finish(&self) -> Result<(), BoxDynError> {
        match (self.remaining, self.rest.is_empty()) {
            (0, true) => Ok(()),
            _ => Err("an array with more than was read".into()),
        }
    }

    /// The next element decoded, `None` for a null.
    pub(crate) fn next_optional<T>(
        &mut self,
        decode: impl FnOnce(&[u8]) -> Result<T, BoxDynError>,
    ) -> Result<Option<T>, BoxDynError> {
        self.next_bytes()?.map(decode).transpose()
    }

    /// The next element, which must not be null.
    pub(crate) fn next_present(&mut self) -> Result<&'r [u8], BoxDynError> {
        self.next_bytes()?
            .ok_or_else(|| "a null where a value was expected".into())
    }
}

pub(crate) fn int8(bytes: &[u8]) -> Result<i64, BoxDynError> {
    Ok(i64::from_be_bytes(bytes.try_into()?))
}

pub(crate) fn int4(bytes: &[u8]) -> Result<i32, BoxDynError> {
    Ok(i32::from_be_bytes(bytes.try_into()?))
}

pub(crate) fn text(bytes: &[u8]) -> Result<String, BoxDynError> {
    Ok(std::str::from_utf8(bytes)?.to_owned())
}

pub(crate) fn timestamptz(bytes: &[u8]) -> Result<DateTime<Utc>, BoxDynError> {
    let micros = int8(bytes)?;
    micros
        .checked_add(POSTGRES_EPOCH_MICROS)
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| "a time out of range".into())
}

/// A `bigint[]` without nulls, in its binary format: a comment's path, as a row carries it
/// or, inside a page's arrays, as `array_send` wrote it (`array_agg` cannot gather arrays
/// of different lengths).
pub(crate) fn int8_array(bytes: &[u8]) -> Result<Vec<i64>, BoxDynError> {
    let mut elements = Elements::of(Some(bytes), INT8)?;
    let ids = (0..elements.len())
        .map(|_| int8(elements.next_present()?))
        .collect::<Result<_, BoxDynError>>()?;
    elements.finish()?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-dimensional binary array as PostgreSQL's `array_send` writes it.
    fn array(element_type: i32, elements: &[Option<&[u8]>]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&1i32.to_be_bytes());
        bytes.extend_from_slice(&i32::from(elements.iter().any(Option::is_none)).to_be_bytes());
        bytes.extend_from_slice(&element_type.to_be_bytes());
        bytes.extend_from_slice(&(elements.len() as i32).to_be_bytes());
        bytes.extend_from_slice(&1i32.to_be_bytes());
        for element in elements {
            match element {
                Some(value) => {
                    bytes.extend_from_slice(&(value.len() as i32).to_be_bytes());
                    bytes.extend_from_slice(value);
                }
                None => bytes.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        bytes
    }

    #[test]
    fn reads_elements_and_nulls_in_order() {
        let one = 1i64.to_be_bytes();
        let two = (-2i64).to_be_bytes();
        let bytes = array(INT8, &[Some(&one), None, Some(&two)]);
        let mut elements = Elements::of(Some(&bytes), INT8).expect("reads");
        assert_eq!(elements.len(), 3);
        assert_eq!(elements.next_optional(int8).expect("reads"), Some(1));
        assert_eq!(elements.next_bytes().expect("reads"), None);
        assert_eq!(
            int8(elements.next_present().expect("reads")).expect("reads"),
            -2
        );
        assert_eq!(elements.len(), 0);
        assert!(elements.next_bytes().is_err());
    }

    #[test]
    fn a_null_or_empty_array_has_no_elements() {
        assert_eq!(Elements::of(None, TEXT).expect("reads").len(), 0);
        let empty = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25];
        assert_eq!(Elements::of(Some(&empty), TEXT).expect("reads").len(), 0);
    }

    #[test]
    fn refuses_the_wrong_type_short_arrays_and_nulls_where_values_must_be() {
        let bytes = array(INT4, &[Some(&7i32.to_be_bytes())]);
        assert!(Elements::of(Some(&bytes), INT8).is_err());
        let truncated = &bytes[..bytes.len() - 1];
        assert!(
            Elements::of(Some(truncated), INT4)
                .expect("reads")
                .next_bytes()
                .is_err()
        );
        let with_null = array(TEXT, &[None]);
        assert!(
            Elements::of(Some(&with_null), TEXT)
                .expect("reads")
                .next_present()
                .is_err()
        );
        assert!(int4(&[0, 1]).is_err());
        let mut too_long = array(INT8, &[Some(&1i64.to_be_bytes())]);
        too_long[12..16].copy_from_slice(&1_000_000i32.to_be_bytes());
        assert!(Elements::of(Some(&too_long), INT8).is_err());
        let mut negative = array(TEXT, &[Some(b"x")]);
        negative[20..24].copy_from_slice(&(-2i32).to_be_bytes());
        assert!(
            Elements::of(Some(&negative), TEXT)
                .expect("reads")
                .next_bytes()
                .is_err()
        );
        assert!(text(&[0xff]).is_err());
    }

    #[test]
    fn times_count_from_the_postgres_epoch() {
        let time = timestamptz(&0i64.to_be_bytes()).expect("reads");
        assert_eq!(time.to_rfc3339(), "2000-01-01T00:00:00+00:00");
        let later = timestamptz(&1_500_000i64.to_be_bytes()).expect("reads");
        assert_eq!(
            later.timestamp_micros() - time.timestamp_micros(),
            1_500_000
        );
        assert!(timestamptz(&i64::MAX.to_be_bytes()).is_err());
    }

    #[test]
    fn paths_as_sent() {
        let ids: Vec<Vec<u8>> = [1i64, 20, 300]
            .iter()
            .map(|id| id.to_be_bytes().to_vec())
            .collect();
        let elements: Vec<Option<&[u8]>> = ids.iter().map(|id| Some(id.as_slice())).collect();
        assert_eq!(
            int8_array(&array(INT8, &elements)).expect("reads"),
            vec![1, 20, 300]
        );
        let empty = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20];
        assert_eq!(int8_array(&empty).expect("reads"), Vec::<i64>::new());
        assert!(int8_array(&array(INT8, &[None])).is_err());
        let mut trailing = array(INT8, &elements);
        trailing.extend_from_slice(&[0, 0, 0, 0]);
        assert!(int8_array(&trailing).is_err());
        assert!(int8_array(&array(INT4, &[Some(&[0, 0, 0, 1])])).is_err());
    }
}
