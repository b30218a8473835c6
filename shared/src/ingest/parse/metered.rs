//! The shared reader for metered utility bills (electricity, water, natural gas):
//! a meter / customer number, a billing period, a quantity and the amount payable.

use crate::domain::{ActivityCandidate, ActivityKind, Unit};
use crate::ingest::parse::checks::{self, Review};
use crate::ingest::parse::dates::scan_dates;
use crate::ingest::parse::numbers::{find_invoice_number, value_number};
use crate::ingest::parse::page::{Found, PageView};

/// Billing periods of monthly or bimonthly bills.
pub const PERIOD_MIN_DAYS: i64 = 25;
pub const PERIOD_MAX_DAYS: i64 = 70;

pub struct MeteredSpec {
    pub kind: ActivityKind,
    pub unit: Unit,
    /// zh-TW names used in messages.
    pub meter_name: &'static str,
    pub quantity_name: &'static str,
    pub meter_labels: &'static [&'static str],
    pub quantity_labels: &'static [&'static str],
    /// Textract query aliases for the quantity.
    pub quantity_aliases: &'static [&'static str],
    pub amount_labels: &'static [&'static str],
    /// Plausible NT$ per unit.
    pub rate_range: (f64, f64),
    /// The unit word in "每{per}" messages.
    pub per: &'static str,
    /// Extra shape check on the meter id (e.g. 台電電號).
    pub meter_check: Option<fn(&str, &mut Review)>,
    pub meter_format: Option<fn(&str) -> String>,
}

pub const PERIOD_LABELS: &[&str] = &["計費期間", "用電期間", "用水期間", "使用期間", "計費起迄", "計費日期"];

fn value(view: &PageView, aliases: &[&str], labels: &[&str]) -> Option<Found> {
    view.field(aliases).or_else(|| view.labelled(labels))
}

pub fn parse_metered(view: &PageView, spec: &MeteredSpec) -> ActivityCandidate {
    let mut c = ActivityCandidate::new(spec.kind, spec.unit, view.page);
    let mut r = Review::new();

    // Meter / customer number.
    match value(view, &["meter_id"], spec.meter_labels) {
        Some(f) => match meter_token(&f.text) {
            Some(id) => {
                let id = spec.meter_format.map_or(id.clone(), |fmt| fmt(&id));
                // The number identifies the bill; it is not a value that is counted, and
                // dedupe does not rest on it (see `Activity::refresh`): its shape is
                // checked, its OCR confidence does not send the bill to review.
                let _ = f.confidence;
                if let Some(check) = spec.meter_check {
                    check(&id, &mut r);
                }
                c.meter_id = Some(id);
            }
            None => r.issue(format!("{}「{}」無法辨識，請人工填寫。", spec.meter_name, f.text)),
        },
        None => r.issue(format!("找不到{}，請人工填寫。", spec.meter_name)),
    }

    // Billing period.
    match value(view, &["period"], PERIOD_LABELS) {
        Some(f) => {
            let hits = scan_dates(&f.text);
            let bad: Vec<String> = hits.iter().filter_map(|h| h.date.clone().err()).collect();
            let good: Vec<_> = hits.iter().filter_map(|h| h.date.clone().ok()).collect();
            if !bad.is_empty() {
                r.issue(format!("計費期間日期有誤：{}，請人工確認。", bad.join("；")));
            } else if good.len() >= 2 {
                r.used("計費期間", f.confidence);
                c.period_start = Some(good[0]);
                c.period_end = Some(good[1]);
                checks::check_period(good[0], good[1], PERIOD_MIN_DAYS, PERIOD_MAX_DAYS, &mut r);
            } else {
                r.issue(format!("計費期間「{}」無法辨識起迄日期，請人工填寫。", f.text));
            }
        }
        None => r.issue("找不到計費期間，請人工填寫起迄日期。".to_string()),
    }

    // Quantity: never zero, never guessed.
    match value(view, spec.quantity_aliases, spec.quantity_labels) {
        Some(f) => match value_number(&f.text) {
            Some(q) if q > 0.0 => {
                r.used(spec.quantity_name, f.confidence);
                c.quantity = Some(q);
            }
            Some(_) => r.issue(format!("{}為 0，請確認是否讀錯或為空單。", spec.quantity_name)),
            None => r.issue(format!("{}「{}」無法辨識為數字，請人工填寫。", spec.quantity_name, f.text)),
        },
        None => r.issue(format!("找不到{}，請人工填寫用量。", spec.quantity_name)),
    }

    // Amount payable.
    match value(view, &["amount", "TOTAL", "AMOUNT_DUE"], spec.amount_labels) {
        Some(f) => match value_number(&f.text) {
            Some(a) => {
                r.used("應繳金額", f.confidence);
                c.amount_ntd = Some(a);
            }
            None => r.issue(format!("應繳金額「{}」無法辨識，請人工確認。", f.text)),
        },
        None => r.issue("找不到應繳金額。".to_string()),
    }

    if let (Some(a), Some(q)) = (c.amount_ntd, c.quantity) {
        checks::check_rate(a, q, spec.rate_range.0, spec.rate_range.1, spec.per, &mut r);
    }
    c.invoice_number = page_invoice_number(view);
    r.finish(&mut c);
    c
}

/// The first run of digits and dashes (a meter or customer number), spaces removed.
pub fn meter_token(s: &str) -> Option<String> {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let start = t.find(|c: char| c.is_ascii_digit())?;
    let tok: String = t[start..].chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
    let tok = tok.trim_end_matches('-').to_string();
    (tok.len() >= 4).then_some(tok)
}

/// The invoice number printed on a page (Textract `INVOICE_RECEIPT_ID` first).
pub fn page_invoice_number(view: &PageView) -> Option<String> {
    if let Some(f) = view.field(&["INVOICE_RECEIPT_ID", "invoice_number"]) {
        let up = f.text.to_ascii_uppercase();
        if let Some(n) = find_invoice_number(&up) {
            return Some(n);
        }
    }
    view.lines.iter().find_map(|l| find_invoice_number(&l.text))
}
