//! Natural-gas bills (天然氣, 度 = m³) and LPG receipts (桶裝瓦斯 / 液化石油氣).

use crate::domain::{ActivityCandidate, ActivityKind, Unit};
use crate::ingest::parse::checks::Review;
use crate::ingest::parse::metered::{page_invoice_number, parse_metered, MeteredSpec};
use crate::ingest::parse::numbers::find_number_from;
use crate::ingest::parse::page::PageView;
use crate::ingest::parse::receipt::{self, number_before_unit};

/// Plausible NT$ per m³ of piped natural gas.
pub const RATE_RANGE: (f64, f64) = (8.0, 40.0);

pub const NATURAL_GAS_SPEC: MeteredSpec = MeteredSpec {
    kind: ActivityKind::NaturalGas,
    unit: Unit::M3,
    meter_name: "用戶編號",
    quantity_name: "使用度數",
    meter_labels: &["用戶編號", "用戶號碼", "瓦斯用戶號"],
    quantity_labels: &["使用度數", "計費度數", "用氣度數", "用量"],
    quantity_aliases: &["gas_m3", "m3"],
    amount_labels: &["應繳金額", "應繳總金額", "總金額", "金額"],
    rate_range: RATE_RANGE,
    per: "度（立方公尺）",
    meter_check: None,
    meter_format: None,
};

pub fn parse_natural_gas(view: &PageView) -> ActivityCandidate {
    parse_metered(view, &NATURAL_GAS_SPEC)
}

pub const LPG_WORDS: &[&str] = &["桶裝瓦斯", "液化石油氣", "液化瓦斯", "LPG"];
const KG_UNITS: &[&str] = &["公斤", "kg", "KG", "Kg"];
const LITRE_UNITS: &[&str] = &["公升", "L"];

/// `20公斤 x 2桶` → 40 kg; `40 kg` → 40 kg; `50公升` → 50 L.
pub fn lpg_quantity(s: &str) -> Option<(f64, Unit)> {
    if let Some(h) = number_before_unit(s, KG_UNITS) {
        if h.ambiguous {
            return None;
        }
        let per = h.value?;
        // Optional "x N桶" after the weight.
        let rest = &s[h.end..];
        let after_unit = KG_UNITS.iter().find_map(|u| rest.trim_start().strip_prefix(u)).unwrap_or(rest);
        let t = after_unit.trim_start();
        if let Some(op) = t.strip_prefix(['x', 'X', '×', '*']) {
            let offset = s.len() - op.len();
            if let Some(n) = find_number_from(s, offset) {
                let between = &s[offset..n.start];
                if between.trim().is_empty() && s[n.end..].trim_start().starts_with('桶') {
                    return Some((per * n.value?, Unit::Kg));
                }
            }
        }
        return Some((per, Unit::Kg));
    }
    let h = number_before_unit(s, LITRE_UNITS)?;
    if h.ambiguous {
        return None;
    }
    Some((h.value?, Unit::Litre))
}

pub fn parse_lpg(view: &PageView) -> ActivityCandidate {
    let mut r = Review::new();
    let item = view.lines.iter().filter(|l| LPG_WORDS.iter().any(|w| l.text.contains(w))).find_map(|l| {
        lpg_quantity(&l.text).map(|q| (q, l.confidence))
    });
    let item = item.or_else(|| {
        view.labelled(&["數量", "重量"]).and_then(|f| lpg_quantity(&f.text).map(|q| (q, f.confidence)))
    });
    let unit = item.map_or(Unit::Kg, |((_, u), _)| u);
    let mut c = ActivityCandidate::new(ActivityKind::Lpg, unit, view.page);
    match item {
        Some(((q, _), conf)) if q > 0.0 => {
            r.used("瓦斯重量", conf);
            c.quantity = Some(q);
        }
        _ => r.issue("找不到桶裝瓦斯的公斤數（或公升數），請依收據人工填寫。".to_string()),
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
    fn lpg_quantities() {
        assert_eq!(lpg_quantity("桶裝瓦斯 20公斤 x 2桶"), Some((40.0, Unit::Kg)));
        assert_eq!(lpg_quantity("桶裝瓦斯 20公斤"), Some((20.0, Unit::Kg)));
        assert_eq!(lpg_quantity("液化石油氣 40 kg"), Some((40.0, Unit::Kg)));
        assert_eq!(lpg_quantity("液化石油氣 50公升"), Some((50.0, Unit::Litre)));
        assert_eq!(lpg_quantity("桶裝瓦斯 一桶"), None);
    }
}
