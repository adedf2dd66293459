//! Escaping for the markup the reports write: report.html, its inline SVG
//! charts and junit.xml. Everything is escaped for XML 1.0, so the same
//! functions serve HTML and XML, and characters XML forbids (most control
//! characters, which a misbehaving server may well send) become U+FFFD.

/// Whether XML 1.0 allows the character in a document.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// Text content: `&`, `<` and `>` escaped, forbidden characters replaced.
pub(crate) fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if allowed(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// An attribute value (in double or single quotes): as [`text`], plus quotes,
/// and line breaks and tabs as character references so parsers keep them.
pub(crate) fn attr(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if allowed(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// What [`text`] and [`attr`] keep of a value once a parser has read it back.
#[cfg(test)]
pub(crate) fn kept(value: &str) -> String {
    value
        .chars()
        .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
        .collect()
}

/// A text that fits `max` characters (with an ellipsis when cut).
pub(crate) fn shorten(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        return value.to_owned();
    }
    let cut: String = value.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_replaces_forbidden_characters() {
        assert_eq!(
            text("<script>a && b</script>"),
            "&lt;script&gt;a &amp;&amp; b&lt;/script&gt;"
        );
        assert_eq!(
            attr("say \"hi\"\n'x'"),
            "say &quot;hi&quot;&#10;&apos;x&apos;"
        );
        assert_eq!(text("a\u{0}b\u{1b}c"), "a\u{FFFD}b\u{FFFD}c");
        assert_eq!(kept("a\u{0}b\tc"), "a\u{FFFD}b\tc");
    }

    #[test]
    fn shortens_on_characters() {
        assert_eq!(shorten("abcdef", 10), "abcdef");
        assert_eq!(shorten("ééééé", 3), "éé…");
    }
}
