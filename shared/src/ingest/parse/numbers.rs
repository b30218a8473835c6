//! Text normalisation for OCR output and number / invoice-number reading.
//!
//! OCR of Taiwanese bills gives full-width digits and colons, spaces inside numbers
//! (`1, 234`), `O`/`o` for 0 and `l`/`I` for 1, and 度 read as 庋. The common ones are
//! repaired here; anything else is left alone so that a digit is never guessed.

/// Maps full-width ASCII to ASCII, the ideographic space to a space, dashes to `-`,
/// 庋 to 度, then repairs `O`/`o`→0 and `l`/`I`→1 where they sit inside a number.
pub fn normalise_text(s: &str) -> String {
    let mapped: Vec<char> = s.chars().map(map_char).collect();
    fix_confusables(mapped).into_iter().collect()
}

fn map_char(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' | '\t' | '\u{00A0}' => ' ',
        '庋' => '度',
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}' | '\u{FE63}' => '-',
        '\u{301C}' => '~',
        _ => c,
    }
}

fn confusable(c: char) -> Option<char> {
    match c {
        'O' | 'o' => Some('0'),
        'l' | 'I' => Some('1'),
        _ => None,
    }
}

/// `O`/`o` becomes 0 when next to a digit; `l`/`I` becomes 1 only when a digit follows
/// (a trailing `l` may be "litre"). Never when a real letter is adjacent (`No.1`, `Oil`).
fn fix_confusables(mut v: Vec<char>) -> Vec<char> {
    for _ in 0..8 {
        let snapshot = v.clone();
        let mut changed = false;
        let is_digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
        let is_letter =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphabetic() && confusable(c).is_none());
        for i in 0..snapshot.len() {
            let Some(d) = confusable(snapshot[i]) else { continue };
            let at = |j: Option<usize>| j.and_then(|j| snapshot.get(j).copied());
            let prev = at(i.checked_sub(1));
            let next = at(Some(i + 1));
            if is_letter(prev) || is_letter(next) {
                continue;
            }
            // A digit next to it, or across a decimal point / thousands comma (`4O.OO`).
            let sep = |c: Option<char>| matches!(c, Some('.' | ','));
            let digit_before = is_digit(prev) || (sep(prev) && is_digit(at(i.checked_sub(2))));
            let digit_after = is_digit(next) || (sep(next) && is_digit(at(Some(i + 2))));
            let ok = match snapshot[i] {
                'O' | 'o' => digit_before || digit_after,
                _ => digit_after,
            };
            if ok {
                v[i] = d;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    v
}

/// A number found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberHit {
    /// `None` when the digits are there but malformed (`1,23`).
    pub value: Option<f64>,
    /// Byte range in the searched text.
    pub start: usize,
    pub end: usize,
    /// Digits follow after spaces (`1 234`): the split is ambiguous.
    pub ambiguous: bool,
}

/// The first number in `s` (ASCII digits; `,` thousands groups, possibly with spaces
/// around the comma; one `.` decimal part).
pub fn find_number(s: &str) -> Option<NumberHit> {
    find_number_from(s, 0)
}

/// The first number in `s` starting at byte `from` (must be a char boundary).
pub fn find_number_from(s: &str, from: usize) -> Option<NumberHit> {
    let b = s.as_bytes();
    let start = (from..b.len()).find(|&i| b[i].is_ascii_digit())?;
    Some(scan_number_at(s, start))
}

/// All numbers in `s`, left to right.
pub fn numbers(s: &str) -> Vec<NumberHit> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(h) = find_number_from(s, from) {
        from = h.end.max(h.start + 1);
        out.push(h);
    }
    out
}

fn scan_number_at(s: &str, start: usize) -> NumberHit {
    let b = s.as_bytes();
    let n = b.len();
    let digits_end = |mut i: usize| {
        while i < n && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = digits_end(start);
    let first_len = i - start;
    let mut int_digits = s[start..i].to_string();
    let mut had_comma = false;
    let mut groups_ok = true;
    loop {
        let mut j = i;
        while j < n && b[j] == b' ' {
            j += 1;
        }
        if j < n && b[j] == b',' {
            let mut k = j + 1;
            while k < n && b[k] == b' ' {
                k += 1;
            }
            let ds = k;
            let k = digits_end(k);
            if k > ds {
                had_comma = true;
                if k - ds != 3 {
                    groups_ok = false;
                }
                int_digits.push_str(&s[ds..k]);
                i = k;
                continue;
            }
        }
        break;
    }
    let mut text = int_digits;
    if i + 1 < n && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        let k = digits_end(i + 1);
        text.push('.');
        text.push_str(&s[i + 1..k]);
        i = k;
    }
    let mut j = i;
    while j < n && b[j] == b' ' {
        j += 1;
    }
    let ambiguous = j > i && j < n && b[j].is_ascii_digit();
    let valid = !had_comma || (first_len <= 3 && groups_ok);
    NumberHit {
        value: if valid { text.parse::<f64>().ok().filter(|v| v.is_finite()) } else { None },
        start,
        end: i,
        ambiguous,
    }
}

/// Reads the value written after a label: the first number, which must be well formed
/// and not ambiguously split. `None` when there is no clean number.
pub fn value_number(s: &str) -> Option<f64> {
    let h = find_number(s)?;
    if h.ambiguous {
        return None;
    }
    h.value
}

/// Strictly parses a whole cell (CSV, structured field): optional `NT$`/`$` prefix and
/// `元` suffix, thousands commas, a leading minus. Errors carry a zh-TW reason.
pub fn parse_cell_number(s: &str) -> Result<f64, String> {
    let t = normalise_text(s);
    let mut t = t.trim();
    for p in ["NT$", "NTD", "$"] {
        if let Some(r) = t.strip_prefix(p) {
            t = r.trim_start();
        }
    }
    for suf in ["元", "NTD"] {
        if let Some(r) = t.strip_suffix(suf) {
            t = r.trim_end();
        }
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r.trim_start()),
        None => (false, t),
    };
    if body.is_empty() {
        return Err("空白".to_string());
    }
    let h = scan_whole(body).ok_or_else(|| format!("「{}」不是數字", s.trim()))?;
    Ok(if neg { -h } else { h })
}

fn scan_whole(s: &str) -> Option<f64> {
    if !s.as_bytes().first()?.is_ascii_digit() {
        return None;
    }
    let h = scan_number_at(s, 0);
    if h.end != s.len() {
        return None;
    }
    h.value
}

/// Finds a 發票號碼 (two upper-case letters, optional `-`/space, eight digits) and
/// returns it normalised as `AB12345678`.
pub fn find_invoice_number(s: &str) -> Option<String> {
    let c: Vec<char> = s.chars().collect();
    let n = c.len();
    for i in 0..n {
        if i + 10 > n {
            break;
        }
        if !(c[i].is_ascii_uppercase() && c[i + 1].is_ascii_uppercase()) {
            continue;
        }
        if i > 0 && c[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let mut j = i + 2;
        if j < n && (c[j] == '-' || c[j] == ' ') {
            j += 1;
        }
        if j + 8 > n || !c[j..j + 8].iter().all(|d| d.is_ascii_digit()) {
            continue;
        }
        if c.get(j + 8).is_some_and(|d| d.is_ascii_digit()) {
            continue;
        }
        let mut out: String = c[i..i + 2].iter().collect();
        out.extend(c[j..j + 8].iter());
        return Some(out);
    }
    None
}

/// Normalises a cell that must be exactly an invoice number.
pub fn parse_invoice_number(s: &str) -> Option<String> {
    let t = normalise_text(s).trim().to_ascii_uppercase();
    let found = find_invoice_number(&t)?;
    let compact: String = t.chars().filter(|c| *c != '-' && *c != ' ').collect();
    (compact == found).then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_confusables() {
        assert_eq!(normalise_text("計費度數：１，２３４ 庋"), "計費度數:1,234 度");
        assert_eq!(normalise_text("1O4/O1/05"), "104/01/05");
        assert_eq!(normalise_text("l23"), "123");
        // trailing l is litre, letters next to confusables stay letters
        assert_eq!(normalise_text("30.50l"), "30.50l");
        assert_eq!(normalise_text("No.1 Oil"), "No.1 Oil");
        assert_eq!(normalise_text("1OO度"), "100度");
        assert_eq!(normalise_text("4O.OO公升 l,l40"), "40.00公升 1,140");
    }

    #[test]
    fn numbers_with_noise() {
        assert_eq!(value_number(" 1, 234 度"), Some(1234.0));
        assert_eq!(value_number("4,567 元"), Some(4567.0));
        assert_eq!(value_number("30.50公升"), Some(30.5));
        assert_eq!(value_number("1,23 度"), None);
        assert_eq!(value_number("1 234 度"), None, "ambiguous split is not guessed");
        assert_eq!(value_number("沒有"), None);
        let all: Vec<f64> = numbers("30.50公升 x 31.20 = 952").iter().filter_map(|h| h.value).collect();
        assert_eq!(all, vec![30.5, 31.2, 952.0]);
    }

    #[test]
    fn cell_numbers() {
        assert_eq!(parse_cell_number("NT$ 1,600"), Ok(1600.0));
        assert_eq!(parse_cell_number("-3"), Ok(-3.0));
        assert_eq!(parse_cell_number("１２.５"), Ok(12.5));
        assert!(parse_cell_number("12abc").is_err());
        assert!(parse_cell_number("").is_err());
    }

    #[test]
    fn invoice_numbers() {
        assert_eq!(find_invoice_number("發票 AB-12345678 號"), Some("AB12345678".into()));
        assert_eq!(find_invoice_number("AB12345678"), Some("AB12345678".into()));
        assert_eq!(find_invoice_number("AB-123456789"), None);
        assert_eq!(find_invoice_number("XAB12345678"), None);
        assert_eq!(parse_invoice_number("ab-12345678"), Some("AB12345678".into()));
        assert_eq!(parse_invoice_number("AB12345678x"), None);
    }
}
