//! A firm's inventory total for one year, by source: the aggregate that national
//! figures and benchmarks read instead of the lines. Recomputed from the firm-year's
//! lines and replaced whole, so redelivery and restatement converge.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::inventory::EmissionRecord;
use super::ActivityKind;

/// What a benchmark compares a firm by (電力、燃料、冷媒、水、其他).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Electricity,
    Fuels,
    Refrigerants,
    Water,
    Other,
}

impl Source {
    pub const ALL: [Source; 5] = [Source::Electricity, Source::Fuels, Source::Refrigerants, Source::Water, Source::Other];

    pub fn of(kind: ActivityKind) -> Source {
        match kind {
            ActivityKind::Electricity => Source::Electricity,
            ActivityKind::Gasoline | ActivityKind::Diesel | ActivityKind::NaturalGas | ActivityKind::Lpg => Source::Fuels,
            ActivityKind::Refrigerant => Source::Refrigerants,
            ActivityKind::Water => Source::Water,
            ActivityKind::Septic => Source::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Source::Electricity => "外購電力",
            Source::Fuels => "燃料（油、氣）",
            Source::Refrigerants => "冷媒",
            Source::Water => "自來水",
            Source::Other => "其他",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Source::Electricity => "electricity",
            Source::Fuels => "fuels",
            Source::Refrigerants => "refrigerants",
            Source::Water => "water",
            Source::Other => "other",
        }
    }
}

/// One firm-year's totals. Amounts are kg CO2e summed in integer grams, so a sum of
/// totals equals a recomputation from the lines exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirmYearTotal {
    pub tax_id: String,
    pub year: i32,
    pub grams_co2e: i64,
    pub by_source_grams: BTreeMap<Source, i64>,
    pub lines: u32,
    pub updated_at: String,
}

/// A line's kg CO2e in whole grams.
pub fn grams(kg: f64) -> i64 {
    (kg * 1000.0).round() as i64
}

impl FirmYearTotal {
    /// The totals of `lines` (all of one firm's lines of `year`; others are ignored).
    pub fn from_lines(tax_id: &str, year: i32, lines: &[EmissionRecord], now: &str) -> Self {
        let mut t = FirmYearTotal { tax_id: tax_id.to_string(), year, grams_co2e: 0, by_source_grams: BTreeMap::new(), lines: 0, updated_at: now.to_string() };
        for l in lines.iter().filter(|l| l.year == year && l.tax_id == tax_id) {
            let g = grams(l.kg_co2e);
            t.grams_co2e += g;
            *t.by_source_grams.entry(Source::of(l.kind)).or_default() += g;
            t.lines += 1;
        }
        t
    }

    pub fn kg(&self) -> f64 {
        self.grams_co2e as f64 / 1000.0
    }

    pub fn source_kg(&self, s: Source) -> f64 {
        self.by_source_grams.get(&s).copied().unwrap_or(0) as f64 / 1000.0
    }

    /// The same figures (ignoring when they were computed).
    pub fn same_figures(&self, other: &FirmYearTotal) -> bool {
        (self.grams_co2e, &self.by_source_grams, self.lines) == (other.grams_co2e, &other.by_source_grams, other.lines)
    }
}
