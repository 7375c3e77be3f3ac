//! Rules for text other people see: in names (display names, board names), characters that hide
//! or reorder text, which could make one name look like another, are refused; in job errors,
//! server file paths are hidden from non-admins.

/// Whether `c` is a control, bidirectional-override or zero-width character.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` with every absolute file path (two or more components) replaced by `<path>`.
pub fn hide_paths(text: &str) -> String {
    static PATHS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(?:[A-Za-z]:)?(?:[/\\][^\s/\\:'"`()\[\],;]+){2,}[/\\]?"#)
            .expect("the pattern is valid")
    });
    PATHS.replace_all(text, "<path>").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_hidden_and_the_rest_is_kept() {
        assert_eq!(
            hide_paths("failed to load /srv/atelier/models/0191/v1-5.safetensors: truncated"),
            "failed to load <path>: truncated"
        );
        assert_eq!(
            hide_paths("cannot open 'C:\\models\\x.safetensors'"),
            "cannot open '<path>'"
        );
        assert_eq!(hide_paths("steps must be 1/150"), "steps must be 1/150");
        assert_eq!(hide_paths("out of memory (CUDA)"), "out of memory (CUDA)");
    }

    #[test]
    fn bidi_zero_width_and_control_characters_are_hidden() {
        for c in ['\u{202E}', '\u{2067}', '\u{200B}', '\u{FEFF}', '\0', '\n'] {
            assert!(is_hidden(c), "{c:?}");
        }
        for c in ['a', 'é', '語', ' ', '😀'] {
            assert!(!is_hidden(c), "{c:?}");
        }
    }
}
