//! Helpers shared by receipt-like documents (fuel, LPG, refrigerant service).

use chrono::NaiveDate;

use crate::ingest::parse::checks::Review;
use crate::ingest::parse::dates::{parse_date, scan_dates};
use crate::ingest::parse::numbers::{find_number_from, numbers, value_number, NumberHit};
use crate::ingest::parse::page::{Found, PageView};

pub const AMOUNT_LABELS: &[&str] = &["總計", "合計", "總金額", "應付金額", "實收金額", "應繳金額", "金額"];

/// The first number directly followed by one of `units` (spaces allowed between). An
/// ASCII unit must not run on into more letters (`40 kgs` is fine, `4 Lbs` is not L).
pub fn number_before_unit(s: &str, units: &[&str]) -> Option<NumberHit> {
    numbers(s).into_iter().find(|h| {
        let rest = s[h.end..].trim_start();
        units.iter().any(|u| {
            rest.starts_with(u)
                && (!u.is_ascii()
                    || !rest[u.len()..].chars().next().is_some_and(|c| c.is_ascii_alphabetic() && c != 's'))
        })
    })
}

/// The number right after an operator such as `x` or `=` (spaces allowed).
pub fn number_after_op(s: &str, ops: &[char]) -> Option<NumberHit> {
    for (i, ch) in s.char_indices() {
        if !ops.contains(&ch) {
            continue;
        }
        let after = i + ch.len_utf8();
        let rest = &s[after..];
        let skipped = rest.len() - rest.trim_start().len();
        let at = after + skipped;
        if s[at..].starts_with(|c: char| c.is_ascii_digit()) {
            return find_number_from(s, at);
        }
    }
    None
}

/// The receipt date: Textract `INVOICE_RECEIPT_DATE`, else the first real date printed.
pub fn receipt_date(view: &PageView, r: &mut Review) -> Option<NaiveDate> {
    if let Some(f) = view.field(&["INVOICE_RECEIPT_DATE", "date"]) {
        let d = scan_dates(&f.text).into_iter().find_map(|h| h.date.ok()).or_else(|| parse_date(&f.text).ok());
        if let Some(d) = d {
            r.used("日期", f.confidence);
            return Some(d);
        }
    }
    let mut errors = Vec::new();
    for l in &view.lines {
        for h in scan_dates(&l.text) {
            match h.date {
                Ok(d) => {
                    r.used("日期", l.confidence);
                    return Some(d);
                }
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        r.issue("找不到單據日期，請人工填寫。".to_string());
    } else {
        r.issue(format!("單據日期有誤：{}，請人工填寫。", errors.join("；")));
    }
    None
}

/// The amount charged: Textract `TOTAL`, else a labelled total.
pub fn receipt_amount(view: &PageView) -> Option<Found> {
    view.field(&["TOTAL", "amount"]).or_else(|| view.labelled(AMOUNT_LABELS))
}

/// Reads the amount into the review; `None` with an issue when it cannot be read.
pub fn read_amount(view: &PageView, r: &mut Review) -> Option<f64> {
    match receipt_amount(view) {
        Some(f) => match value_number(&f.text) {
            Some(a) => {
                r.used("金額", f.confidence);
                Some(a)
            }
            None => {
                r.issue(format!("金額「{}」無法辨識，請人工確認。", f.text));
                None
            }
        },
        None => {
            r.issue("找不到金額。".to_string());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_operators() {
        let s = "95無鉛汽油 30.50公升 x 31.20 = 952";
        assert_eq!(number_before_unit(s, &["公升", "L"]).and_then(|h| h.value), Some(30.5));
        assert_eq!(number_after_op(s, &['x', '×']).and_then(|h| h.value), Some(31.2));
        assert_eq!(number_after_op(s, &['=']).and_then(|h| h.value), Some(952.0));
        assert_eq!(number_before_unit("液化石油氣 40 kg", &["kg"]).and_then(|h| h.value), Some(40.0));
        assert_eq!(number_before_unit("4 Lbs", &["L"]), None);
        assert_eq!(number_before_unit("95無鉛汽油", &["公升", "L"]), None);
    }
}
