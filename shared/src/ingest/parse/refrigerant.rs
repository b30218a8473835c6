//! Refrigerant refill service invoices: `冷媒填充 R-410A 3.5 kg`.

use crate::domain::{ActivityCandidate, ActivityKind, Unit};
use crate::ingest::parse::checks::Review;
use crate::ingest::parse::metered::page_invoice_number;
use crate::ingest::parse::page::PageView;
use crate::ingest::parse::receipt::{self, number_before_unit};

/// Finds a refrigerant designation (`R-410A`, `R22`, `HFC-134a`, `R-600a`) and returns
/// it as `R-<number><suffix>` plus the byte offset after it.
pub fn refrigerant_name(s: &str) -> Option<(String, usize)> {
    let c: Vec<(usize, char)> = s.char_indices().collect();
    for i in 0..c.len() {
        let prefix_len = ["HCFC", "HFC", "R"].iter().find_map(|p| {
            let pc: Vec<char> = p.chars().collect();
            let matches = c.len() >= i + pc.len()
                && c[i..i + pc.len()].iter().zip(&pc).all(|((_, a), b)| a.eq_ignore_ascii_case(b));
            matches.then_some(pc.len())
        });
        let Some(pl) = prefix_len else { continue };
        if i > 0 && c[i - 1].1.is_ascii_alphanumeric() {
            continue;
        }
        let mut j = i + pl;
        if j < c.len() && matches!(c[j].1, '-' | ' ') {
            j += 1;
        }
        let ds = j;
        while j < c.len() && c[j].1.is_ascii_digit() {
            j += 1;
        }
        if !(2..=4).contains(&(j - ds)) {
            continue;
        }
        let digits: String = c[ds..j].iter().map(|(_, ch)| ch).collect();
        let mut suffix = String::new();
        if j < c.len() && matches!(c[j].1, 'A' | 'B' | 'C' | 'a' | 'b') {
            suffix.push(c[j].1);
            j += 1;
        }
        if j < c.len() && c[j].1.is_ascii_alphanumeric() {
            continue; // `R-41OA`: do not guess.
        }
        let end = c.get(j).map_or(s.len(), |(b, _)| *b);
        return Some((format!("R-{digits}{suffix}"), end));
    }
    None
}

pub fn parse(view: &PageView) -> ActivityCandidate {
    let mut r = Review::new();
    let mut c = ActivityCandidate::new(ActivityKind::Refrigerant, Unit::Kg, view.page);
    let line = view.lines.iter().find(|l| l.text.contains("冷媒")).or_else(|| {
        view.lines.iter().find(|l| refrigerant_name(&l.text).is_some())
    });
    let mut qty = None;
    if let Some(l) = line {
        let (name, after) = match refrigerant_name(&l.text) {
            Some((n, end)) => (Some(n), end),
            None => (None, 0),
        };
        match name {
            Some(n) => {
                r.used("冷媒種類", l.confidence);
                c.detail = Some(n);
            }
            None => r.issue("找不到冷媒種類（如 R-410A），請人工填寫。".to_string()),
        }
        qty = number_before_unit(&l.text[after..], &["公斤", "kg", "KG", "Kg"])
            .filter(|h| !h.ambiguous)
            .and_then(|h| h.value)
            .map(|v| (v, l.confidence));
    } else {
        r.issue("找不到冷媒填充品項，請人工填寫冷媒種類與公斤數。".to_string());
    }
    match qty {
        Some((q, conf)) if q > 0.0 => {
            r.used("冷媒公斤數", conf);
            c.quantity = Some(q);
        }
        _ => r.issue("找不到冷媒填充公斤數，請依維修單人工填寫。".to_string()),
    }
    c.amount_ntd = receipt::read_amount(view, &mut r);
    if let Some(d) = receipt::receipt_date(view, &mut r) {
        c.period_start = Some(d);
        c.period_end = Some(d);
    }
    c.invoice_number = page_invoice_number(view);
    r.finish(&mut c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(refrigerant_name("冷媒填充 R-410A 3.5 kg").map(|x| x.0), Some("R-410A".into()));
        assert_eq!(refrigerant_name("R22 補充").map(|x| x.0), Some("R-22".into()));
        assert_eq!(refrigerant_name("HFC-134a").map(|x| x.0), Some("R-134a".into()));
        assert_eq!(refrigerant_name("冷媒 R-41OA"), None);
        assert_eq!(refrigerant_name("PR-410A"), None);
    }
}
