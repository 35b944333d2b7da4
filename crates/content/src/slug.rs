/// A URL slug: lowercase ASCII letters and digits in words joined by single hyphens, at
/// most `max_len` bytes, cut at a word boundary. Latin letters with diacritics lose them
/// ("Café" → "cafe"); other scripts are dropped, and an empty result becomes `fallback`.
pub fn slugify(text: &str, max_len: usize, fallback: &str) -> String {
    let mut slug = String::with_capacity(text.len().min(max_len));
    let mut pending_hyphen = false;
    for character in text.chars().flat_map(fold_to_ascii) {
        if character.is_ascii_alphanumeric() {
            if pending_hyphen && !slug.is_empty() {
                slug.push('-');
            }
            pending_hyphen = false;
            slug.push(character.to_ascii_lowercase());
        } else if character != '\'' && character != '’' {
            // Apostrophes join ("don't" → "dont"); everything else separates words.
            pending_hyphen = true;
        }
    }
    if slug.len() > max_len {
        let cut = slug[..=max_len].rfind('-').unwrap_or(max_len);
        slug.truncate(cut);
    }
    if slug.is_empty() {
        fallback.to_owned()
    } else {
        slug
    }
}

/// Whether `text` is a well-formed slug of at most `max_len` bytes: lowercase ASCII letters
/// and digits in words joined by single hyphens.
pub fn is_slug(text: &str, max_len: usize) -> bool {
    !text.is_empty()
        && text.len() <= max_len
        && text.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
        })
}

/// Latin-1 and Latin Extended-A letters without their diacritics; other characters as-is.
fn fold_to_ascii(character: char) -> impl Iterator<Item = char> {
    let folded: &str = match character {
        'À'..='Å' | 'à'..='å' | 'Ā'..='ą' => "a",
        'Æ' | 'æ' => "ae",
        'Ç' | 'ç' | 'Ć'..='č' => "c",
        'Ď'..='đ' | 'Ð' | 'ð' => "d",
        'È'..='Ë' | 'è'..='ë' | 'Ē'..='ě' => "e",
        'Ĝ'..='ģ' => "g",
        'Ĥ'..='ħ' => "h",
        'Ì'..='Ï' | 'ì'..='ï' | 'Ĩ'..='ı' => "i",
        'Ĵ' | 'ĵ' => "j",
        'Ķ' | 'ķ' => "k",
        'Ĺ'..='ł' => "l",
        'Ñ' | 'ñ' | 'Ń'..='ň' => "n",
        'Ò'..='Ö' | 'Ø' | 'ò'..='ö' | 'ø' | 'Ō'..='ő' => "o",
        'Œ' | 'œ' => "oe",
        'Ŕ'..='ř' => "r",
        'Ś'..='š' => "s",
        'ß' => "ss",
        'Ţ'..='ŧ' => "t",
        'Ù'..='Ü' | 'ù'..='ü' | 'Ũ'..='ų' => "u",
        'Ŵ' | 'ŵ' => "w",
        'Ý' | 'ý' | 'ÿ' | 'Ŷ' | 'ŷ' | 'Ÿ' => "y",
        'Ź'..='ž' => "z",
        'Þ' | 'þ' => "th",
        _ => "",
    };
    let mut own = Some(character).filter(|_| folded.is_empty());
    let mut folded = folded.chars();
    std::iter::from_fn(move || own.take().or_else(|| folded.next()))
}

#[cfg(test)]
mod tests {
    use super::{is_slug, slugify};

    #[test]
    fn slugs_are_lowercase_words_joined_by_hyphens() {
        assert_eq!(
            slugify(
                "The implementation of Enterprise 2.0 by government departments",
                200,
                "post"
            ),
            "the-implementation-of-enterprise-2-0-by-government-departments"
        );
        assert_eq!(slugify("  Don't panic!  ", 200, "post"), "dont-panic");
        assert_eq!(
            slugify("Café Straße Œuvre", 200, "post"),
            "cafe-strasse-oeuvre"
        );
    }

    #[test]
    fn slugs_are_recognised() {
        assert!(is_slug("my-first-post-2", 200));
        for bad in ["", "My-Post", "a--b", "-a", "a-", "a b", "é"] {
            assert!(!is_slug(bad, 200), "{bad:?}");
        }
        assert!(!is_slug("abcdef", 5));
    }

    #[test]
    fn other_scripts_fall_back() {
        assert_eq!(slugify("日本語", 200, "post"), "post");
        assert_eq!(slugify("---", 200, "tag"), "tag");
    }

    #[test]
    fn long_slugs_are_cut_at_a_word_boundary() {
        assert_eq!(slugify("alpha beta gamma", 12, "post"), "alpha-beta");
        assert_eq!(slugify("abcdefghijkl", 5, "post"), "abcde");
    }
}
