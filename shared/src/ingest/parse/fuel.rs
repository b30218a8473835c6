//! Gas-station receipts (電子發票證明聯): gasoline 92/95/98無鉛汽油 and diesel
//! 超級柴油/柴油, litres × unit price = amount.

use crate::domain::{ActivityCandidate, ActivityKind, Unit};
use crate::ingest::parse::checks::{self, Review};
use crate::ingest::parse::metered::page_invoice_number;
use crate::ingest::parse::numbers::{value_number, NumberHit};
use crate::ingest::parse::page::{find_spaced, PageView};
use crate::ingest::parse::receipt::{self, number_after_op, number_before_unit};

/// A fuel product named in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct FuelGrade {
    pub kind: ActivityKind,
    /// Canonical name: `95無鉛汽油`, `超級柴油`, `柴油`, `無鉛汽油`...
    pub detail: String,
    /// Byte offset just after the product name.
    pub end: usize,
}

pub const LITRE_UNITS: &[&str] = &["公升", "升", "L", "l"];
const TIMES: &[char] = &['x', 'X', '×', '*', '@'];

/// Finds the fuel product in `s`: 92/95/98無鉛汽油, 無鉛汽油, 超級柴油, 高級柴油, 柴油, 汽油.
pub fn fuel_grade(s: &str) -> Option<FuelGrade> {
    if let Some((start, end)) = find_spaced(s, "無鉛汽油") {
        let before = s[..start].trim_end();
        let octane = ["92", "95", "98"].into_iter().find(|o| {
            before.ends_with(o) && !before[..before.len() - 2].ends_with(|c: char| c.is_ascii_digit())
        });
        let detail = match octane {
            Some(o) => format!("{o}無鉛汽油"),
            None => "無鉛汽油".to_string(),
        };
        return Some(FuelGrade { kind: ActivityKind::Gasoline, detail, end });
    }
    for (name, kind) in [
        ("超級柴油", ActivityKind::Diesel),
        ("高級柴油", ActivityKind::Diesel),
        ("柴油", ActivityKind::Diesel),
        ("汽油", ActivityKind::Gasoline),
    ] {
        if let Some((_, end)) = find_spaced(s, name) {
            return Some(FuelGrade { kind, detail: name.to_string(), end });
        }
    }
    None
}

/// Litres written after the product, e.g. `30.50公升` or `30.50L`.
pub fn litres_in(s: &str) -> Option<NumberHit> {
    number_before_unit(s, LITRE_UNITS)
}

pub fn is_fuel_text(compact: &str) -> bool {
    fuel_grade(compact).is_some() || compact.contains("加油站")
}

pub fn parse(view: &PageView) -> ActivityCandidate {
    let mut r = Review::new();

    // The product: a Textract line item first, then the text lines.
    let items = view.items();
    let item = items.values().find_map(|fs| {
        let name = fs.iter().find(|f| f.key.eq_ignore_ascii_case("ITEM"))?;
        let g = fuel_grade(&name.value)?;
        let get = |k: &str| fs.iter().find(|f| f.key.eq_ignore_ascii_case(k)).map(|f| (*f).clone());
        Some((g, name.confidence, get("QUANTITY"), get("UNIT_PRICE"), get("PRICE")))
    });
    let line = view.lines.iter().find_map(|l| fuel_grade(&l.text).map(|g| (g, l)));
    let grade = item.as_ref().map(|i| (i.0.clone(), i.1)).or_else(|| line.as_ref().map(|(g, l)| (g.clone(), l.confidence)));

    let (kind, detail) = match &grade {
        Some((g, conf)) => {
            r.used("油品", *conf);
            (g.kind, Some(g.detail.clone()))
        }
        None => {
            r.issue("找不到油品名稱（汽油或柴油），已暫列為汽油，請確認。".to_string());
            (ActivityKind::Gasoline, None)
        }
    };
    let mut c = ActivityCandidate::new(kind, Unit::Litre, view.page);
    c.detail = detail;

    let item_line = line.as_ref().map(|(g, l)| (&l.text[g.end..], l.confidence));

    // Litres.
    let litres = item
        .as_ref()
        .and_then(|i| i.2.as_ref())
        .and_then(|f| value_number(&f.value).map(|v| (v, f.confidence)))
        .or_else(|| item_line.and_then(|(t, conf)| clean(litres_in(t)).map(|v| (v, conf))))
        .or_else(|| view.labelled(&["數量", "公升數"]).and_then(|f| value_number(&f.text).map(|v| (v, f.confidence))));
    match litres {
        Some((q, conf)) if q > 0.0 => {
            r.used("公升數", conf);
            c.quantity = Some(q);
        }
        _ => r.issue("找不到加油公升數，請依收據人工填寫。".to_string()),
    }

    // Unit price.
    let unit_price = item
        .as_ref()
        .and_then(|i| i.3.as_ref())
        .and_then(|f| value_number(&f.value).map(|v| (v, f.confidence)))
        .or_else(|| item_line.and_then(|(t, conf)| clean(number_after_op(t, TIMES)).map(|v| (v, conf))))
        .or_else(|| view.labelled(&["單價"]).and_then(|f| value_number(&f.text).map(|v| (v, f.confidence))));
    if let Some((p, conf)) = unit_price {
        r.used("單價", conf);
        c.unit_price = Some(p);
    }

    // Line amount (fuel only) and receipt total.
    let line_price = item
        .as_ref()
        .and_then(|i| i.4.as_ref())
        .and_then(|f| value_number(&f.value).map(|v| (v, f.confidence)))
        .or_else(|| item_line.and_then(|(t, conf)| clean(number_after_op(t, &['='])).map(|v| (v, conf))));
    let amount = match line_price {
        Some((a, conf)) => {
            r.used("品項金額", conf);
            Some(a)
        }
        None => receipt::read_amount(view, &mut r),
    };
    c.amount_ntd = amount;

    // Derive the unit price only from values actually read.
    if c.unit_price.is_none() {
        if let (Some(q), Some(a)) = (c.quantity, c.amount_ntd) {
            c.unit_price = Some((a / q * 100.0).round() / 100.0);
        }
    }
    if let Some(p) = c.unit_price {
        checks::check_fuel_price(p, &mut r);
    }
    if let (Some(q), Some(p), Some(a), true) = (c.quantity, c.unit_price, c.amount_ntd, unit_price.is_some()) {
        checks::check_fuel_total(q, p, a, &mut r);
    }

    if let Some(d) = receipt::receipt_date(view, &mut r) {
        c.period_start = Some(d);
        c.period_end = Some(d);
    }
    c.invoice_number = page_invoice_number(view);
    if c.invoice_number.is_none() {
        r.issue("找不到發票號碼，無法與電子發票比對重複，請確認。".to_string());
    }
    r.finish(&mut c);
    c
}

fn clean(h: Option<NumberHit>) -> Option<f64> {
    h.and_then(|h| if h.ambiguous { None } else { h.value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades() {
        let g = fuel_grade("95無鉛汽油 30.50公升").expect("grade");
        assert_eq!((g.kind, g.detail.as_str()), (ActivityKind::Gasoline, "95無鉛汽油"));
        assert_eq!(fuel_grade("98 無 鉛 汽 油").map(|g| g.detail), Some("98無鉛汽油".into()));
        assert_eq!(fuel_grade("195無鉛汽油").map(|g| g.detail), Some("無鉛汽油".into()));
        assert_eq!(fuel_grade("超級柴油 40L").map(|g| (g.kind, g.detail)), Some((ActivityKind::Diesel, "超級柴油".into())));
        assert_eq!(fuel_grade("柴油").map(|g| g.kind), Some(ActivityKind::Diesel));
        assert_eq!(fuel_grade("御飯糰"), None);
    }
}
