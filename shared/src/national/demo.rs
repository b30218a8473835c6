//! Synthetic firms for a populated demo (`ecosphere demo-data --firms N --year YYYY`):
//! industries and counties drawn from the shares in `shared/data/demo/mix.json`, a
//! profile each, and a year of bills as one CSV ledger in the documented import layout
//! (docs/csv-import.md), which the command drops into the drop folder so the real
//! ingest and calculation produce the figures. Deterministic for a given seed.

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use crate::domain::{IndustryCode, IndustryTable, ProfileFields, TaxId};

#[derive(Debug, Deserialize)]
struct MixFile {
    industries: Vec<IndustryMix>,
    counties: std::collections::BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
struct IndustryMix {
    division: String,
    weight: f64,
    codes: Vec<String>,
    kwh_per_employee: f64,
    #[serde(default)]
    diesel_l_per_employee: f64,
    #[serde(default)]
    lpg_kg_per_employee: f64,
}

/// One synthetic firm: its 統一編號, profile and a year's CSV ledger.
#[derive(Debug, Clone)]
pub struct DemoFirm {
    pub tax_id: TaxId,
    pub profile: ProfileFields,
    pub csv: String,
}

/// splitmix64: small, deterministic, good enough for demo data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn pick<'a, T>(&mut self, items: &'a [T], weight: impl Fn(&T) -> f64) -> &'a T {
        let total: f64 = items.iter().map(&weight).sum();
        let mut x = self.unit() * total;
        for it in items {
            x -= weight(it);
            if x < 0.0 {
                return it;
            }
        }
        items.last().expect("non-empty")
    }
}

fn mix() -> MixFile {
    serde_json::from_str(include_str!("../../data/demo/mix.json")).expect("shared/data/demo/mix.json is valid")
}

/// The `n` synthetic 統一編號: valid checksums from 90000000 upwards.
fn tax_ids(n: usize) -> Vec<TaxId> {
    (90_000_000u32..99_999_999).filter_map(|k| TaxId::parse(&k.to_string()).ok()).take(n).collect()
}

fn month_end(year: i32, month: u32) -> NaiveDate {
    let (y, m) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).and_then(|d| d.pred_opt()).expect("valid month")
}

/// Summer months use more electricity (air-conditioning).
fn season(month: u32) -> f64 {
    if (5..=10).contains(&month) {
        1.25
    } else {
        0.8
    }
}

/// `n` firms with a year of bills each.
pub fn generate(n: usize, year: i32, seed: u64) -> Vec<DemoFirm> {
    let mix = mix();
    let counties: Vec<(String, f64)> = mix.counties.into_iter().collect();
    let table = IndustryTable::builtin();
    tax_ids(n)
        .into_iter()
        .enumerate()
        .map(|(i, tax_id)| {
            let mut rng = Rng(seed ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
            let ind = rng.pick(&mix.industries, |m| m.weight).clone();
            let code = ind.codes[(rng.next() % ind.codes.len() as u64) as usize].clone();
            let industry_code = IndustryCode::parse(&code).expect("demo code shape");
            debug_assert!(table.check(&industry_code).is_ok(), "{code}");
            let (county, _) = rng.pick(&counties, |c| c.1).clone();
            // Small firms dominate: employees log-uniform between 2 and 300.
            let employees = (2f64.ln() + rng.unit() * (300f64.ln() - 2f64.ln())).exp().round().max(2.0) as u32;
            let revenue = (f64::from(employees) * rng.range(1.2e6, 4.0e6) / 1000.0).round() as u64 * 1000;
            let capital = ((revenue as f64) * rng.range(0.05, 0.5) / 1000.0).round() as u64 * 1000;
            let floor = (rng.unit() < 0.7).then(|| (f64::from(employees) * rng.range(15.0, 60.0)).round());
            let division_name = table.division(&ind.division).map_or("企業", |d| d.name.as_str());
            let profile = ProfileFields {
                name: format!("示範{}{:05}有限公司", division_name.trim_end_matches('業'), i + 1),
                industry_code,
                county: county.clone(),
                address: format!("示範地址 {} 號", i + 1),
                employees,
                revenue_ntd: revenue,
                capital_ntd: capital,
                floor_area_m2: floor,
            };
            // The firm's own efficiency: ±40 % around its industry's intensity.
            let eff = rng.range(0.6, 1.4);
            let e = f64::from(employees);
            let mut csv = String::from("類別/kind,細項/detail,數量/quantity,單位/unit,起日/period_start,迄日/period_end\n");
            for b in 0..6u32 {
                let (m1, m2) = (b * 2 + 1, b * 2 + 2);
                let start = NaiveDate::from_ymd_opt(year, m1, 1).expect("date");
                let end = month_end(year, m2);
                let kwh = ind.kwh_per_employee * e * eff / 6.0 * season(m1) * rng.range(0.9, 1.1);
                csv += &format!("電力,,{:.0},kWh,{start},{end}\n", kwh.max(1.0));
                let water = e * rng.range(15.0, 40.0) / 6.0;
                csv += &format!("自來水,,{:.0},度,{start},{end}\n", water.max(1.0));
            }
            let gasoline = e * rng.range(30.0, 120.0) / 12.0;
            for m in 1..=12u32 {
                let start = NaiveDate::from_ymd_opt(year, m, 1).expect("date");
                let end = month_end(year, m);
                csv += &format!("汽油,95無鉛汽油,{:.1},L,{start},{end}\n", gasoline * rng.range(0.8, 1.2));
                if ind.diesel_l_per_employee > 0.0 {
                    csv += &format!("柴油,超級柴油,{:.1},L,{start},{end}\n", ind.diesel_l_per_employee * e * eff / 12.0 * rng.range(0.8, 1.2));
                }
                if ind.lpg_kg_per_employee > 0.0 {
                    csv += &format!("桶裝瓦斯,,{:.1},kg,{start},{end}\n", ind.lpg_kg_per_employee * e * eff / 12.0 * rng.range(0.8, 1.2));
                }
            }
            if rng.unit() < 0.25 {
                let day = NaiveDate::from_ymd_opt(year, 1 + (rng.next() % 12) as u32, 10).expect("date");
                csv += &format!("冷媒,R-410A,{:.1},kg,{day},{day}\n", rng.range(1.0, 6.0));
            }
            debug_assert_eq!(NaiveDate::from_ymd_opt(year, 1, 1).map(|d| d.year()), Some(year));
            DemoFirm { tax_id, profile, csv }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::parse::csv_import::parse_csv;

    #[test]
    fn demo_firms_are_valid_deterministic_and_their_ledgers_parse_cleanly() {
        let a = generate(200, 2025, 7);
        let b = generate(200, 2025, 7);
        assert_eq!(a.len(), 200);
        assert_eq!(a.iter().map(|f| &f.csv).collect::<Vec<_>>(), b.iter().map(|f| &f.csv).collect::<Vec<_>>(), "same seed, same data");
        let ids: std::collections::BTreeSet<_> = a.iter().map(|f| f.tax_id.to_string()).collect();
        assert_eq!(ids.len(), 200, "distinct 統一編號");
        let mut divisions = std::collections::BTreeSet::new();
        let mut counties = std::collections::BTreeSet::new();
        for f in &a {
            // Every profile passes the same validation as the form.
            assert_eq!(ProfileFields::parse(&f.profile.to_form()).as_ref(), Ok(&f.profile), "{}", f.tax_id);
            divisions.insert(f.profile.industry_code.division().to_string());
            counties.insert(f.profile.county.clone());
            let import = parse_csv(f.csv.as_bytes()).unwrap();
            assert!(import.rejected.is_empty(), "{:?}", import.rejected);
            assert!(import.candidates.len() >= 24, "{}", import.candidates.len());
        }
        assert!(divisions.len() >= 15 && counties.len() >= 15, "a realistic spread: {divisions:?} {counties:?}");
        // The big counties get the most firms.
        let in_new_taipei = a.iter().filter(|f| f.profile.county == "65000").count();
        let in_lienchiang = a.iter().filter(|f| f.profile.county == "09007").count();
        assert!(in_new_taipei > in_lienchiang + 10, "{in_new_taipei} vs {in_lienchiang}");
    }
}
