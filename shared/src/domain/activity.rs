//! Activity data: what a bill says was consumed, and the text a bill was read into.
//! No I/O here; extractors (Textract, Tesseract, PDF text layer, CSV) fill
//! `ExtractedDocument`, parsers turn it into `ActivityCandidate`s.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What was consumed. Each kind has one canonical unit family (see `Unit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// Purchased grid electricity (kWh). Scope 2 / ISO category 2.
    Electricity,
    /// Tap water (m³). Scope 3 / ISO category 4.
    Water,
    /// Motor gasoline (L), e.g. 92/95/98無鉛汽油. Scope 1 / category 1 (mobile).
    Gasoline,
    /// Diesel (L), e.g. 超級柴油. Scope 1 / category 1.
    Diesel,
    /// Natural gas (m³; 度 on Taiwanese gas bills = m³). Scope 1 / category 1.
    NaturalGas,
    /// LPG, 桶裝瓦斯 (kg or L). Scope 1 / category 1.
    Lpg,
    /// Refrigerant refill (kg); `detail` names the gas (R-410A...). Scope 1 / category 1.
    Refrigerant,
    /// On-site septic tank (person-hours worked). Scope 1 / category 1.
    Septic,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 8] = [
        Self::Electricity,
        Self::Water,
        Self::Gasoline,
        Self::Diesel,
        Self::NaturalGas,
        Self::Lpg,
        Self::Refrigerant,
        Self::Septic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Electricity => "electricity",
            Self::Water => "water",
            Self::Gasoline => "gasoline",
            Self::Diesel => "diesel",
            Self::NaturalGas => "natural_gas",
            Self::Lpg => "lpg",
            Self::Refrigerant => "refrigerant",
            Self::Septic => "septic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// zh-TW label for pages and reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::Electricity => "外購電力",
            Self::Water => "自來水",
            Self::Gasoline => "車用汽油",
            Self::Diesel => "柴油",
            Self::NaturalGas => "天然氣",
            Self::Lpg => "液化石油氣（桶裝瓦斯）",
            Self::Refrigerant => "冷媒填充",
            Self::Septic => "化糞池（水肥）",
        }
    }

    /// The units a quantity of this kind may be given in.
    pub fn units(self) -> &'static [Unit] {
        match self {
            Self::Electricity => &[Unit::Kwh],
            Self::Water | Self::NaturalGas => &[Unit::M3],
            Self::Gasoline | Self::Diesel => &[Unit::Litre],
            Self::Lpg => &[Unit::Kg, Unit::Litre],
            Self::Refrigerant => &[Unit::Kg],
            Self::Septic => &[Unit::PersonHour],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Unit {
    #[serde(rename = "kWh")]
    Kwh,
    #[serde(rename = "m3")]
    M3,
    #[serde(rename = "L")]
    Litre,
    #[serde(rename = "kg")]
    Kg,
    #[serde(rename = "person_hour")]
    PersonHour,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kwh => "kWh",
            Self::M3 => "m3",
            Self::Litre => "L",
            Self::Kg => "kg",
            Self::PersonHour => "person_hour",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "kWh" | "kwh" | "KWH" | "度(電)" => Some(Self::Kwh),
            "m3" | "m³" | "M3" | "立方公尺" => Some(Self::M3),
            "L" | "l" | "公升" | "升" => Some(Self::Litre),
            "kg" | "KG" | "Kg" | "公斤" => Some(Self::Kg),
            "person_hour" | "人時" => Some(Self::PersonHour),
            _ => None,
        }
    }
    /// zh-TW display.
    pub fn label(self) -> &'static str {
        match self {
            Self::Kwh => "度（kWh）",
            Self::M3 => "立方公尺（m³）",
            Self::Litre => "公升（L）",
            Self::Kg => "公斤（kg）",
            Self::PersonHour => "人時",
        }
    }
}

/// How the values were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractionMethod {
    /// The PDF's own text layer (exact).
    PdfText,
    /// Local OCR (Tesseract).
    Tesseract,
    /// Amazon Textract AnalyzeExpense.
    TextractExpense,
    /// Amazon Textract AnalyzeDocument (queries / forms).
    TextractAnalyzeDocument,
    /// Amazon Textract text detection (sync or async).
    TextractText,
    /// The documented CSV import layout.
    Csv,
    /// The Ministry of Finance e-invoice export (財政部電子發票).
    EInvoice,
    /// Typed or corrected by a person in the review queue.
    Manual,
}

impl ExtractionMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PdfText => "pdf_text",
            Self::Tesseract => "tesseract",
            Self::TextractExpense => "textract_expense",
            Self::TextractAnalyzeDocument => "textract_analyze_document",
            Self::TextractText => "textract_text",
            Self::Csv => "csv",
            Self::EInvoice => "einvoice",
            Self::Manual => "manual",
        }
    }
}

/// One line of text as read, with the reader's confidence in 0.0..=1.0
/// (1.0 for a PDF text layer or a CSV cell).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextLine {
    pub text: String,
    pub confidence: f32,
}

/// A key/value the reader itself recognised (Textract expense fields such as `TOTAL`,
/// `INVOICE_RECEIPT_ID`, line-item fields `ITEM`/`QUANTITY`/`UNIT_PRICE`/`PRICE`, or a
/// query alias such as `kwh`). Keys are upper-case for expense fields, the alias for
/// queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub key: String,
    pub value: String,
    pub confidence: f32,
    /// For line-item fields: which line item (0-based) the field belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedPage {
    /// 1-based page number within the document.
    pub page: u32,
    pub lines: Vec<TextLine>,
    #[serde(default)]
    pub fields: Vec<Field>,
}

/// A document read into text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedDocument {
    pub method: ExtractionMethod,
    pub pages: Vec<ExtractedPage>,
}

/// What a parser read off one bill (or one CSV row) before it is stored. A value the
/// parser could not read is `None` and an `issue` says why: nothing unread is ever
/// turned into zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityCandidate {
    pub kind: ActivityKind,
    /// Grade or type: `95無鉛汽油`, `超級柴油`, `R-410A`; for diesel `stationary` when it
    /// is known to be burnt in stationary equipment (default: road vehicles).
    pub detail: Option<String>,
    pub quantity: Option<f64>,
    pub unit: Unit,
    pub period_start: Option<NaiveDate>,
    pub period_end: Option<NaiveDate>,
    /// 電號 / 水號 / gas customer number.
    pub meter_id: Option<String>,
    /// 發票號碼 (two letters + eight digits), used to count a receipt once.
    pub invoice_number: Option<String>,
    /// Amount payable, NT$.
    pub amount_ntd: Option<f64>,
    /// NT$ per unit (fuel receipts).
    pub unit_price: Option<f64>,
    /// The lowest confidence among the values used, 0.0..=1.0.
    pub confidence: f32,
    /// 1-based page (or CSV row number) the values came from.
    pub page: u32,
    /// Why a person must look at it (zh-TW); empty when every check passed.
    pub issues: Vec<String>,
}

impl ActivityCandidate {
    pub fn new(kind: ActivityKind, unit: Unit, page: u32) -> Self {
        Self {
            kind,
            detail: None,
            quantity: None,
            unit,
            period_start: None,
            period_end: None,
            meter_id: None,
            invoice_number: None,
            amount_ntd: None,
            unit_price: None,
            confidence: 1.0,
            page,
            issues: Vec::new(),
        }
    }
}

/// A dropped file's type, decided from its bytes (never its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    Png,
    Jpeg,
    Pdf,
    Csv,
}

impl FileType {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Pdf => "application/pdf",
            Self::Csv => "text/csv",
        }
    }
    pub fn is_image(self) -> bool {
        matches!(self, Self::Png | Self::Jpeg)
    }
}
