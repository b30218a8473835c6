//! 台灣電力公司 電費通知單 (purchased electricity, kWh).

use crate::domain::{ActivityCandidate, ActivityKind, Unit};
use crate::ingest::parse::checks;
use crate::ingest::parse::metered::{parse_metered, MeteredSpec};
use crate::ingest::parse::page::PageView;

/// Plausible NT$ per kWh (residential to high-tier commercial, including fees).
pub const RATE_RANGE: (f64, f64) = (1.5, 10.0);

pub const SPEC: MeteredSpec = MeteredSpec {
    kind: ActivityKind::Electricity,
    unit: Unit::Kwh,
    meter_name: "電號",
    quantity_name: "計費度數",
    meter_labels: &["電號"],
    quantity_labels: &["計費度數", "用電度數", "本期用電", "使用度數"],
    quantity_aliases: &["kwh"],
    amount_labels: &["應繳總金額", "應繳金額", "本期電費", "總金額"],
    rate_range: RATE_RANGE,
    per: "度",
    meter_check: Some(checks::check_taipower_meter),
    meter_format: Some(checks::format_taipower_meter),
};

pub fn parse(view: &PageView) -> ActivityCandidate {
    parse_metered(view, &SPEC)
}
