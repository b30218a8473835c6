//! A page's text normalised for parsing, with label look-ups that tolerate OCR noise
//! (spaces inside CJK labels, missing or full-width colons, values on the next line).

use std::collections::BTreeMap;

use crate::domain::{ExtractedPage, Field};
use crate::ingest::parse::numbers::normalise_text;

#[derive(Debug, Clone)]
pub struct Line {
    pub text: String,
    pub confidence: f32,
}

/// A value read off the page, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub text: String,
    pub confidence: f32,
}

#[derive(Debug, Clone)]
pub struct NormField {
    pub key: String,
    pub value: String,
    pub confidence: f32,
    pub item: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct PageView {
    pub page: u32,
    pub lines: Vec<Line>,
    pub fields: Vec<NormField>,
}

fn sane(c: f32) -> f32 {
    if c.is_finite() {
        c.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

impl PageView {
    pub fn new(p: &ExtractedPage) -> Self {
        let lines = p
            .lines
            .iter()
            .map(|l| Line { text: normalise_text(&l.text), confidence: sane(l.confidence) })
            .filter(|l| !l.text.trim().is_empty())
            .collect();
        let fields = p.fields.iter().map(norm_field).collect();
        Self { page: p.page, lines, fields }
    }

    /// All text (lines and field values) with whitespace removed, for keyword tests.
    pub fn compact_text(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.extend(l.text.chars().filter(|c| !c.is_whitespace()));
            s.push('\n');
        }
        for f in &self.fields {
            s.extend(f.value.chars().filter(|c| !c.is_whitespace()));
            s.push('\n');
        }
        s
    }

    pub fn has_field(&self, key: &str) -> bool {
        self.fields.iter().any(|f| f.key.eq_ignore_ascii_case(key) && !f.value.trim().is_empty())
    }

    /// The first non-empty document-level field among `keys` (case-insensitive).
    pub fn field(&self, keys: &[&str]) -> Option<Found> {
        keys.iter().find_map(|k| {
            self.fields
                .iter()
                .find(|f| f.item.is_none() && f.key.eq_ignore_ascii_case(k) && !f.value.trim().is_empty())
                .map(|f| Found { text: f.value.clone(), confidence: f.confidence })
        })
    }

    /// Line-item fields grouped by item index.
    pub fn items(&self) -> BTreeMap<u32, Vec<&NormField>> {
        let mut m: BTreeMap<u32, Vec<&NormField>> = BTreeMap::new();
        for f in &self.fields {
            if let Some(i) = f.item {
                m.entry(i).or_default().push(f);
            }
        }
        m
    }

    /// The text after the first of `labels` found (labels in priority order). A label
    /// alone on its line takes the next line as its value.
    pub fn labelled(&self, labels: &[&str]) -> Option<Found> {
        for label in labels {
            for (i, l) in self.lines.iter().enumerate() {
                let Some((_, end)) = find_spaced(&l.text, label) else { continue };
                let rest = l.text[end..].trim_start_matches(|c: char| c.is_whitespace() || c == ':' || c == '=');
                if !rest.trim().is_empty() {
                    return Some(Found { text: rest.trim().to_string(), confidence: l.confidence });
                }
                if let Some(next) = self.lines.get(i + 1) {
                    return Some(Found { text: next.text.trim().to_string(), confidence: next.confidence });
                }
            }
        }
        None
    }

    /// The first line containing any of `needles` (spaces inside tolerated).
    pub fn line_with(&self, needles: &[&str]) -> Option<&Line> {
        self.lines.iter().find(|l| needles.iter().any(|n| find_spaced(&l.text, n).is_some()))
    }
}

fn norm_field(f: &Field) -> NormField {
    NormField {
        key: f.key.trim().to_string(),
        value: normalise_text(f.value.trim()),
        confidence: sane(f.confidence),
        item: f.item,
    }
}

/// Finds `needle` in `hay`, allowing whitespace between its characters (OCR often
/// spaces CJK characters apart). Returns the byte range matched.
pub fn find_spaced(hay: &str, needle: &str) -> Option<(usize, usize)> {
    let want: Vec<char> = needle.chars().filter(|c| !c.is_whitespace()).collect();
    let first = *want.first()?;
    let chars: Vec<(usize, char)> = hay.char_indices().collect();
    'outer: for (si, &(start, c)) in chars.iter().enumerate() {
        if c != first {
            continue;
        }
        let mut k = 1;
        let mut j = si + 1;
        let mut end = start + c.len_utf8();
        while k < want.len() {
            let Some(&(pos, ch)) = chars.get(j) else { continue 'outer };
            if ch.is_whitespace() {
                j += 1;
                continue;
            }
            if ch != want[k] {
                continue 'outer;
            }
            end = pos + ch.len_utf8();
            k += 1;
            j += 1;
        }
        return Some((start, end));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TextLine;

    fn page(lines: &[(&str, f32)]) -> ExtractedPage {
        ExtractedPage {
            page: 1,
            lines: lines.iter().map(|(t, c)| TextLine { text: t.to_string(), confidence: *c }).collect(),
            fields: vec![],
        }
    }

    #[test]
    fn spaced_labels_and_next_line_values() {
        assert_eq!(find_spaced("計 費 度 數 1,234", "計費度數"), Some((0, 15)));
        assert_eq!(find_spaced("計費", "計費度數"), None);
        let v = PageView::new(&page(&[("計 費 度 數：", 0.9), ("1,234 度", 0.8), ("電號 07-12", 0.95)]));
        assert_eq!(v.labelled(&["計費度數"]), Some(Found { text: "1,234 度".into(), confidence: 0.8 }));
        assert_eq!(v.labelled(&["電號"]).map(|f| f.text), Some("07-12".into()));
        assert_eq!(v.labelled(&["水號"]), None);
    }
}
