//! The emission calculation: one activity → one `EmissionLine` per calendar month.
//!
//! * Fuels: quantity × LHV × 4186.8 J/kcal × 1e-12 TJ/J × Σ(EF per TJ × GWP), with the
//!   MOENV 2024 notice factors and fossil-CH4 GWP 30 (notice 附表四 註1: fossil-fuel methane;
//!   MOENV's 2024 form applies 30 to combustion CH4). LPG in kg uses the IPCC NCV in MJ/kg.
//! * Electricity: kWh × the grid factor of the month's year (latest published year,
//!   `provisional`, when the year is not published yet).
//! * Water: m³ × factor. Refrigerant: kg × GWP. Septic: person-hours × t CH4 per
//!   person-hour × 1000 × GWP CH4 28 (non-fossil methane).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::library::{Factor, FactorLibrary, FactorStatus, FactorUnit, Pick};
use super::mapping::classify;
use super::CalcError;
use crate::domain::{ActivityKind, Unit};

pub const GRID_ID: &str = "electricity.grid.tw";
pub const WATER_ID: &str = "water.tap.taiwan_water";
pub const SEPTIC_ID: &str = "septic.ch4_per_person_hour";
pub const KCAL_TO_JOULE_ID: &str = "conversion.kcal_to_joule";
pub const GWP_CO2_ID: &str = "gwp.co2";
pub const GWP_CH4_ID: &str = "gwp.ch4";
pub const GWP_CH4_FOSSIL_ID: &str = "gwp.ch4_fossil";
pub const GWP_N2O_ID: &str = "gwp.n2o";
pub const REFRIGERANT_PREFIX: &str = "gwp.refrigerant.";

/// Split quantities are rounded to this many decimals (the last month takes the remainder).
const SPLIT_DECIMALS: i32 = 4;

/// One activity to calculate. Dates are inclusive; a receipt has start == end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalcInput {
    pub kind: ActivityKind,
    /// Diesel: `stationary` for stationary equipment (default road). Refrigerant: the gas.
    pub detail: Option<String>,
    pub quantity: f64,
    pub unit: Unit,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
}

/// The emissions of one activity in one calendar month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmissionLine {
    /// `2025-01`.
    pub month: String,
    pub year: i32,
    /// The part of the activity's quantity that falls in this month (by days).
    pub quantity: f64,
    pub unit: Unit,
    /// Fuel combustion CO2; for grid electricity the whole grid factor result (MOENV's form
    /// books purchased electricity as CO2).
    pub co2_kg: f64,
    pub ch4_kg: f64,
    pub n2o_kg: f64,
    /// HFCs etc., and CO2e-only factors without a gas breakdown (tap water).
    pub other_kg_co2e: f64,
    pub kg_co2e: f64,
    /// Not counted (gases outside Taiwan's regulated list, e.g. R-22), disclosed apart.
    pub excluded_kg_co2e: f64,
    pub scope: u8,
    pub category: u8,
    pub ghg_protocol: String,
    /// zh-TW.
    pub source_label: String,
    /// `id@version` of every factor, heating value and GWP used.
    pub factor_refs: Vec<String>,
    /// A factor for this year is not published yet; restate when it is.
    pub provisional: bool,
    /// At least one factor used is not verified against a primary source.
    pub unverified: bool,
    /// zh-TW.
    pub notes: Vec<String>,
    /// One line a person can redo by hand.
    pub formula: String,
}

/// The part of a period that falls in one calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MonthShare {
    pub year: i32,
    pub month: u32,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub days: i64,
    pub quantity: f64,
}

impl MonthShare {
    /// `2025-01`.
    pub fn label(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// Splits `quantity` over the calendar months of `start..=end` by day counts. Every month
/// but the last is rounded to 4 decimals; the last takes the remainder, so the parts add up
/// to the whole. Empty when `end < start`.
pub fn split_by_month(quantity: f64, start: NaiveDate, end: NaiveDate) -> Vec<MonthShare> {
    let mut shares = Vec::new();
    if end < start {
        return shares;
    }
    let total_days = (end - start).num_days() + 1;
    let mut cur = start;
    loop {
        let month_end = last_day_of_month(cur);
        let seg_end = month_end.min(end);
        shares.push(MonthShare {
            year: cur.year(),
            month: cur.month(),
            start: cur,
            end: seg_end,
            days: (seg_end - cur).num_days() + 1,
            quantity: 0.0,
        });
        match seg_end.succ_opt() {
            Some(next) if seg_end < end => cur = next,
            _ => break,
        }
    }
    let scale = 10f64.powi(SPLIT_DECIMALS);
    let n = shares.len();
    let mut assigned = 0.0;
    for share in shares.iter_mut().take(n.saturating_sub(1)) {
        let exact = quantity * share.days as f64 / total_days as f64;
        let part = ((exact * scale).round() / scale)
            .min(quantity - assigned)
            .max(0.0);
        share.quantity = part;
        assigned += part;
    }
    if let Some(last) = shares.last_mut() {
        last.quantity = quantity - assigned;
    }
    shares
}

fn last_day_of_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|first| first.pred_opt())
        .unwrap_or(NaiveDate::MAX)
}

/// How an activity is calculated.
#[derive(Debug, Clone)]
enum Method {
    Grid,
    Water,
    Combustion {
        lhv_id: &'static str,
        ef_prefix: &'static str,
        label: &'static str,
    },
    Refrigerant {
        id: String,
        name: String,
    },
    Septic,
}

/// Upper-case ASCII letters and digits only: `r-410a`, `R410A`, `冷媒 R-410A` → `R410A`.
pub fn normalise_refrigerant(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

impl FactorLibrary {
    /// The emissions of one activity, one line per calendar month of its period.
    pub fn calculate(&self, input: &CalcInput) -> Result<Vec<EmissionLine>, CalcError> {
        if input.period_end < input.period_start {
            return Err(CalcError::PeriodReversed {
                start: input.period_start,
                end: input.period_end,
            });
        }
        if !input.quantity.is_finite() || input.quantity < 0.0 {
            return Err(CalcError::InvalidQuantity(input.quantity));
        }
        if !input.kind.units().contains(&input.unit) {
            return Err(CalcError::UnitNotAllowed {
                kind: input.kind,
                unit: input.unit,
            });
        }
        let method = self.method(input)?;
        split_by_month(input.quantity, input.period_start, input.period_end)
            .iter()
            .map(|share| self.line(input, &method, share))
            .collect()
    }

    fn method(&self, input: &CalcInput) -> Result<Method, CalcError> {
        let detail = input.detail.as_deref().map(str::trim).unwrap_or("");
        Ok(match input.kind {
            ActivityKind::Electricity => Method::Grid,
            ActivityKind::Water => Method::Water,
            ActivityKind::Septic => Method::Septic,
            ActivityKind::Gasoline => Method::Combustion {
                lhv_id: "lhv.motor_gasoline",
                ef_prefix: "combustion.motor_gasoline.mobile",
                label: "車用汽油（移動燃燒）",
            },
            ActivityKind::Diesel if detail.eq_ignore_ascii_case("stationary") => {
                Method::Combustion {
                    lhv_id: "lhv.diesel",
                    ef_prefix: "combustion.diesel.stationary",
                    label: "柴油（固定燃燒）",
                }
            }
            ActivityKind::Diesel => Method::Combustion {
                lhv_id: "lhv.diesel",
                ef_prefix: "combustion.diesel.mobile",
                label: "柴油（移動燃燒）",
            },
            ActivityKind::NaturalGas => Method::Combustion {
                lhv_id: "lhv.natural_gas",
                ef_prefix: "combustion.natural_gas.stationary",
                label: "天然氣（固定燃燒）",
            },
            ActivityKind::Lpg => Method::Combustion {
                lhv_id: if input.unit == Unit::Kg {
                    "lhv.lpg.kg"
                } else {
                    "lhv.lpg.litre"
                },
                ef_prefix: "combustion.lpg.stationary",
                label: "液化石油氣（固定燃燒）",
            },
            ActivityKind::Refrigerant => {
                let wanted = normalise_refrigerant(detail);
                let found = if wanted.is_empty() {
                    None
                } else {
                    self.factors().iter().find(|f| {
                        f.id.starts_with(REFRIGERANT_PREFIX)
                            && f.aliases
                                .iter()
                                .chain(f.gas.iter())
                                .any(|a| normalise_refrigerant(a) == wanted)
                    })
                };
                match found {
                    Some(f) => Method::Refrigerant {
                        id: f.id.clone(),
                        name: f
                            .aliases
                            .first()
                            .or(f.gas.as_ref())
                            .cloned()
                            .unwrap_or_else(|| detail.to_string()),
                    },
                    None => return Err(CalcError::UnknownRefrigerant(detail.to_string())),
                }
            }
        })
    }

    fn line(
        &self,
        input: &CalcInput,
        method: &Method,
        share: &MonthShare,
    ) -> Result<EmissionLine, CalcError> {
        let class = classify(input.kind);
        let mut acc = Acc::new(self, share.start);
        let q = share.quantity;
        let mut line = EmissionLine {
            month: share.label(),
            year: share.year,
            quantity: q,
            unit: input.unit,
            co2_kg: 0.0,
            ch4_kg: 0.0,
            n2o_kg: 0.0,
            other_kg_co2e: 0.0,
            kg_co2e: 0.0,
            excluded_kg_co2e: 0.0,
            scope: class.scope,
            category: class.category,
            ghg_protocol: class.ghg_protocol.to_string(),
            source_label: String::new(),
            factor_refs: Vec::new(),
            provisional: false,
            unverified: false,
            notes: Vec::new(),
            formula: String::new(),
        };
        let unit = input.unit.as_str();
        match method {
            Method::Grid => {
                let f = acc.take(GRID_ID, &[FactorUnit::KgCo2ePerKwh])?;
                line.co2_kg = q * f.value;
                line.kg_co2e = line.co2_kg;
                line.source_label = "外購電力（台電）".to_string();
                line.formula = format!(
                    "{} {unit} × {} kgCO2e/kWh = {:.2} kgCO2e",
                    num(q),
                    num(f.value),
                    line.kg_co2e
                );
            }
            Method::Water => {
                let f = acc.take(WATER_ID, &[FactorUnit::KgCo2ePerM3])?;
                line.other_kg_co2e = q * f.value;
                line.kg_co2e = line.other_kg_co2e;
                line.source_label = "自來水（台灣自來水公司）".to_string();
                line.formula = format!(
                    "{} {unit} × {} kgCO2e/m3 = {:.2} kgCO2e",
                    num(q),
                    num(f.value),
                    line.kg_co2e
                );
            }
            Method::Combustion {
                lhv_id,
                ef_prefix,
                label,
            } => {
                let lhv = acc.take(
                    lhv_id,
                    match input.unit {
                        Unit::Litre => &[FactorUnit::KcalPerLitre],
                        Unit::M3 => &[FactorUnit::KcalPerM3],
                        Unit::Kg => &[FactorUnit::KcalPerKg, FactorUnit::MjPerKg],
                        _ => &[],
                    },
                )?;
                let (tj, energy) = if lhv.unit == FactorUnit::MjPerKg {
                    (
                        q * lhv.value * 1e-6,
                        format!("{} {unit} × {} MJ/kg × 1e-6 TJ/MJ", num(q), num(lhv.value)),
                    )
                } else {
                    let j = acc.take(KCAL_TO_JOULE_ID, &[FactorUnit::JoulePerKcal])?;
                    (
                        q * lhv.value * j.value * 1e-12,
                        format!(
                            "{} {unit} × {} {} × {} J/kcal × 1e-12 TJ/J",
                            num(q),
                            num(lhv.value),
                            lhv.unit.as_str(),
                            num(j.value)
                        ),
                    )
                };
                let per_tj = [FactorUnit::KgPerTj];
                let gwp = [FactorUnit::KgCo2ePerKg];
                let ef_co2 = acc.take(&format!("{ef_prefix}.co2"), &per_tj)?;
                let ef_ch4 = acc.take(&format!("{ef_prefix}.ch4"), &per_tj)?;
                let ef_n2o = acc.take(&format!("{ef_prefix}.n2o"), &per_tj)?;
                let g_co2 = acc.take(GWP_CO2_ID, &gwp)?;
                let g_ch4 = acc.take(GWP_CH4_FOSSIL_ID, &gwp)?;
                let g_n2o = acc.take(GWP_N2O_ID, &gwp)?;
                line.co2_kg = tj * ef_co2.value;
                line.ch4_kg = tj * ef_ch4.value;
                line.n2o_kg = tj * ef_n2o.value;
                line.kg_co2e = line.co2_kg * g_co2.value
                    + line.ch4_kg * g_ch4.value
                    + line.n2o_kg * g_n2o.value;
                line.source_label = label.to_string();
                line.formula = format!(
                    "{energy} × ({} kgCO2/TJ × {} + {} kgCH4/TJ × {} + {} kgN2O/TJ × {}) = {:.2} kgCO2e",
                    num(ef_co2.value),
                    num(g_co2.value),
                    num(ef_ch4.value),
                    num(g_ch4.value),
                    num(ef_n2o.value),
                    num(g_n2o.value),
                    line.kg_co2e
                );
            }
            Method::Refrigerant { id, name } => {
                let f = acc.take(id, &[FactorUnit::KgCo2ePerKg])?;
                line.source_label = format!("冷媒填充（{name}）");
                if f.excluded {
                    line.excluded_kg_co2e = q * f.value;
                    line.formula = format!(
                        "{} {unit} × 0（{name} 不列入排放量；另行揭露 {} {unit} × {} kgCO2e/kg = {:.2} kgCO2e）= 0.00 kgCO2e",
                        num(q),
                        num(q),
                        num(f.value),
                        line.excluded_kg_co2e
                    );
                    acc.note(format!(
                        "{name} 非氣候變遷因應法定義之溫室氣體，排放量以 0 計；依 AR5 GWP {} 計算之 {:.2} kgCO2e 另行揭露",
                        num(f.value),
                        line.excluded_kg_co2e
                    ));
                } else {
                    line.other_kg_co2e = q * f.value;
                    line.kg_co2e = line.other_kg_co2e;
                    line.formula = format!(
                        "{} {unit} × {} kgCO2e/kg（{name} GWP）= {:.2} kgCO2e",
                        num(q),
                        num(f.value),
                        line.kg_co2e
                    );
                    if f.value == 0.0 {
                        if let Some(n) = &f.note {
                            acc.note(format!("{name}：{n}"));
                        }
                    }
                }
            }
            Method::Septic => {
                let f = acc.take(SEPTIC_ID, &[FactorUnit::TonneCh4PerPersonHour])?;
                let g = acc.take(GWP_CH4_ID, &[FactorUnit::KgCo2ePerKg])?;
                line.ch4_kg = q * f.value * 1000.0;
                line.kg_co2e = line.ch4_kg * g.value;
                line.source_label = "化糞池（水肥）".to_string();
                line.formula = format!(
                    "{} {unit} × {} tCH4/person_hour × 1000 kg/t × {} = {:.2} kgCO2e",
                    num(q),
                    num(f.value),
                    num(g.value),
                    line.kg_co2e
                );
            }
        }
        line.factor_refs = acc.refs;
        line.provisional = acc.provisional;
        line.unverified = acc.unverified;
        line.notes = acc.notes;
        Ok(line)
    }
}

/// Collects the factors used for one line, with their provenance and caveats.
struct Acc<'a> {
    lib: &'a FactorLibrary,
    date: NaiveDate,
    refs: Vec<String>,
    notes: Vec<String>,
    provisional: bool,
    unverified: bool,
}

impl<'a> Acc<'a> {
    fn new(lib: &'a FactorLibrary, date: NaiveDate) -> Self {
        Self {
            lib,
            date,
            refs: Vec::new(),
            notes: Vec::new(),
            provisional: false,
            unverified: false,
        }
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// The version of `id` for this line's date, recorded with its caveats.
    fn take(&mut self, id: &str, units: &[FactorUnit]) -> Result<&'a Factor, CalcError> {
        let pick = self
            .lib
            .pick(id, self.date)
            .ok_or_else(|| CalcError::MissingFactor {
                id: id.to_string(),
                date: self.date,
            })?;
        let f = pick.factor();
        if !units.contains(&f.unit) {
            return Err(CalcError::FactorUnitMismatch {
                id: f.reference(),
                unit: f.unit.as_str().to_string(),
            });
        }
        let year = self.date.year();
        match pick {
            Pick::Exact(_) => {}
            Pick::Later(f) => {
                self.provisional = true;
                let used = f
                    .last_year()
                    .map(|y| format!("{y}年"))
                    .unwrap_or_else(|| format!("{} 版", f.version));
                if f.id == GRID_ID {
                    self.note(format!("{year}年電力排碳係數尚未公告，暫用{used}係數"));
                } else {
                    self.note(format!(
                        "{}尚無適用於{year}年的版本，暫用{used}（{}）",
                        f.label,
                        f.reference()
                    ));
                }
            }
            Pick::Earlier(f) => {
                self.note(format!(
                    "{}（{}）適用期間為{}，{year}年的活動暫用此版本",
                    f.label,
                    f.reference(),
                    f.period_label()
                ));
            }
        }
        if f.status == FactorStatus::Unverified {
            self.unverified = true;
            self.note(format!(
                "{}（{}）尚未以主管機關原始文件查證，結果僅供參考",
                f.label,
                f.reference()
            ));
        }
        let r = f.reference();
        if !self.refs.contains(&r) {
            self.refs.push(r);
        }
        Ok(f)
    }
}

/// A number as a person would write it: up to 12 decimals, trailing zeros dropped.
fn num(v: f64) -> String {
    let s = format!("{v:.12}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn lib() -> FactorLibrary {
        FactorLibrary::builtin().unwrap()
    }

    fn input(
        kind: ActivityKind,
        detail: Option<&str>,
        quantity: f64,
        unit: Unit,
        start: NaiveDate,
        end: NaiveDate,
    ) -> CalcInput {
        CalcInput {
            kind,
            detail: detail.map(str::to_string),
            quantity,
            unit,
            period_start: start,
            period_end: end,
        }
    }

    /// A single-month activity in 2024 (all factors exact), returning its only line.
    fn one(kind: ActivityKind, detail: Option<&str>, quantity: f64, unit: Unit) -> EmissionLine {
        let lines = lib()
            .calculate(&input(
                kind,
                detail,
                quantity,
                unit,
                d(2024, 6, 3),
                d(2024, 6, 3),
            ))
            .unwrap();
        assert_eq!(lines.len(), 1);
        lines.into_iter().next().unwrap()
    }

    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 0.01,
            "got {actual}, expected {expected}"
        );
    }

    // Hand computations: TJ = quantity × LHV(kcal) × 4186.8 J/kcal × 1e-12;
    // kgCO2e = TJ × (EF_CO2 × 1 + EF_CH4 × 30 + EF_N2O × 265) (fossil CH4 GWP 30, AR5 N2O 265).

    #[test]
    fn electricity_2024() {
        let l = lib()
            .calculate(&input(
                ActivityKind::Electricity,
                None,
                1000.0,
                Unit::Kwh,
                d(2024, 5, 1),
                d(2024, 5, 31),
            ))
            .unwrap();
        assert_eq!(l.len(), 1);
        close(l[0].kg_co2e, 1000.0 * 0.474); // 474.00
        close(l[0].kg_co2e, 474.0);
        assert_eq!((l[0].scope, l[0].category), (2, 2));
        assert_eq!(
            l[0].factor_refs,
            vec!["electricity.grid.tw@2024".to_string()]
        );
        assert!(
            l[0].unverified,
            "2024 grid factor is from secondary sources"
        );
        assert!(!l[0].provisional);
        assert_eq!(l[0].formula, "1000 kWh × 0.474 kgCO2e/kWh = 474.00 kgCO2e");
        let l23 = lib()
            .calculate(&input(
                ActivityKind::Electricity,
                None,
                1000.0,
                Unit::Kwh,
                d(2023, 5, 1),
                d(2023, 5, 31),
            ))
            .unwrap();
        close(l23[0].kg_co2e, 494.0);
        assert!(!l23[0].unverified);
    }

    #[test]
    fn gasoline_road() {
        let l = one(
            ActivityKind::Gasoline,
            Some("95無鉛汽油"),
            30.5,
            Unit::Litre,
        );
        // 30.5 × 7609 × 4186.8e-12 = 9.716495166e-4 TJ; × (69300 + 25×30 + 8×265 = 72170)
        let tj = 30.5 * 7609.0 * 4186.8 * 1e-12;
        close(l.kg_co2e, tj * (69300.0 + 25.0 * 30.0 + 8.0 * 265.0));
        close(l.kg_co2e, 70.12);
        close(l.co2_kg, tj * 69300.0);
        close(l.co2_kg, 67.34);
        assert!((l.ch4_kg - tj * 25.0).abs() < 1e-9 && (l.n2o_kg - tj * 8.0).abs() < 1e-9);
        assert_eq!(
            l.formula,
            "30.5 L × 7609 kcal/L × 4186.8 J/kcal × 1e-12 TJ/J × (69300 kgCO2/TJ × 1 + 25 kgCH4/TJ × 30 + 8 kgN2O/TJ × 265) = 70.12 kgCO2e"
        );
        for r in [
            "lhv.motor_gasoline@moenv-2024-form",
            "conversion.kcal_to_joule@moenv-2024",
            "combustion.motor_gasoline.mobile.co2@moenv-2024",
            "combustion.motor_gasoline.mobile.ch4@moenv-2024",
            "combustion.motor_gasoline.mobile.n2o@moenv-2024",
            "gwp.co2@ar5-moenv-2024",
            "gwp.ch4_fossil@ar5-moenv-2024",
            "gwp.n2o@ar5-moenv-2024",
        ] {
            assert!(
                l.factor_refs.iter().any(|x| x == r),
                "missing {r} in {:?}",
                l.factor_refs
            );
        }
        assert!(
            !l.unverified && !l.provisional && l.notes.is_empty(),
            "{:?}",
            l.notes
        );
        assert_eq!((l.scope, l.category), (1, 1));
    }

    #[test]
    fn diesel_road_and_stationary() {
        let road = one(ActivityKind::Diesel, Some("超級柴油"), 50.0, Unit::Litre);
        // 50 × 8400 × 4186.8e-12 = 1.758456e-3 TJ; × (74100 + 3.9×30 + 3.9×265 = 75250.5)
        let tj = 50.0 * 8400.0 * 4186.8 * 1e-12;
        close(road.kg_co2e, tj * (74100.0 + 3.9 * 30.0 + 3.9 * 265.0));
        close(road.kg_co2e, 132.33);
        assert_eq!(road.source_label, "柴油（移動燃燒）");
        let st = one(
            ActivityKind::Diesel,
            Some(" Stationary "),
            200.0,
            Unit::Litre,
        );
        // 200 × 8400 × 4186.8e-12 = 7.033824e-3 TJ; × (74100 + 3×30 + 0.6×265 = 74349)
        let tj = 200.0 * 8400.0 * 4186.8 * 1e-12;
        close(st.kg_co2e, tj * (74100.0 + 3.0 * 30.0 + 0.6 * 265.0));
        close(st.kg_co2e, 522.96);
        assert!(st
            .factor_refs
            .iter()
            .any(|r| r == "combustion.diesel.stationary.ch4@moenv-2024"));
        assert_eq!(st.source_label, "柴油（固定燃燒）");
    }

    #[test]
    fn natural_gas() {
        let l = one(ActivityKind::NaturalGas, None, 100.0, Unit::M3);
        // 100 × 8000 × 4186.8e-12 = 3.34944e-3 TJ; × (56100 + 1×30 + 0.1×265 = 56156.5)
        let tj = 100.0 * 8000.0 * 4186.8 * 1e-12;
        close(l.kg_co2e, tj * (56100.0 + 30.0 + 26.5));
        close(l.kg_co2e, 188.09);
        assert!(l.unverified, "natural gas LHV is unverified");
        assert!(
            l.notes.iter().any(|n| n.contains("天然氣低位熱值")),
            "{:?}",
            l.notes
        );
    }

    #[test]
    fn lpg_by_kg_and_by_litre() {
        let kg = one(ActivityKind::Lpg, None, 20.0, Unit::Kg);
        // 20 kg × 47.3 MJ/kg = 946 MJ = 9.46e-4 TJ; × (63100 + 1×30 + 0.1×265 = 63156.5)
        close(kg.kg_co2e, 20.0 * 47.3 * 1e-6 * (63100.0 + 30.0 + 26.5));
        close(kg.kg_co2e, 59.75);
        assert!(kg.factor_refs.iter().any(|r| r == "lhv.lpg.kg@ipcc-2006"));
        assert!(!kg.factor_refs.iter().any(|r| r.starts_with("conversion.")));
        assert!(!kg.unverified);
        let litre = one(ActivityKind::Lpg, None, 50.0, Unit::Litre);
        // 50 × 6635 × 4186.8e-12 = 1.3889709e-3 TJ; × 63156.5
        close(
            litre.kg_co2e,
            50.0 * 6635.0 * 4186.8 * 1e-12 * (63100.0 + 30.0 + 26.5),
        );
        close(litre.kg_co2e, 87.72);
        assert!(litre
            .factor_refs
            .iter()
            .any(|r| r == "lhv.lpg.litre@energy-admin-legacy"));
        assert!(litre.unverified);
    }

    #[test]
    fn water() {
        let l = one(ActivityKind::Water, None, 120.0, Unit::M3);
        close(l.kg_co2e, 120.0 * 0.152); // 18.24
        close(l.kg_co2e, 18.24);
        assert_eq!(l.other_kg_co2e, l.kg_co2e);
        assert_eq!((l.scope, l.category), (3, 4));
        assert!(l.unverified);
    }

    #[test]
    fn refrigerants() {
        let l = one(ActivityKind::Refrigerant, Some("r-410a"), 3.0, Unit::Kg);
        close(l.kg_co2e, 3.0 * 1923.5); // 5770.50
        close(l.other_kg_co2e, 5770.5);
        assert_eq!(l.excluded_kg_co2e, 0.0);
        for name in ["R410A", "R-410A", "冷媒 R-410a"] {
            let same = one(ActivityKind::Refrigerant, Some(name), 3.0, Unit::Kg);
            assert_eq!(same.kg_co2e, l.kg_co2e, "{name}");
        }
        let r22 = one(ActivityKind::Refrigerant, Some("R-22"), 2.0, Unit::Kg);
        assert_eq!(r22.kg_co2e, 0.0);
        assert_eq!(r22.other_kg_co2e, 0.0);
        close(r22.excluded_kg_co2e, 2.0 * 1760.0); // 3520.00
        assert!(
            r22.notes.iter().any(|n| n.contains("非氣候變遷因應法")),
            "{:?}",
            r22.notes
        );
        let r600a = one(ActivityKind::Refrigerant, Some("R-600a"), 1.0, Unit::Kg);
        assert_eq!((r600a.kg_co2e, r600a.excluded_kg_co2e), (0.0, 0.0));
        close(
            one(ActivityKind::Refrigerant, Some("HFC-32"), 1.0, Unit::Kg).kg_co2e,
            677.0,
        );
        close(
            one(ActivityKind::Refrigerant, Some("R-134a"), 1.0, Unit::Kg).kg_co2e,
            1300.0,
        );
        close(
            one(ActivityKind::Refrigerant, Some("R-404A"), 1.0, Unit::Kg).kg_co2e,
            3942.8,
        );
        close(
            one(ActivityKind::Refrigerant, Some("R-407C"), 1.0, Unit::Kg).kg_co2e,
            1624.21,
        );
    }

    #[test]
    fn septic() {
        let l = one(ActivityKind::Septic, None, 2400.0, Unit::PersonHour);
        // 2400 h × 1.59375e-6 t CH4/h = 0.003825 t = 3.825 kg CH4; × 28 = 107.10 kgCO2e
        close(l.ch4_kg, 2400.0 * 0.003825 / 2400.0 * 1000.0);
        close(l.kg_co2e, 3.825 * 28.0);
        close(l.kg_co2e, 107.1);
        assert!(l.unverified);
        assert!(l.factor_refs.iter().any(|r| r == "gwp.ch4@ar5-moenv-2024"));
    }

    #[test]
    fn split_follows_day_counts_and_keeps_the_sum() {
        // 114/01/05–114/03/06: Jan 27 days, Feb 28, Mar 6 = 61 days.
        let s = split_by_month(610.0, d(2025, 1, 5), d(2025, 3, 6));
        let got: Vec<_> = s.iter().map(|m| (m.label(), m.days)).collect();
        assert_eq!(
            got,
            vec![
                ("2025-01".into(), 27),
                ("2025-02".into(), 28),
                ("2025-03".into(), 6)
            ]
        );
        close(s[0].quantity, 270.0);
        close(s[1].quantity, 280.0);
        close(s[2].quantity, 60.0);
        // Uneven split: rounded parts, remainder to the last month.
        let s = split_by_month(1000.0, d(2025, 1, 5), d(2025, 3, 6));
        assert_eq!(s[0].quantity, 442.623); // 1000 × 27/61 = 442.6229... → 442.6230
        assert_eq!(s[1].quantity, 459.0164); // 1000 × 28/61 = 459.01639...
        let sum: f64 = s.iter().map(|m| m.quantity).sum();
        assert!((sum - 1000.0).abs() < 1e-9, "{sum}");
        assert!((s[2].quantity - (1000.0 - 442.623 - 459.0164)).abs() < 1e-9);
    }

    #[test]
    fn split_leap_february_and_single_day() {
        // 2024-01-15..2024-03-14: Jan 17, Feb 29 (leap year), Mar 14 = 60 days.
        let s = split_by_month(1000.0, d(2024, 1, 15), d(2024, 3, 14));
        assert_eq!(
            s.iter().map(|m| m.days).collect::<Vec<_>>(),
            vec![17, 29, 14]
        );
        assert_eq!(s[1].quantity, 483.3333);
        let sum: f64 = s.iter().map(|m| m.quantity).sum();
        assert!((sum - 1000.0).abs() < 1e-9);
        let one_day = split_by_month(30.5, d(2025, 2, 28), d(2025, 2, 28));
        assert_eq!(one_day.len(), 1);
        assert_eq!(one_day[0].quantity, 30.5);
        // Non-leap February has 28 days.
        let feb = split_by_month(28.0, d(2025, 2, 1), d(2025, 3, 1));
        assert_eq!(feb.iter().map(|m| m.days).collect::<Vec<_>>(), vec![28, 1]);
        assert!(split_by_month(1.0, d(2025, 2, 2), d(2025, 2, 1)).is_empty());
    }

    #[test]
    fn bill_across_years_uses_each_years_grid_factor() {
        // 2023-12-17..2024-01-15: 15 days each; 3200 kWh → 1600 + 1600.
        let l = lib()
            .calculate(&input(
                ActivityKind::Electricity,
                None,
                3200.0,
                Unit::Kwh,
                d(2023, 12, 17),
                d(2024, 1, 15),
            ))
            .unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].month.as_str(), l[0].year), ("2023-12", 2023));
        close(l[0].kg_co2e, 1600.0 * 0.494); // 790.40
        close(l[1].kg_co2e, 1600.0 * 0.474); // 758.40
        assert_eq!(l[0].factor_refs, vec!["electricity.grid.tw@2023"]);
        let q: f64 = l.iter().map(|x| x.quantity).sum();
        assert!((q - 3200.0).abs() < 1e-9);
    }

    #[test]
    fn unpublished_grid_year_is_provisional_then_restated() {
        let bill = input(
            ActivityKind::Electricity,
            None,
            1000.0,
            Unit::Kwh,
            d(2025, 2, 1),
            d(2025, 2, 28),
        );
        let base = lib();
        let l = base.calculate(&bill).unwrap();
        assert!(l[0].provisional);
        assert_eq!(l[0].factor_refs, vec!["electricity.grid.tw@2024"]);
        assert!(
            l[0].notes
                .iter()
                .any(|n| n == "2025年電力排碳係數尚未公告，暫用2024年係數"),
            "{:?}",
            l[0].notes
        );
        close(l[0].kg_co2e, 474.0);

        let dir = std::env::temp_dir().join(format!("ecosphere-calc-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("grid-2025.json"),
            r#"{"schema":1,"entries":[{"id":"electricity.grid.tw","version":"2025","label":"2025年電力排碳係數（測試值）",
            "value":0.456,"unit":"kgCO2e/kWh","source":{"publisher":"經濟部能源署","title":"測試"},
            "published":"2026-04-30","valid_from":2025,"valid_to":2025,"status":"official"}]}"#,
        )
        .unwrap();
        let updated = base.clone().with_extra_dir(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_ne!(updated.fingerprint(), base.fingerprint());
        let r = updated.calculate(&bill).unwrap();
        assert!(!r[0].provisional && !r[0].unverified, "{:?}", r[0].notes);
        assert!(r[0].notes.is_empty());
        assert_eq!(r[0].factor_refs, vec!["electricity.grid.tw@2025"]);
        close(r[0].kg_co2e, 1000.0 * 0.456);
    }

    #[test]
    fn year_before_a_factor_version_uses_the_old_heating_value_with_a_note() {
        let l = lib()
            .calculate(&input(
                ActivityKind::Gasoline,
                None,
                10.0,
                Unit::Litre,
                d(2023, 8, 1),
                d(2023, 8, 1),
            ))
            .unwrap();
        // 2023: superseded LHV 7800 kcal/L; 10 × 7800 × 4186.8e-12 × 72170
        close(l[0].kg_co2e, 10.0 * 7800.0 * 4186.8 * 1e-12 * 72170.0);
        close(l[0].kg_co2e, 23.57);
        assert!(l[0]
            .factor_refs
            .iter()
            .any(|r| r == "lhv.motor_gasoline@6.0.4"));
        assert!(!l[0].provisional);
        assert!(
            l[0].notes.iter().any(|n| n.contains("2023年的活動暫用")),
            "{:?}",
            l[0].notes
        );
    }

    #[test]
    fn bad_inputs_are_errors_with_zh_tw_messages() {
        let lib = lib();
        let day = d(2025, 1, 1);
        let e = lib
            .calculate(&input(
                ActivityKind::Electricity,
                None,
                1.0,
                Unit::Litre,
                day,
                day,
            ))
            .unwrap_err();
        assert!(matches!(e, CalcError::UnitNotAllowed { .. }));
        assert!(
            e.to_string().contains("外購電力") && e.to_string().contains("度"),
            "{e}"
        );
        for q in [-1.0, f64::NAN, f64::INFINITY] {
            let e = lib
                .calculate(&input(ActivityKind::Water, None, q, Unit::M3, day, day))
                .unwrap_err();
            assert!(matches!(e, CalcError::InvalidQuantity(_)), "{q}");
            assert!(e.to_string().contains("數量"));
        }
        let e = lib
            .calculate(&input(
                ActivityKind::Water,
                None,
                1.0,
                Unit::M3,
                d(2025, 2, 1),
                d(2025, 1, 31),
            ))
            .unwrap_err();
        assert!(matches!(e, CalcError::PeriodReversed { .. }));
        assert!(e.to_string().contains("早於"));
        for gas in [Some("R-999"), Some("  "), None] {
            let e = lib
                .calculate(&input(
                    ActivityKind::Refrigerant,
                    gas,
                    1.0,
                    Unit::Kg,
                    day,
                    day,
                ))
                .unwrap_err();
            assert!(matches!(e, CalcError::UnknownRefrigerant(_)), "{gas:?}");
            assert!(e.to_string().contains("無法辨識冷媒"));
        }
    }

    #[test]
    fn every_kind_calculates_in_each_allowed_unit() {
        let lib = lib();
        for kind in ActivityKind::ALL {
            for unit in kind.units() {
                let detail = (kind == ActivityKind::Refrigerant).then_some("R-32");
                let l = lib
                    .calculate(&input(
                        kind,
                        detail,
                        12.0,
                        *unit,
                        d(2024, 11, 20),
                        d(2025, 1, 10),
                    ))
                    .unwrap_or_else(|e| panic!("{kind:?} {unit:?}: {e}"));
                assert_eq!(
                    l.iter().map(|x| x.month.as_str()).collect::<Vec<_>>(),
                    vec!["2024-11", "2024-12", "2025-01"]
                );
                for x in &l {
                    assert!(
                        x.kg_co2e > 0.0 && !x.factor_refs.is_empty() && !x.formula.is_empty(),
                        "{kind:?}"
                    );
                    assert!(
                        x.formula.ends_with(&format!("= {:.2} kgCO2e", x.kg_co2e)),
                        "{}",
                        x.formula
                    );
                }
            }
        }
    }

    #[test]
    fn number_format() {
        assert_eq!(num(7609.0), "7609");
        assert_eq!(num(0.00000159375), "0.00000159375");
        assert_eq!(num(1000.0 - 442.623 - 459.0164), "98.3606");
        assert_eq!(num(0.0), "0");
    }
}
