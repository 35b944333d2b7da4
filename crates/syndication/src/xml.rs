/// Drops the characters XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF), which would
/// make the whole feed unreadable; the XML writers escape everything else.
pub fn xml_safe(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::xml_safe;

    #[test]
    fn keeps_text_and_drops_what_xml_forbids() {
        assert_eq!(
            xml_safe("a\u{0}b\u{1b}c\u{FFFE}d\te\u{1F600}"),
            "abcd\te\u{1F600}"
        );
    }
}
