//! Emission-factor library and the emission calculation (issue 6, part 1).
//!
//! * `library`: versioned factor data (embedded JSON files under `shared/data/factors/`, plus
//!   optional extra/override files), validation on load, lookup by date, fingerprint and the
//!   rows of the "factors" page.
//! * `calc`: turns one activity (kind, quantity, unit, period) into one `EmissionLine` per
//!   calendar month, each with its formula and the `id@version` of every factor used.
//! * `mapping`: scope / ISO 14064-1 category / GHG Protocol classification and the crosswalk
//!   table for the disclosure page.
//!
//! No I/O except `FactorLibrary::with_extra_dir`, which reads the JSON files of one directory.

pub mod calc;
pub mod library;
pub mod mapping;

pub use calc::{split_by_month, CalcInput, EmissionLine, MonthShare};
pub use library::{
    Bound, Factor, FactorLibrary, FactorSource, FactorStatus, FactorUnit, FactorView,
};
pub use mapping::{category_label, classify, scope_label, Classification, CrosswalkRow, CROSSWALK};

use crate::domain::{ActivityKind, Unit};

/// Loading or validating factor files failed. Messages are zh-TW (shown to operators).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FactorError {
    #[error("無法讀取係數檔 {file}：{message}")]
    Io { file: String, message: String },
    #[error("係數檔 {file} 格式錯誤：{message}")]
    Parse { file: String, message: String },
    #[error("係數檔 {file} 的項目 {entry}：{reason}")]
    Invalid {
        file: String,
        /// `id@version`, or `#n` (1-based position) when the entry has no id.
        entry: String,
        reason: String,
    },
}

/// The activity cannot be calculated. Messages are zh-TW (shown to users).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalcError {
    #[error("{}不接受單位「{}」，可用單位：{}", .kind.label(), .unit.label(), units_label(.kind))]
    UnitNotAllowed { kind: ActivityKind, unit: Unit },
    #[error("數量必須是有效的非負數值（收到 {0}）")]
    InvalidQuantity(f64),
    #[error("期間結束日 {end} 早於開始日 {start}")]
    PeriodReversed {
        start: chrono::NaiveDate,
        end: chrono::NaiveDate,
    },
    #[error(
        "無法辨識冷媒種類「{0}」，請填寫如 R-410A、R-32、R-134a、R-404A、R-407C、R-22、R-600a"
    )]
    UnknownRefrigerant(String),
    #[error("係數庫缺少係數 {id}（{date}），無法計算")]
    MissingFactor { id: String, date: chrono::NaiveDate },
    #[error("係數 {id} 的單位 {unit} 不符合計算方式")]
    FactorUnitMismatch { id: String, unit: String },
}

fn units_label(kind: &ActivityKind) -> String {
    kind.units()
        .iter()
        .map(|u| u.label())
        .collect::<Vec<_>>()
        .join("、")
}
