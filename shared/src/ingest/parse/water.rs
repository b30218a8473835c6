//! 台灣自來水公司 水費通知單 (tap water, m³; 度 = m³).

use crate::domain::{ActivityCandidate, ActivityKind, Unit};
use crate::ingest::parse::metered::{parse_metered, MeteredSpec};
use crate::ingest::parse::page::PageView;

/// Plausible NT$ per m³ including sewage and basic fees.
pub const RATE_RANGE: (f64, f64) = (5.0, 60.0);

pub const SPEC: MeteredSpec = MeteredSpec {
    kind: ActivityKind::Water,
    unit: Unit::M3,
    meter_name: "水號",
    quantity_name: "用水度數",
    meter_labels: &["水號"],
    quantity_labels: &["用水度數", "計費度數", "實用度數", "使用度數"],
    quantity_aliases: &["water_m3"],
    amount_labels: &["應繳總金額", "應繳金額", "總金額"],
    rate_range: RATE_RANGE,
    per: "度（立方公尺）",
    meter_check: None,
    meter_format: None,
};

pub fn parse(view: &PageView) -> ActivityCandidate {
    parse_metered(view, &SPEC)
}
