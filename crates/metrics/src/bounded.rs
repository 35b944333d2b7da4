use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// A label whose values come from outside (a client's operation name): well-formed values
/// are admitted until `capacity` distinct ones were seen, every other value is `overflow`.
/// A series costs memory for the life of the process, so a hostile client sending a new
/// name with each request must not create a series each time.
#[derive(Debug)]
pub struct BoundedLabels {
    admitted: Mutex<HashSet<String>>,
    capacity: usize,
    max_len: usize,
    overflow: &'static str,
    valid: fn(char) -> bool,
}

impl BoundedLabels {
    pub fn new(
        capacity: usize,
        max_len: usize,
        overflow: &'static str,
        valid: fn(char) -> bool,
    ) -> Self {
        Self {
            admitted: Mutex::default(),
            capacity,
            max_len,
            overflow,
            valid,
        }
    }

    /// `value` if it is (or may become) one of the admitted values, else the overflow value.
    pub fn admit<'a>(&self, value: &'a str) -> &'a str {
        let well_formed = !value.is_empty()
            && value.len() <= self.max_len
            && value.chars().all(self.valid)
            && !value.starts_with(|first: char| first.is_ascii_digit());
        if !well_formed {
            return self.overflow;
        }
        let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
        if admitted.contains(value) {
            return value;
        }
        if admitted.len() >= self.capacity {
            return self.overflow;
        }
        admitted.insert(value.to_owned());
        value
    }
}

#[cfg(test)]
mod tests {
    use super::BoundedLabels;

    fn names() -> BoundedLabels {
        BoundedLabels::new(2, 8, "other", |c| c.is_ascii_alphanumeric() || c == '_')
    }

    #[test]
    fn admits_well_formed_values_up_to_the_capacity() {
        let labels = names();
        assert_eq!(labels.admit("Posts"), "Posts");
        assert_eq!(labels.admit("Post"), "Post");
        assert_eq!(labels.admit("Posts"), "Posts", "an admitted value stays");
        assert_eq!(labels.admit("Third"), "other", "past the capacity");
    }

    #[test]
    fn malformed_values_never_take_a_place() {
        let labels = names();
        for bad in ["", "has space", "much_too_long_name", "1st", "é"] {
            assert_eq!(labels.admit(bad), "other", "{bad:?}");
        }
        assert_eq!(labels.admit("Fine"), "Fine");
    }
}
