//! The one rule for characters people may type into any text field: no control
//! characters (CR/LF only where a field allows lines), no bidirectional overrides or
//! marks (text that displays differently from what it is), and no invisible characters
//! (zero-width spaces and joiners, word joiners, BOM, soft hyphen…) that make two values
//! look the same while differing.

/// Why `c` is not allowed, or `None`.
pub fn char_problem(c: char, allow_newlines: bool) -> Option<&'static str> {
    match c {
        '\n' if allow_newlines => None,
        '\r' | '\n' => Some("不可包含換行字元"),
        '\t' => None,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}' => Some("包含不允許的文字方向控制字元"),
        '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}' | '\u{034F}' | '\u{115F}' | '\u{1160}'
        | '\u{3164}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}' => Some("包含看不見的字元（例如零寬空白）"),
        c if c.is_control() => Some("包含不允許的控制字元"),
        _ => None,
    }
}

/// The first problem of `s`, if any.
pub fn text_problem(s: &str, allow_newlines: bool) -> Option<&'static str> {
    let s = if allow_newlines { std::borrow::Cow::Owned(s.replace("\r\n", "\n")) } else { std::borrow::Cow::Borrowed(s) };
    s.chars().find_map(|c| char_problem(c, allow_newlines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_bidi_and_control_characters_are_refused() {
        assert_eq!(text_problem("維他命股份有限公司 A&B", false), None);
        assert!(text_problem("維他命\u{200B}股份", false).unwrap().contains("看不見"));
        assert!(text_problem("\u{FEFF}abc", false).is_some());
        assert!(text_problem("ab\u{00AD}c", false).is_some());
        assert!(text_problem("ACME\u{202E}gnp.exe", false).unwrap().contains("方向"));
        assert!(text_problem("a\u{7}", false).unwrap().contains("控制"));
        assert!(text_problem("a\r\nb", false).unwrap().contains("換行"));
        assert_eq!(text_problem("a\r\nb\nc\td", true), None);
        assert!(text_problem("a\r\u{200D}", true).is_some());
    }
}
