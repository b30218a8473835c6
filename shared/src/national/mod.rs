//! The national picture (各產業、各縣市歷年碳排分析) and industry benchmarks: firm-year
//! totals grouped by industry (中類) and county, published only where the privacy rules
//! allow (`privacy`). `ecosphere national --year YYYY` prints [`National`] (CONTRACT.md).

pub mod benchmark;
pub mod demo;
pub mod privacy;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::{FirmProfile, TaxId};
use crate::error::AppResult;
use crate::ports::{FirmProfileStore, TotalsStore};
use privacy::{Table, Thresholds};

/// One firm's inventory total for a year, with where it sits.
#[derive(Debug, Clone, PartialEq)]
pub struct FirmYear {
    pub tax_id: TaxId,
    /// 2-digit 中類; None without a profile for the year.
    pub industry: Option<String>,
    /// 內政部 county code; None without a profile for the year.
    pub county: Option<String>,
    pub kg_co2e: f64,
    /// Annual revenue from the profile (for intensities).
    pub revenue_ntd: Option<u64>,
}

/// One group of a one-way table (a county, a 大類): published figures, or withheld.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupFigure {
    pub key: String,
    pub label: String,
    pub firms: usize,
    /// None when withheld by the privacy rules (too few firms, dominated, or withheld
    /// so that another withheld group cannot be recovered from the total).
    pub t_co2e: Option<f64>,
    /// t CO2e per NT$ million revenue, when published and revenue is known.
    pub t_per_million_ntd: Option<f64>,
}

/// A one-way table whose total is published: each group passes the primary rule, and
/// a lone withheld group gets a complement (the same rules as the cells, `privacy`).
pub fn publish_groups(groups: &BTreeMap<String, (String, Vec<&FirmYear>)>, t: &Thresholds) -> Vec<GroupFigure> {
    let row: Vec<Vec<f64>> = groups.values().map(|(_, fs)| fs.iter().map(|f| f.kg_co2e.max(0.0)).collect()).collect();
    let s = privacy::suppress(&Table { cells: vec![row] }, t);
    groups
        .iter()
        .enumerate()
        .map(|(c, (key, (label, fs)))| {
            let shown = !fs.is_empty() && !s.is_suppressed(0, c);
            let kg: f64 = fs.iter().map(|f| f.kg_co2e).sum();
            let revenue: u64 = fs.iter().filter_map(|f| f.revenue_ntd).sum();
            GroupFigure {
                key: key.clone(),
                label: label.clone(),
                firms: fs.len(),
                t_co2e: shown.then(|| tonnes(kg)),
                t_per_million_ntd: (shown && revenue > 0).then(|| kg / 1000.0 / (revenue as f64 / 1_000_000.0)),
            }
        })
        .collect()
}

/// A published cell: industry × county.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub industry: String,
    pub county: String,
    pub firms: usize,
    pub t_co2e: f64,
}

/// The published national figures of one year.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct National {
    pub year: i32,
    /// Cells that pass the privacy rules, by industry then county.
    pub cells: Vec<Cell>,
    /// Non-empty cells withheld (primary and complementary).
    pub suppressed: usize,
    /// Every firm's inventory, profiled or not.
    pub total_t_co2e: f64,
    /// Every firm with emission lines in the year.
    pub firms: usize,
    /// Firms counted in the total but in no cell (no profile for the year yet).
    pub unclassified_firms: usize,
    /// Their t CO2e, when they pass the privacy rules as a group (else null).
    pub unclassified_t_co2e: Option<f64>,
    pub privacy: PrivacyRules,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivacyRules {
    pub min_firms: usize,
    pub max_top2_share: f64,
}

/// Tonnes with three decimals (kg precision), the way every figure is printed (never -0).
pub fn tonnes(kg: f64) -> f64 {
    kg.round() / 1000.0 + 0.0
}

/// Groups the firms into industry × county cells and publishes what the rules allow.
pub fn compute(year: i32, firms: &[FirmYear], t: &Thresholds) -> National {
    let mut rows: BTreeMap<&str, usize> = BTreeMap::new();
    let mut cols: BTreeMap<&str, usize> = BTreeMap::new();
    for f in firms {
        if let (Some(i), Some(c)) = (&f.industry, &f.county) {
            rows.entry(i.as_str()).or_default();
            cols.entry(c.as_str()).or_default();
        }
    }
    for (n, v) in rows.values_mut().enumerate() {
        *v = n;
    }
    for (n, v) in cols.values_mut().enumerate() {
        *v = n;
    }
    let mut table = Table { cells: vec![vec![Vec::new(); cols.len()]; rows.len()] };
    let mut unclassified: Vec<f64> = Vec::new();
    for f in firms {
        match (&f.industry, &f.county) {
            (Some(i), Some(c)) => table.cells[rows[i.as_str()]][cols[c.as_str()]].push(f.kg_co2e.max(0.0)),
            _ => unclassified.push(f.kg_co2e),
        }
    }
    let mut s = privacy::suppress(&table, t);
    // What is printed besides the cells is the total of every firm. Against that one sum
    // the hidden figures (withheld cells, and the unclassified firms when they fail the
    // rules as a group) are safe unless exactly one is hidden: then it gets a complement.
    let unclassified_shown = unclassified.is_empty() || privacy::passes(&unclassified, t);
    if s.count() + usize::from(!unclassified_shown) == 1 {
        let smallest = (0..rows.len())
            .flat_map(|r| (0..cols.len()).map(move |c| (r, c)))
            .filter(|&(r, c)| !table.cells[r][c].is_empty() && !s.is_suppressed(r, c))
            .min_by(|a, b| table.cells[a.0][a.1].iter().sum::<f64>().total_cmp(&table.cells[b.0][b.1].iter().sum::<f64>()));
        if let Some(cell) = smallest {
            s.complementary.insert(cell);
        }
    }
    let mut cells = Vec::new();
    let mut suppressed = 0;
    for (industry, &r) in &rows {
        for (county, &c) in &cols {
            let values = &table.cells[r][c];
            if values.is_empty() {
                continue;
            }
            if s.is_suppressed(r, c) {
                suppressed += 1;
            } else {
                cells.push(Cell { industry: industry.to_string(), county: county.to_string(), firms: values.len(), t_co2e: tonnes(values.iter().sum()) });
            }
        }
    }
    National {
        year,
        cells,
        suppressed,
        total_t_co2e: tonnes(firms.iter().map(|f| f.kg_co2e).sum()),
        firms: firms.len(),
        unclassified_firms: unclassified.len(),
        unclassified_t_co2e: unclassified_shown.then(|| tonnes(unclassified.iter().sum())),
        privacy: PrivacyRules { min_firms: t.min_firms, max_top2_share: t.max_top2_share },
    }
}

/// Every firm with emission lines in `year`: its total (the stream-fed firm-year
/// aggregate, not the lines) and its profile's industry and county.
pub async fn firm_years(totals: &dyn TotalsStore, profiles: &dyn FirmProfileStore, year: i32) -> AppResult<Vec<FirmYear>> {
    let by_tax: BTreeMap<String, FirmProfile> = profiles.list_year(year).await?.into_iter().map(|p| (p.tax_id.to_string(), p)).collect();
    let mut out = Vec::new();
    for t in totals.list_year(year).await? {
        let Ok(tax) = TaxId::parse(&t.tax_id) else { continue };
        let p = by_tax.get(tax.as_str());
        out.push(FirmYear {
            industry: p.map(|p| p.fields.industry_code.division().to_string()),
            county: p.map(|p| p.fields.county.clone()),
            tax_id: tax,
            kg_co2e: t.kg(),
            revenue_ntd: p.map(|p| p.fields.revenue_ntd),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn firm(n: u32, industry: &str, county: &str, kg: f64) -> FirmYear {
        let _ = n;
        FirmYear { tax_id: TaxId::parse("22099131").unwrap(), industry: Some(industry.into()), county: Some(county.into()), kg_co2e: kg, revenue_ntd: Some(1_000_000) }
    }

    #[test]
    fn small_cells_are_withheld_and_the_total_still_counts_every_firm() {
        let mut firms: Vec<FirmYear> = Vec::new();
        for i in 0..12 {
            firms.push(firm(i, "25", "65000", 1000.0 + f64::from(i)));
            firms.push(firm(i, "25", "63000", 2000.0));
            firms.push(firm(i, "56", "65000", 500.0));
            firms.push(firm(i, "56", "63000", 700.0));
        }
        // Three firms alone in a cell: withheld, and a complement with it.
        for _ in 0..3 {
            firms.push(firm(99, "29", "65000", 9000.0));
        }
        for i in 0..11 {
            firms.push(firm(i, "29", "63000", 100.0));
        }
        firms.push(FirmYear { tax_id: TaxId::parse("10458574").unwrap(), industry: None, county: None, kg_co2e: 1234.5, revenue_ntd: None });
        let n = compute(2025, &firms, &Thresholds::default());
        assert!(!n.cells.iter().any(|c| c.industry == "29" && c.county == "65000"));
        assert!(n.suppressed >= 2, "a lone withheld cell is recoverable from its row: {n:?}");
        assert!(n.cells.iter().all(|c| c.firms >= 10));
        let expected = tonnes(firms.iter().map(|f| f.kg_co2e).sum::<f64>());
        assert_eq!(n.total_t_co2e, expected);
        assert_eq!((n.firms, n.unclassified_firms), (firms.len(), 1));
        // One firm without a profile is not published on its own.
        assert_eq!(n.unclassified_t_co2e, None);
    }

    #[test]
    fn withheld_unclassified_firms_are_not_left_recoverable_from_the_total() {
        // Every cell passes; one firm has no profile: total − cells would be that firm.
        let mut firms: Vec<FirmYear> = (0..24).map(|i| firm(i, "25", if i < 12 { "65000" } else { "63000" }, 100.0 + f64::from(i))).collect();
        firms.push(FirmYear { tax_id: TaxId::parse("10458574").unwrap(), industry: None, county: None, kg_co2e: 777.0, revenue_ntd: None });
        let n = compute(2025, &firms, &Thresholds::default());
        assert_eq!(n.unclassified_t_co2e, None);
        assert_eq!(n.suppressed, 1, "a cell is withheld with it: {n:?}");
        let published: f64 = n.cells.iter().map(|c| c.t_co2e).sum();
        assert!((n.total_t_co2e - published - 0.777).abs() > 0.5, "total − published is not the lone firm: {n:?}");
    }

    #[test]
    fn a_lone_small_group_is_not_left_recoverable_from_the_total() {
        let firms: Vec<FirmYear> = (0..60).map(|i| firm(i, "25", if i < 3 { "09007" } else if i < 30 { "65000" } else if i < 45 { "63000" } else { "66000" }, 100.0 + f64::from(i))).collect();
        let mut groups: BTreeMap<String, (String, Vec<&FirmYear>)> = BTreeMap::new();
        for f in &firms {
            let c = f.county.clone().unwrap();
            groups.entry(c.clone()).or_insert_with(|| (c, Vec::new())).1.push(f);
        }
        let g = publish_groups(&groups, &Thresholds::default());
        let hidden: Vec<&str> = g.iter().filter(|x| x.t_co2e.is_none()).map(|x| x.key.as_str()).collect();
        assert!(hidden.contains(&"09007"), "3 firms are withheld: {g:?}");
        assert_eq!(hidden.len(), 2, "and one complement, so total − published ≠ the small group: {g:?}");
        assert!(g.iter().all(|x| x.t_co2e.is_none() || x.firms >= 10));
        assert!(g.iter().filter(|x| x.t_co2e.is_some()).all(|x| x.t_per_million_ntd.is_some()));
    }
}
