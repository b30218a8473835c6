//! CSV imports: our documented layout (docs/csv-import.md) and the Ministry of Finance
//! e-invoice export (see `einvoice`). Encoding: UTF-8 with or without BOM, otherwise
//! Big5/CP950 as Excel in Taiwan saves it.

use serde::{Deserialize, Serialize};

use crate::domain::{ActivityCandidate, ActivityKind, ExtractionMethod, Unit};
use crate::ingest::parse::checks::{self, Review};
use crate::ingest::parse::dates::parse_date;
use crate::ingest::parse::numbers::{normalise_text, parse_cell_number, parse_invoice_number};
use crate::ingest::parse::{einvoice, fuel, gas, refrigerant, taipower, water};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvLayout {
    /// Our documented import layout.
    Documented,
    /// 財政部電子發票整合服務平台「消費明細」export.
    EInvoice,
}

impl CsvLayout {
    pub fn method(self) -> ExtractionMethod {
        match self {
            Self::Documented => ExtractionMethod::Csv,
            Self::EInvoice => ExtractionMethod::EInvoice,
        }
    }
}

/// A row that could not become a candidate at all (its kind is unreadable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// 1-based line number in the file.
    pub row: u32,
    /// zh-TW.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsvImport {
    /// `page` is the 1-based CSV line number.
    pub candidates: Vec<ActivityCandidate>,
    /// E-invoices that are not fuel (or are void), counted, not imported.
    pub skipped: u32,
    pub layout: CsvLayout,
    /// Rows whose kind could not be read: reported, never silently dropped.
    pub rejected: Vec<RejectedRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("無法辨識檔案的文字編碼，請另存為 UTF-8 或 Big5（Excel「CSV」）格式後再上傳。")]
    Encoding,
    #[error("CSV 檔案是空的。")]
    Empty,
    #[error("無法辨識的 CSV 格式：{0}。請使用匯入說明中的欄位（類別、細項、數量、單位、起日、迄日…），或財政部電子發票平台匯出的「消費明細」檔。")]
    UnknownLayout(String),
}

/// Decodes the bytes: UTF-8 (BOM stripped), else Big5 (CP950).
pub fn decode(bytes: &[u8]) -> Result<String, CsvError> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(b) {
        return Ok(s.to_string());
    }
    let (s, had_errors) = encoding_rs::BIG5.decode_without_bom_handling(b);
    if had_errors {
        return Err(CsvError::Encoding);
    }
    Ok(s.into_owned())
}

/// Reads a CSV file in either supported layout.
pub fn parse_csv(bytes: &[u8]) -> Result<CsvImport, CsvError> {
    let text = decode(bytes)?;
    if text.contains('\0') {
        return Err(CsvError::Encoding);
    }
    if text.trim().is_empty() {
        return Err(CsvError::Empty);
    }
    if einvoice::looks_like_einvoice(&text) {
        return Ok(einvoice::parse_einvoice(&text));
    }
    for delimiter in [b',', b'\t', b';'] {
        if let Some(import) = parse_documented(&text, delimiter) {
            return Ok(import);
        }
    }
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let shown: String = first.chars().take(40).collect();
    Err(CsvError::UnknownLayout(format!("找不到含「類別」與「數量」欄的標題列（第一列為「{shown}」）")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Kind,
    Detail,
    Quantity,
    Unit,
    Start,
    End,
    Meter,
    Amount,
    Invoice,
    UnitPrice,
}

const ALIASES: &[(Col, &[&str])] = &[
    (Col::Kind, &["類別", "kind", "種類"]),
    (Col::Detail, &["細項", "detail", "品名"]),
    (Col::Quantity, &["數量", "quantity", "用量"]),
    (Col::Unit, &["單位", "unit"]),
    (Col::Start, &["起日", "period_start", "開始日期"]),
    (Col::End, &["迄日", "period_end", "結束日期"]),
    (Col::Meter, &["電號或水號", "meter_id", "電號", "水號", "用戶編號"]),
    (Col::Amount, &["金額", "amount_ntd", "amount"]),
    (Col::Invoice, &["發票號碼", "invoice_number"]),
    (Col::UnitPrice, &["單價", "unit_price"]),
];

fn header_col(cell: &str) -> Option<Col> {
    let t = normalise_text(cell).to_lowercase();
    let t = t.trim_start_matches('\u{feff}');
    t.split(['/', '(', ')', '（', '）', '|'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .find_map(|p| ALIASES.iter().find(|(_, names)| names.contains(&p)).map(|(c, _)| *c))
}

fn parse_documented(text: &str, delimiter: u8) -> Option<CsvImport> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut header: Option<Vec<Option<Col>>> = None;
    let mut seen = 0;
    let mut out = CsvImport { candidates: Vec::new(), skipped: 0, layout: CsvLayout::Documented, rejected: Vec::new() };
    for rec in rdr.records() {
        let Ok(rec) = rec else {
            // A malformed record before the header means this is not our layout.
            header.as_ref()?;
            continue;
        };
        let line = rec.position().map_or(0, |p| p.line()) as u32;
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        match &header {
            None => {
                seen += 1;
                let cols: Vec<Option<Col>> = rec.iter().map(header_col).collect();
                if cols.contains(&Some(Col::Kind)) && cols.contains(&Some(Col::Quantity)) {
                    header = Some(cols);
                } else if seen >= 5 {
                    return None;
                }
            }
            Some(cols) => {
                let get = |c: Col| {
                    cols.iter()
                        .position(|x| *x == Some(c))
                        .and_then(|i| rec.get(i))
                        .map(|s| normalise_text(s).trim().to_string())
                        .filter(|s| !s.is_empty())
                };
                let row = Row {
                    kind: get(Col::Kind),
                    detail: get(Col::Detail),
                    quantity: get(Col::Quantity),
                    unit: get(Col::Unit),
                    start: get(Col::Start),
                    end: get(Col::End),
                    meter: get(Col::Meter),
                    amount: get(Col::Amount),
                    invoice: get(Col::Invoice),
                    unit_price: get(Col::UnitPrice),
                };
                match row_candidate(&row, line) {
                    Ok(c) => out.candidates.push(c),
                    Err(reason) => out.rejected.push(RejectedRow { row: line, reason }),
                }
            }
        }
    }
    header.map(|_| out)
}

#[derive(Debug, Default)]
struct Row {
    kind: Option<String>,
    detail: Option<String>,
    quantity: Option<String>,
    unit: Option<String>,
    start: Option<String>,
    end: Option<String>,
    meter: Option<String>,
    amount: Option<String>,
    invoice: Option<String>,
    unit_price: Option<String>,
}

/// A kind written as the English enum name or a zh-TW word; a fuel grade also gives the
/// detail (`95無鉛汽油`).
pub fn parse_kind(s: &str) -> Option<(ActivityKind, Option<String>)> {
    let t = normalise_text(s);
    let t = t.trim();
    let lower = t.to_lowercase().replace([' ', '-'], "_");
    if let Some(k) = ActivityKind::parse(&lower) {
        return Some((k, None));
    }
    if let Some(k) = ActivityKind::ALL.into_iter().find(|k| k.label() == t) {
        return Some((k, None));
    }
    let words: &[(&[&str], ActivityKind)] = &[
        (&["電力", "電", "用電", "電費", "外購電力", "台電"], ActivityKind::Electricity),
        (&["自來水", "水", "用水", "水費", "台水"], ActivityKind::Water),
        (&["天然氣", "naturalgas", "natural_gas"], ActivityKind::NaturalGas),
        (&["桶裝瓦斯", "液化石油氣", "液化瓦斯", "瓦斯", "lpg"], ActivityKind::Lpg),
        (&["冷媒", "冷媒填充"], ActivityKind::Refrigerant),
        (&["化糞池", "水肥"], ActivityKind::Septic),
    ];
    if let Some((_, k)) = words.iter().find(|(ws, _)| ws.contains(&t) || ws.contains(&lower.as_str())) {
        return Some((*k, None));
    }
    let g = fuel::fuel_grade(t)?;
    let whole = t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    if whole == g.detail || whole == "車用汽油" {
        let hint = (g.detail != "汽油" && g.detail != "柴油").then_some(g.detail);
        return Some((g.kind, hint));
    }
    None
}

fn parse_unit(s: &str, kind: ActivityKind) -> Option<Unit> {
    let t = s.trim();
    match t {
        "度" => match kind {
            ActivityKind::Electricity => Some(Unit::Kwh),
            ActivityKind::Water | ActivityKind::NaturalGas => Some(Unit::M3),
            _ => None,
        },
        "千瓦時" => Some(Unit::Kwh),
        "立方米" | "m^3" => Some(Unit::M3),
        "公升(L)" | "公升（L）" => Some(Unit::Litre),
        _ => Unit::parse(t).or_else(|| ActivityKind::ALL.iter().flat_map(|k| k.units()).find(|u| u.label() == t).copied()),
    }
}

fn row_candidate(row: &Row, line: u32) -> Result<ActivityCandidate, String> {
    let kind_text = row.kind.as_deref().ok_or_else(|| "未填「類別」，無法判斷排放源。".to_string())?;
    let (kind, hint) = parse_kind(kind_text).ok_or_else(|| {
        format!("類別「{kind_text}」無法辨識（可用：電力、自來水、汽油、柴油、天然氣、桶裝瓦斯、冷媒、化糞池，或英文 electricity、water…）。")
    })?;
    let mut r = Review::new();
    let default_unit = kind.units()[0];
    let mut c = ActivityCandidate::new(kind, default_unit, line);

    // Unit.
    let unit = match &row.unit {
        Some(u) => match parse_unit(u, kind) {
            Some(unit) if kind.units().contains(&unit) => Some(unit),
            _ => {
                let allowed: Vec<&str> = kind.units().iter().map(|u| u.label()).collect();
                r.issue(format!("單位「{u}」不適用於{}（可用：{}），數量未匯入。", kind.label(), allowed.join("、")));
                None
            }
        },
        None if kind.units().len() == 1 => Some(default_unit),
        None => {
            r.issue(format!("{}請填寫單位（公斤或公升），數量未匯入。", kind.label()));
            None
        }
    };
    if let Some(u) = unit {
        c.unit = u;
    }

    // Quantity: never zero, never guessed.
    match &row.quantity {
        None => r.issue("未填「數量」，請補上用量。".to_string()),
        Some(q) => match parse_cell_number(q) {
            Ok(v) if v > 0.0 => {
                if unit.is_some() {
                    c.quantity = Some(v);
                }
            }
            Ok(_) => r.issue(format!("數量「{q}」必須大於 0。")),
            Err(e) => r.issue(format!("數量無法辨識：{e}。")),
        },
    }

    // Detail.
    c.detail = row.detail.clone().or(hint);
    match kind {
        ActivityKind::Refrigerant => match c.detail.as_deref().map(|d| (d, refrigerant::refrigerant_name(d))) {
            Some((_, Some((name, _)))) => c.detail = Some(name),
            Some((d, None)) => r.issue(format!("冷媒種類「{d}」無法辨識（例如 R-410A、R-32），請確認。")),
            None => r.issue("冷媒請在「細項」填寫種類（例如 R-410A）。".to_string()),
        },
        ActivityKind::Gasoline | ActivityKind::Diesel => {
            if let Some(g) = c.detail.as_deref().and_then(fuel::fuel_grade) {
                if g.kind != kind {
                    r.issue(format!("細項「{}」與類別「{}」不一致，請確認。", g.detail, kind.label()));
                }
                c.detail = Some(g.detail);
            }
        }
        _ => {}
    }

    // Dates.
    let mut date = |cell: &Option<String>, name: &str| match cell {
        Some(s) => match parse_date(s) {
            Ok(d) => Some(d),
            Err(e) => {
                r.issue(format!("{name}有誤：{e}。"));
                None
            }
        },
        None => None,
    };
    c.period_start = date(&row.start, "起日");
    c.period_end = date(&row.end, "迄日");
    match (c.period_start, c.period_end) {
        (Some(s), Some(e)) if s > e => r.issue(format!("起日 {s} 晚於迄日 {e}，請確認。")),
        (None, None) if row.start.is_none() && row.end.is_none() => {
            r.issue("未填起日與迄日，無法歸入盤查年度與月份。".to_string())
        }
        _ => {}
    }

    // Meter id.
    if let Some(m) = &row.meter {
        let id = if kind == ActivityKind::Electricity { checks::format_taipower_meter(m) } else { m.clone() };
        if kind == ActivityKind::Electricity {
            checks::check_taipower_meter(&id, &mut r);
        }
        c.meter_id = Some(id);
    }

    // Amount and unit price.
    if let Some(a) = &row.amount {
        match parse_cell_number(a) {
            Ok(v) if v >= 0.0 => c.amount_ntd = Some(v),
            Ok(_) => r.issue(format!("金額「{a}」不可為負數。")),
            Err(e) => r.issue(format!("金額無法辨識：{e}。")),
        }
    }
    let mut price_read = false;
    if let Some(p) = &row.unit_price {
        match parse_cell_number(p) {
            Ok(v) if v > 0.0 => {
                c.unit_price = Some(v);
                price_read = true;
            }
            _ => r.issue(format!("單價「{p}」無法辨識。")),
        }
    }
    apply_rate_checks(&mut c, price_read, &mut r);

    // Invoice number.
    if let Some(inv) = &row.invoice {
        match parse_invoice_number(inv) {
            Some(n) => c.invoice_number = Some(n),
            None => r.issue(format!("發票號碼「{inv}」格式不符（應為兩個英文字母加 8 位數字，例如 AB12345678）。")),
        }
    }

    c.issues = r.into_issues();
    Ok(c)
}

/// The same plausibility checks the bill parsers apply, for rows typed by a person.
pub(crate) fn apply_rate_checks(c: &mut ActivityCandidate, price_read: bool, r: &mut Review) {
    let (Some(q), Some(a)) = (c.quantity, c.amount_ntd) else {
        if let Some(p) = c.unit_price.filter(|_| matches!(c.kind, ActivityKind::Gasoline | ActivityKind::Diesel)) {
            checks::check_fuel_price(p, r);
        }
        return;
    };
    match c.kind {
        ActivityKind::Electricity => checks::check_rate(a, q, taipower::RATE_RANGE.0, taipower::RATE_RANGE.1, "度", r),
        ActivityKind::Water => checks::check_rate(a, q, water::RATE_RANGE.0, water::RATE_RANGE.1, "度（立方公尺）", r),
        ActivityKind::NaturalGas => checks::check_rate(a, q, gas::RATE_RANGE.0, gas::RATE_RANGE.1, "度（立方公尺）", r),
        ActivityKind::Gasoline | ActivityKind::Diesel => {
            if c.unit_price.is_none() {
                c.unit_price = Some((a / q * 100.0).round() / 100.0);
            }
            if let Some(p) = c.unit_price {
                checks::check_fuel_price(p, r);
                if price_read {
                    checks::check_fuel_total(q, p, a, r);
                }
            }
        }
        _ => {}
    }
}
