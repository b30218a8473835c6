//! The Ministry of Finance e-invoice consumer export (財政部電子發票整合服務平台
//! 「消費明細」): `|`-separated `M` (invoice) and `D` (item) rows, optionally preceded by
//! `表頭=M|...` / `明細=D|...` header lines naming the columns. Fuel items become
//! candidates; other invoices are skipped and counted.

use std::collections::HashMap;

use crate::domain::{ActivityCandidate, Unit};
use crate::ingest::parse::checks::Review;
use crate::ingest::parse::csv_import::{apply_rate_checks, CsvImport, CsvLayout, RejectedRow};
use crate::ingest::parse::dates::parse_date;
use crate::ingest::parse::fuel::{fuel_grade, litres_in};
use crate::ingest::parse::numbers::{normalise_text, parse_cell_number, parse_invoice_number};

pub fn looks_like_einvoice(text: &str) -> bool {
    let mut lines = text.lines().map(|l| l.trim().trim_start_matches('\u{feff}')).filter(|l| !l.is_empty());
    let Some(first) = lines.next() else { return false };
    first.starts_with("表頭=") || first.starts_with("明細=") || (first.starts_with("M|") || first.starts_with("D|"))
}

/// Column positions; defaults follow the documented export.
struct Layout {
    m_date: usize,
    m_shop: usize,
    m_invoice: usize,
    m_status: usize,
    d_invoice: usize,
    d_subtotal: usize,
    d_item: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Self { m_date: 3, m_shop: 5, m_invoice: 6, m_status: 8, d_invoice: 1, d_subtotal: 2, d_item: 3 }
    }
}

fn pos(cells: &[&str], name: &str) -> Option<usize> {
    cells.iter().position(|c| c.starts_with(name))
}

struct Invoice {
    date: Option<String>,
    status: String,
    shop: String,
}

struct Item {
    row: u32,
    invoice: String,
    subtotal: String,
    name: String,
}

pub fn parse_einvoice(text: &str) -> CsvImport {
    let mut layout = Layout::default();
    let mut out = CsvImport { candidates: Vec::new(), skipped: 0, layout: CsvLayout::EInvoice, rejected: Vec::new() };
    let mut invoices: Vec<(String, Invoice)> = Vec::new();
    let mut items: Vec<Item> = Vec::new();

    for (idx, raw) in text.lines().enumerate() {
        let row = idx as u32 + 1;
        let line = normalise_text(raw.trim_start_matches('\u{feff}'));
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let get = |i: usize| cells.get(i).copied().unwrap_or("").to_string();
        if let Some(h) = line.strip_prefix("表頭=") {
            let hc: Vec<&str> = h.split('|').map(str::trim).collect();
            layout.m_date = pos(&hc, "發票日期").unwrap_or(layout.m_date);
            layout.m_shop = pos(&hc, "商店店名").unwrap_or(layout.m_shop);
            layout.m_invoice = pos(&hc, "發票號碼").unwrap_or(layout.m_invoice);
            layout.m_status = pos(&hc, "發票狀態").unwrap_or(layout.m_status);
            continue;
        }
        if let Some(h) = line.strip_prefix("明細=") {
            let hc: Vec<&str> = h.split('|').map(str::trim).collect();
            layout.d_invoice = pos(&hc, "發票號碼").unwrap_or(layout.d_invoice);
            layout.d_subtotal = pos(&hc, "小計").unwrap_or(layout.d_subtotal);
            layout.d_item = pos(&hc, "品項名稱").unwrap_or(layout.d_item);
            continue;
        }
        match cells.first().copied() {
            Some("M") => {
                let inv = get(layout.m_invoice);
                let date = Some(get(layout.m_date)).filter(|s| !s.is_empty());
                invoices.push((inv, Invoice { date, status: get(layout.m_status), shop: get(layout.m_shop) }));
            }
            Some("D") => items.push(Item {
                row,
                invoice: get(layout.d_invoice),
                subtotal: get(layout.d_subtotal),
                name: get(layout.d_item),
            }),
            _ => out.rejected.push(RejectedRow {
                row,
                reason: format!("無法辨識的資料列（應以 M| 或 D| 開頭）：「{}」", line.chars().take(40).collect::<String>()),
            }),
        }
    }

    let by_invoice: HashMap<&str, &Invoice> = invoices.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut fuel_invoices: Vec<&str> = Vec::new();
    for it in &items {
        let header = by_invoice.get(it.invoice.as_str()).copied();
        if header.is_some_and(|h| h.status.contains("作廢") || h.status.contains("註銷")) {
            continue; // void: counted as skipped below
        }
        let Some(grade) = fuel_grade(&it.name) else { continue };
        if !fuel_invoices.contains(&it.invoice.as_str()) {
            fuel_invoices.push(&it.invoice);
        }
        out.candidates.push(fuel_candidate(it, &grade, header));
    }
    // Every invoice (with or without an M row) that gave no candidate is skipped and counted.
    let mut all: Vec<&str> = invoices.iter().map(|(k, _)| k.as_str()).collect();
    for it in &items {
        if !all.contains(&it.invoice.as_str()) {
            all.push(&it.invoice);
        }
    }
    out.skipped = all.iter().filter(|k| !fuel_invoices.contains(k)).count() as u32;
    out
}

fn fuel_candidate(it: &Item, grade: &crate::ingest::parse::fuel::FuelGrade, header: Option<&Invoice>) -> ActivityCandidate {
    let mut r = Review::new();
    let mut c = ActivityCandidate::new(grade.kind, Unit::Litre, it.row);
    c.detail = Some(grade.detail.clone());
    let after = &it.name[grade.end..];
    match litres_in(after).filter(|h| !h.ambiguous).and_then(|h| h.value) {
        Some(l) if l > 0.0 => c.quantity = Some(l),
        _ => r.issue(format!("電子發票品項「{}」未列公升數，請依加油收據填寫加油公升數。", it.name)),
    }
    match parse_cell_number(&it.subtotal) {
        Ok(a) if a >= 0.0 => c.amount_ntd = Some(a),
        Ok(_) => r.issue(format!("品項小計「{}」為負數（可能是折讓），請確認。", it.subtotal)),
        Err(e) => r.issue(format!("品項小計無法辨識：{e}。")),
    }
    apply_rate_checks(&mut c, false, &mut r);
    match header {
        Some(h) => match h.date.as_deref().map(parse_date) {
            Some(Ok(d)) => {
                c.period_start = Some(d);
                c.period_end = Some(d);
            }
            Some(Err(e)) => r.issue(format!("發票日期有誤：{e}。")),
            None => r.issue(format!("發票（{}）缺少發票日期，請確認。", h.shop)),
        },
        None => r.issue(format!("找不到發票 {} 的表頭（M 列），日期未知，請確認。", it.invoice)),
    }
    match parse_invoice_number(&it.invoice) {
        Some(n) => c.invoice_number = Some(n),
        None => r.issue(format!("發票號碼「{}」格式不符。", it.invoice)),
    }
    c.issues = r.into_issues();
    c
}
