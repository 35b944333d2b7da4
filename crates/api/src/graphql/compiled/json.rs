//! JSON text written as serde_json writes it, faster for the long texts of an answer
//! (comment and post bodies): eight bytes are looked at a time for one that needs an
//! escape, and the runs between are copied whole. serde_json looks up every byte in a
//! table, which was a twentieth of a thread page's server time. Times are written as
//! chrono's `to_rfc3339` writes them, without the `String` and the formatting machinery it
//! goes through for each of a page's comments.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Writes `text` as a JSON string, byte for byte as `serde_json::to_writer` does.
pub fn write_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(offset) = first_to_escape(&bytes[start..]) {
        let at = start + offset;
        out.extend_from_slice(&bytes[start..at]);
        escape(out, bytes[at]);
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes `time` as a JSON string, byte for byte as `serde_json` writes
/// `time.to_rfc3339()` (which is how async-graphql writes a `DateTime<Utc>`): the
/// fraction of a second in 3, 6 or 9 digits, the fewest that hold it, none for a whole
/// second, and the offset `+00:00`. A year outside 0–9999 or a leap second is left to
/// chrono.
pub fn write_time(out: &mut Vec<u8>, time: DateTime<Utc>) {
    let (year, nanos) = (time.year(), time.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        write_string(out, &time.to_rfc3339());
        return;
    }
    out.reserve(40);
    out.push(b'"');
    // The year is within 0..=9999: the check above.
    let parts = [
        (year.unsigned_abs(), 4, b'-'),
        (time.month(), 2, b'-'),
        (time.day(), 2, b'T'),
        (time.hour(), 2, b':'),
        (time.minute(), 2, b':'),
    ];
    for (value, width, separator) in parts {
        push_digits(out, value, width);
        out.push(separator);
    }
    push_digits(out, time.second(), 2);
    let fraction = match nanos {
        0 => None,
        _ if nanos % 1_000_000 == 0 => Some((nanos / 1_000_000, 3)),
        _ if nanos % 1_000 == 0 => Some((nanos / 1_000, 6)),
        _ => Some((nanos, 9)),
    };
    if let Some((value, width)) = fraction {
        out.push(b'.');
        push_digits(out, value, width);
    }
    out.extend_from_slice(b"+00:00\"");
}

/// `value`'s last `width` decimal digits, zero-padded.
fn push_digits(out: &mut Vec<u8>, value: u32, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    let mut rest = value;
    for place in out[start..].iter_mut().rev() {
        // `rest % 10` is a digit.
        *place = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
}

/// Where the first byte that JSON must escape (`"`, `\`, a control character) is.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    /// Whether any byte of `word` is zero (the classic test; the byte is then looked for
    /// one by one, so a word it flagged wrongly would only cost that look).
    fn has_zero(word: u64) -> bool {
        word.wrapping_sub(ONES) & !word & HIGHS != 0
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word);
        // A byte below 0x20 is one whose three top bits are clear; `"` and `\` are
        // found as zero bytes of the word xored with them.
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
        if (control
            || has_zero(word ^ (ONES * u64::from(b'"')))
            || has_zero(word ^ (ONES * u64::from(b'\\'))))
            && let Some(at) = chunk.iter().position(|&byte| needs_escape(byte))
        {
            return Some(offset + at);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&byte| needs_escape(byte))
        .map(|at| offset + at)
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// serde_json's escape of one byte that needs one.
fn escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match byte {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0xf)],
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(text: &str) {
        let mut ours = Vec::new();
        write_string(&mut ours, text);
        let theirs = serde_json::to_vec(text).expect("serde_json writes a string");
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "for {text:?}"
        );
    }

    #[test]
    fn times_are_written_as_serde_json_writes_chrono_s_rfc_3339() {
        let mut times = vec![
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::UNIX_EPOCH,
        ];
        for text in [
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2013-05-02T09:30:00.5Z",
            "2026-12-07T10:10:08.120Z",
            "2026-12-07T10:10:08.123456Z",
            "2026-12-07T10:10:08.000001Z",
            "2026-12-07T10:10:08.100000001Z",
            "2016-12-31T23:59:60.25Z",
        ] {
            times.push(
                DateTime::parse_from_rfc3339(text)
                    .expect("a valid time")
                    .with_timezone(&Utc),
            );
        }
        // Microseconds as PostgreSQL stores them, spread over the years Gazette sees.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // From the year 1019 to 2100.
            let micros = i64::try_from(seed % 34_102_444_800_000_000).expect("fits")
                - 30_000_000_000_000_000;
            let micros = match seed % 3 {
                0 => micros - micros % 1_000_000,
                1 => micros - micros % 1_000,
                _ => micros,
            };
            times.push(DateTime::from_timestamp_micros(micros).expect("in range"));
        }
        let written_here = times
            .iter()
            .filter(|time| (0..=9999).contains(&time.year()) && time.nanosecond() < 1_000_000_000)
            .count();
        assert!(
            written_here > 2_000,
            "{written_here} times took the fast path"
        );
        for time in times {
            let mut ours = Vec::new();
            write_time(&mut ours, time);
            let theirs = serde_json::to_vec(&time.to_rfc3339()).expect("serde_json writes it");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "for {time:?}"
            );
        }
    }

    #[test]
    fn every_character_below_0x80_and_some_above_are_written_as_serde_json_writes_them() {
        for code in 0u32..0x80 {
            let character = char::from_u32(code).expect("ASCII");
            // At every place in an eight-byte word, and across two.
            for before in 0..17 {
                both(&format!("{}{character}tail", "a".repeat(before)));
            }
        }
        for text in [
            "",
            "plain",
            "exactly8",
            "<p>A \"quoted\" word, a back\\slash and a tab\there.</p>",
            "\u{7f}\u{80}é ü 中文 🎉 \u{2028}\u{2029}",
            "\"\"\"\"\"\"\"\"\"",
            "\u{0}\u{1}\u{1f}\u{20}\u{21}\u{22}\u{5b}\u{5c}\u{5d}",
        ] {
            both(text);
        }
    }

    #[test]
    fn long_texts_with_escapes_anywhere_are_written_as_serde_json_writes_them() {
        // A fixed pseudo-random walk over bytes that matter and bytes that do not.
        let alphabet = ['a', ' ', '"', '\\', '\n', '\u{1}', 'é', '<', '\u{7f}', '€'];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for length in [1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000] {
            let text: String = (0..length)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            both(&text);
        }
    }
}
