//! The carbon report: a printable zh-TW HTML page with inline SVG charts, and a PDF
//! written by hand (A4, non-embedded CID font MSung-Light, vector charts).
//!
//! Pure Rust, no font files, no external programs: it runs in Lambda as it is.

pub mod html;
pub mod model;
pub mod pdf;
pub mod svg;

pub use html::report_html;
pub use model::{
    FactorRef, FactorStatus, Hotspot, InventoryRow, MonthBar, ReportModel, Slice, YearOnYear,
    YoyRow,
};
pub use pdf::report_pdf;
