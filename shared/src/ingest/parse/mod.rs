//! Bill parsers: turn an `ExtractedDocument` (OCR / Textract / PDF text) into
//! `ActivityCandidate`s, and import CSV files (our documented layout and the Ministry
//! of Finance e-invoice export). Every value not read is `None` with a zh-TW issue;
//! nothing unread becomes zero.

pub mod checks;
pub mod csv_import;
pub mod dates;
pub mod einvoice;
pub mod fuel;
pub mod gas;
pub mod metered;
pub mod numbers;
pub mod page;
pub mod receipt;
pub mod refrigerant;
pub mod taipower;
pub mod water;

use serde::{Deserialize, Serialize};

use crate::domain::{ActivityCandidate, ExtractedDocument, ExtractedPage};
use crate::ingest::parse::page::PageView;

pub use checks::CONFIDENCE_THRESHOLD;
pub use csv_import::{parse_csv, CsvError, CsvImport, CsvLayout, RejectedRow};

/// What `parse_document` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedDocument {
    pub candidates: Vec<ActivityCandidate>,
    /// 1-based pages that are none of the known bill types.
    pub unrecognised_pages: Vec<u32>,
}

/// The bill types a page can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageKind {
    Electricity,
    Water,
    /// Gasoline or diesel receipt; the grade decides which.
    FuelReceipt,
    NaturalGas,
    Lpg,
    Refrigerant,
}

fn any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

fn classify_view(view: &PageView) -> Option<PageKind> {
    let t = view.compact_text();
    if any(&t, &["冷媒"]) {
        return Some(PageKind::Refrigerant);
    }
    if any(&t, gas::LPG_WORDS) {
        return Some(PageKind::Lpg);
    }
    if fuel::is_fuel_text(&t) {
        return Some(PageKind::FuelReceipt);
    }
    // Issuer names first, then the quantity labels that only one bill type prints.
    if any(&t, &["天然氣", "瓦斯費"]) || view.has_field("gas_m3") {
        return Some(PageKind::NaturalGas);
    }
    if view.has_field("kwh") || any(&t, &["台灣電力", "台電", "電費", "電號"]) {
        return Some(PageKind::Electricity);
    }
    if view.has_field("water_m3") || any(&t, &["自來水", "台水", "水費", "水號"]) {
        return Some(PageKind::Water);
    }
    if any(&t, &["計費度數", "用電度數"]) {
        return Some(PageKind::Electricity);
    }
    if any(&t, &["用水度數"]) {
        return Some(PageKind::Water);
    }
    if any(&t, &["使用度數"]) {
        return Some(PageKind::NaturalGas);
    }
    None
}

/// Decides which bill a page is from its text and fields; `None` when it is none of them.
pub fn classify_page(page: &ExtractedPage) -> Option<PageKind> {
    classify_view(&PageView::new(page))
}

/// Parses one page already classified.
pub fn parse_page(page: &ExtractedPage, kind: PageKind) -> ActivityCandidate {
    let view = PageView::new(page);
    parse_view(&view, kind)
}

fn parse_view(view: &PageView, kind: PageKind) -> ActivityCandidate {
    match kind {
        PageKind::Electricity => taipower::parse(view),
        PageKind::Water => water::parse(view),
        PageKind::FuelReceipt => fuel::parse(view),
        PageKind::NaturalGas => gas::parse_natural_gas(view),
        PageKind::Lpg => gas::parse_lpg(view),
        PageKind::Refrigerant => refrigerant::parse(view),
    }
}

/// Classifies every page and extracts its values.
pub fn parse_document(doc: &ExtractedDocument) -> ParsedDocument {
    let mut out = ParsedDocument { candidates: Vec::new(), unrecognised_pages: Vec::new() };
    for p in &doc.pages {
        let view = PageView::new(p);
        match classify_view(&view) {
            Some(kind) => out.candidates.push(parse_view(&view, kind)),
            None => out.unrecognised_pages.push(p.page),
        }
    }
    out
}

#[cfg(test)]
mod tests;
