//! The carbon report: a printable zh-TW HTML page with inline SVG charts, and a PDF/A
//! (A4, Noto Sans CJK TC embedded and subset, vector charts) written with krilla.
//!
//! Pure Rust, no external programs; the PDF needs the font file (`report::font`), which
//! the Lambda functions that write PDFs get from a layer.

pub mod canvas;
pub mod font;
pub mod html;
pub mod model;
pub mod pdf;
pub mod svg;

pub use html::report_html;
pub use model::{
    FactorRef, FactorStatus, Hotspot, InventoryRow, MonthBar, ReportModel, Slice, YearOnYear,
    YoyRow,
};
pub use canvas::PdfError;
pub use pdf::report_pdf;
