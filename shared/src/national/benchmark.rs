//! 行業對標: where a firm stands among its peers, and what to do first.
//!
//! The peer group is the narrowest that passes the privacy rules (`privacy::passes` on
//! the members' t CO2e): same 6-digit code and county → 4-digit → 中類 → 大類 in the
//! county, then 中類 → 大類 in the region, then 中類 → 大類 nationwide, then every firm.
//! Intensities: t CO2e per NT$ million revenue, per employee, per m² (firms with a
//! floor area). Suggestions come from `shared/data/benchmark/advice.json`, each naming
//! the figure that triggered it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::privacy::{passes, percentile_rank, quantile, Thresholds};
use crate::domain::{Counties, FirmYearTotal, IndustryTable, ProfileFields, Source};

/// One firm of the population: its profile and its year's totals.
#[derive(Debug, Clone)]
pub struct Peer {
    pub tax_id: String,
    pub profile: ProfileFields,
    pub total: FirmYearTotal,
}

impl Peer {
    fn tonnes(&self) -> f64 {
        self.total.kg() / 1000.0
    }
    fn section(&self) -> String {
        self.profile.division().map_or_else(String::new, |d| d.section.clone())
    }
    fn region(&self) -> String {
        self.profile.county().map_or_else(String::new, |c| c.region.clone())
    }
    /// The intensity by `metric`, None when its denominator is unknown or zero.
    fn intensity(&self, metric: Metric, kg: f64) -> Option<f64> {
        let t = kg / 1000.0;
        match metric {
            Metric::PerRevenue => (self.profile.revenue_ntd > 0).then(|| t / (self.profile.revenue_ntd as f64 / 1_000_000.0)),
            Metric::PerEmployee => (self.profile.employees > 0).then(|| t / f64::from(self.profile.employees)),
            Metric::PerArea => self.profile.floor_area_m2.filter(|a| *a > 0.0).map(|a| t / a),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    PerRevenue,
    PerEmployee,
    PerArea,
}

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::PerRevenue, Metric::PerEmployee, Metric::PerArea];
    pub fn label(self) -> &'static str {
        match self {
            Metric::PerRevenue => "每百萬元營收排放量",
            Metric::PerEmployee => "每位員工排放量",
            Metric::PerArea => "每平方公尺樓地板排放量",
        }
    }
    pub fn unit(self) -> &'static str {
        match self {
            Metric::PerRevenue => "公噸CO2e／百萬元",
            Metric::PerEmployee => "公噸CO2e／人",
            Metric::PerArea => "公噸CO2e／m²",
        }
    }
}

/// The peer group used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub level: &'static str,
    /// zh-TW: which firms, e.g. 「新北市・25 金屬製品製造業」.
    pub definition: String,
    pub firms: usize,
    /// Narrower groups passed over, with why (too few firms, or dominated).
    pub rolled_up_from: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    pub metric: Metric,
    pub label: &'static str,
    pub unit: &'static str,
    pub firm: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    /// 0–100: share of peers below the firm (lower intensity is better).
    pub percentile: f64,
    pub n: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceResult {
    pub source: Source,
    pub label: &'static str,
    /// Share of the firm's total (0–1).
    pub firm_share: f64,
    /// Median share among the peers (0–1).
    pub group_median_share: f64,
    /// The firm's percentile of this source's intensity per NT$ million revenue.
    pub percentile: Option<f64>,
    pub firm_intensity: Option<f64>,
    pub group_median_intensity: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    pub id: String,
    pub source: Source,
    pub title: String,
    pub actions: Vec<String>,
    /// The figure that triggered it (zh-TW).
    pub because: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Benchmark {
    pub year: i32,
    pub group: Group,
    pub metrics: Vec<MetricResult>,
    pub sources: Vec<SourceResult>,
    /// Most urgent first.
    pub advice: Vec<Advice>,
    pub rules_version: String,
}

/// Why no benchmark could be shown (zh-TW, for the page).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoBenchmark {
    pub reason: String,
}

#[derive(Debug, Deserialize)]
struct AdviceFile {
    version: String,
    rules: Vec<AdviceRule>,
}

#[derive(Debug, Deserialize)]
struct AdviceRule {
    id: String,
    source: Source,
    #[serde(default)]
    min_percentile: Option<f64>,
    #[serde(default)]
    any_emissions: bool,
    title: String,
    actions: Vec<String>,
}

fn advice_rules() -> &'static AdviceFile {
    static F: OnceLock<AdviceFile> = OnceLock::new();
    F.get_or_init(|| serde_json::from_str(include_str!("../../data/benchmark/advice.json")).expect("shared/data/benchmark/advice.json is valid"))
}

fn fmt(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

/// The candidate groups for `firm`, narrowest first: (level id, definition, filter).
fn levels(firm: &Peer) -> Vec<(&'static str, String, Box<dyn Fn(&Peer) -> bool + '_>)> {
    let code = firm.profile.industry_code.as_str().to_string();
    let (c6, c4, c2) = (code.clone(), code[..4].to_string(), code[..2].to_string());
    let section = firm.section();
    let county = firm.profile.county.clone();
    let region = firm.region();
    let table = IndustryTable::builtin();
    let counties = Counties::builtin();
    let county_name = counties.get(&county).map_or(county.clone(), |c| c.name.clone());
    let region_name = counties.region(&region).map_or(region.clone(), |r| r.name.clone());
    let div_name = table.division(&c2).map_or(String::new(), |d| d.name.clone());
    let sec_name = table.division(&c2).map_or(String::new(), |d| d.section_name.clone());
    let (co1, co2, co3, co4) = (county.clone(), county.clone(), county.clone(), county.clone());
    let (r1, r2) = (region.clone(), region.clone());
    let (s1, s2, s3) = (section.clone(), section.clone(), section.clone());
    let (d1, d2, d3) = (c2.clone(), c2.clone(), c2.clone());
    vec![
        ("code6_county", format!("{county_name}・行業代號 {c6}"), Box::new(move |p: &Peer| p.profile.industry_code.as_str() == c6 && p.profile.county == co1)),
        ("code4_county", format!("{county_name}・行業代號 {c4}xx"), Box::new(move |p: &Peer| p.profile.industry_code.group() == c4 && p.profile.county == co2)),
        ("division_county", format!("{county_name}・{c2} {div_name}"), Box::new(move |p: &Peer| p.profile.industry_code.division() == d1 && p.profile.county == co3)),
        ("section_county", format!("{county_name}・{section} {sec_name}"), Box::new(move |p: &Peer| p.section() == s1 && p.profile.county == co4)),
        ("division_region", format!("{region_name}・{c2} {div_name}"), Box::new(move |p: &Peer| p.profile.industry_code.division() == d2 && p.region() == r1)),
        ("section_region", format!("{region_name}・{section} {sec_name}"), Box::new(move |p: &Peer| p.section() == s2 && p.region() == r2)),
        ("division_national", format!("全國・{c2} {div_name}"), Box::new(move |p: &Peer| p.profile.industry_code.division() == d3)),
        ("section_national", format!("全國・{section} {sec_name}"), Box::new(move |p: &Peer| p.section() == s3)),
        ("national", "全國所有企業".to_string(), Box::new(|_: &Peer| true)),
    ]
}

/// The firm's benchmark among `population` (which includes the firm itself).
pub fn benchmark(year: i32, firm: &Peer, population: &[Peer], t: &Thresholds) -> Result<Benchmark, NoBenchmark> {
    if firm.total.grams_co2e <= 0 {
        return Err(NoBenchmark { reason: format!("{year} 年尚無已計算的排放量，無法與同業比較。") });
    }
    let mut rolled = Vec::new();
    let mut chosen = None;
    for (level, definition, filter) in levels(firm) {
        let members: Vec<&Peer> = population.iter().filter(|p| filter(p)).collect();
        let values: Vec<f64> = members.iter().map(|p| p.tonnes()).collect();
        if passes(&values, t) {
            chosen = Some((level, definition, members));
            break;
        }
        let why = if values.len() < t.min_firms { format!("{} 家，少於 {} 家", values.len(), t.min_firms) } else { "少數企業占比過高".to_string() };
        rolled.push(format!("{definition}（{why}）"));
    }
    let Some((level, definition, members)) = chosen else {
        return Err(NoBenchmark { reason: format!("同業資料尚不足（需至少 {} 家企業），暫時無法比較。", t.min_firms) });
    };

    let mut metrics = Vec::new();
    for m in Metric::ALL {
        let Some(own) = firm.intensity(m, firm.total.kg()) else { continue };
        let values: Vec<f64> = members.iter().filter_map(|p| p.intensity(m, p.total.kg())).collect();
        // A metric with few firms (floor area is optional) is itself a small group.
        let tonnes: Vec<f64> = members.iter().filter(|p| p.intensity(m, p.total.kg()).is_some()).map(|p| p.tonnes()).collect();
        if !passes(&tonnes, t) {
            continue;
        }
        let (Some(q1), Some(median), Some(q3), Some(percentile)) = (quantile(&values, 0.25), quantile(&values, 0.5), quantile(&values, 0.75), percentile_rank(&values, own)) else {
            continue;
        };
        metrics.push(MetricResult { metric: m, label: m.label(), unit: m.unit(), firm: own, q1, median, q3, percentile, n: values.len() });
    }

    let mut sources = Vec::new();
    for s in Source::ALL {
        let share = |p: &Peer| if p.total.grams_co2e > 0 { p.total.source_kg(s) / p.total.kg() } else { 0.0 };
        let shares: Vec<f64> = members.iter().map(|p| share(p)).collect();
        let firm_share = share(firm);
        let group_median_share = quantile(&shares, 0.5).unwrap_or(0.0);
        if firm_share == 0.0 && group_median_share == 0.0 {
            continue;
        }
        let intensities: Vec<f64> = members.iter().filter_map(|p| p.intensity(Metric::PerRevenue, p.total.source_kg(s))).collect();
        let firm_intensity = firm.intensity(Metric::PerRevenue, firm.total.source_kg(s));
        let percentile = firm_intensity.and_then(|x| percentile_rank(&intensities, x));
        sources.push(SourceResult {
            source: s,
            label: s.label(),
            firm_share,
            group_median_share,
            percentile,
            firm_intensity,
            group_median_intensity: quantile(&intensities, 0.5),
        });
    }

    let rules = advice_rules();
    let mut advice: Vec<(f64, Advice)> = Vec::new();
    for r in &rules.rules {
        let Some(src) = sources.iter().find(|s| s.source == r.source) else { continue };
        let because = if let (Some(min), Some(p)) = (r.min_percentile, src.percentile) {
            if p < min || src.firm_intensity.unwrap_or(0.0) <= 0.0 {
                continue;
            }
            format!(
                "{}排放強度 {} 公噸CO2e／百萬元營收，高於同業 {:.0}%（同業中位數 {}）",
                src.label,
                fmt(src.firm_intensity.unwrap_or(0.0)),
                p,
                fmt(src.group_median_intensity.unwrap_or(0.0))
            )
        } else if r.any_emissions && firm.total.source_kg(r.source) > 0.0 {
            format!("{year} 年{}排放 {} 公噸CO2e", src.label, fmt(firm.total.source_kg(r.source) / 1000.0))
        } else {
            continue;
        };
        let urgency = src.percentile.unwrap_or(100.0) + src.firm_share * 10.0;
        advice.push((urgency, Advice { id: r.id.clone(), source: r.source, title: r.title.clone(), actions: r.actions.clone(), because }));
    }
    advice.sort_by(|a, b| b.0.total_cmp(&a.0));

    Ok(Benchmark {
        year,
        group: Group { level, definition, firms: members.len(), rolled_up_from: rolled },
        metrics,
        sources,
        advice: advice.into_iter().map(|(_, a)| a).collect(),
        rules_version: rules.version.clone(),
    })
}

/// Joins a year's profiles and totals into the benchmark population (firms with both).
pub fn population(profiles: Vec<crate::domain::FirmProfile>, totals: Vec<FirmYearTotal>) -> Vec<Peer> {
    let mut by_tax: BTreeMap<String, ProfileFields> = profiles.into_iter().map(|p| (p.tax_id.to_string(), p.fields)).collect();
    totals
        .into_iter()
        .filter(|t| t.grams_co2e > 0)
        .filter_map(|t| by_tax.remove(&t.tax_id).map(|profile| Peer { tax_id: t.tax_id.clone(), profile, total: t }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IndustryCode;

    fn peer(i: usize, code: &str, county: &str, tonnes: f64, electricity_share: f64, revenue: u64) -> Peer {
        let g = (tonnes * 1_000_000.0) as i64;
        let e = (g as f64 * electricity_share) as i64;
        let mut by = BTreeMap::new();
        by.insert(Source::Electricity, e);
        by.insert(Source::Fuels, g - e);
        Peer {
            tax_id: format!("{i:08}"),
            profile: ProfileFields {
                name: format!("F{i}"),
                industry_code: IndustryCode::parse(code).unwrap(),
                county: county.into(),
                address: "x".into(),
                employees: 10,
                revenue_ntd: revenue,
                capital_ntd: 1,
                floor_area_m2: None,
            },
            total: FirmYearTotal { tax_id: format!("{i:08}"), year: 2025, grams_co2e: g, by_source_grams: by, lines: 10, updated_at: String::new() },
        }
    }

    #[test]
    fn nine_firms_roll_up_and_ten_firms_with_one_dominant_roll_up_too() {
        let t = Thresholds::default();
        // 9 firms with the same code in 新北市, 12 more of 中類 25 elsewhere in the north.
        let mut pop: Vec<Peer> = (0..9).map(|i| peer(i, "251111", "65000", 50.0 + i as f64, 0.6, 10_000_000)).collect();
        pop.extend((9..21).map(|i| peer(i, "252100", "63000", 40.0 + i as f64, 0.5, 10_000_000)));
        let b = benchmark(2025, &pop[0], &pop, &t).unwrap();
        assert_eq!(b.group.level, "division_region", "{:?}", b.group);
        assert_eq!(b.group.firms, 21);
        assert!(b.group.rolled_up_from[0].contains("9 家"), "{:?}", b.group.rolled_up_from);

        // 10 firms, one holding 90 %: dominated, rolled up.
        let mut pop: Vec<Peer> = (0..9).map(|i| peer(i, "251111", "65000", 1.0, 0.6, 10_000_000)).collect();
        pop.push(peer(9, "251111", "65000", 81.0, 0.6, 10_000_000));
        pop.extend((10..25).map(|i| peer(i, "561111", "65000", 20.0, 0.6, 10_000_000)));
        let b = benchmark(2025, &pop[0], &pop, &t).unwrap();
        assert_ne!(b.group.level, "code6_county");
        assert!(b.group.rolled_up_from[0].contains("占比過高"), "{:?}", b.group.rolled_up_from);
    }

    #[test]
    fn percentiles_and_advice_name_the_figures() {
        let t = Thresholds::default();
        let mut pop: Vec<Peer> = (0..20).map(|i| peer(i, "251111", "65000", 10.0 + i as f64, 0.5, 10_000_000)).collect();
        // The firm: highest emissions, nearly all electricity.
        pop.push(peer(20, "251111", "65000", 60.0, 0.95, 10_000_000));
        let b = benchmark(2025, &pop[20], &pop, &t).unwrap();
        assert_eq!(b.group.level, "code6_county");
        let rev = b.metrics.iter().find(|m| m.metric == Metric::PerRevenue).unwrap();
        assert_eq!(rev.firm, 6.0);
        assert!(rev.percentile > 95.0 && rev.median < rev.firm, "{rev:?}");
        assert!(!b.metrics.iter().any(|m| m.metric == Metric::PerArea), "no floor areas known");
        let first = &b.advice[0];
        assert_eq!(first.id, "electricity-high");
        assert!(first.because.contains("5.70") && first.because.contains("高於同業"), "{}", first.because);
        // A firm below its peers gets no "high" advice.
        let low = benchmark(2025, &pop[0], &pop, &t).unwrap();
        assert!(low.advice.iter().all(|a| !a.id.ends_with("-high")), "{:?}", low.advice);
    }

    #[test]
    fn too_few_firms_anywhere_says_so() {
        let pop: Vec<Peer> = (0..5).map(|i| peer(i, "251111", "65000", 10.0, 0.5, 1_000_000)).collect();
        let e = benchmark(2025, &pop[0], &pop, &Thresholds::default()).unwrap_err();
        assert!(e.reason.contains("10 家"), "{e:?}");
    }
}
