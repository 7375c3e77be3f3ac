//! Rules for names other people see (display names, board names): characters that hide or
//! reorder text, which could make one name look like another, are refused.

/// Whether `c` is a control, bidirectional-override or zero-width character.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

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
