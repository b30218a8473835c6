//! The programme's rules (碳健檢 consultants' ten cases), as versioned data files in
//! `shared/data/programme/{民國年}.json`, and the check of one consultant's list of client
//! firms against them: composition by sub-industry, the 指標型企業, ten distinct firms, and
//! the fee the consultant would be paid once every case passes review.
//!
//! The check is pure: `check(&rules, &list)` → [`Verdict`]; `ecosphere programme check
//! FILE.json` prints it (CONTRACT.md).

use serde::{Deserialize, Serialize};

use crate::domain::TaxId;

/// The rules files compiled in, by programme year (民國).
const RULES_FILES: [(u16, &str); 1] = [(114, include_str!("../data/programme/114.json"))];

/// One programme year's rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub programme: String,
    pub programme_year_roc: u16,
    pub year: i32,
    pub version: String,
    pub source: serde_json::Value,
    pub firms_per_consultant: usize,
    pub indicator: Indicator,
    /// Whether one firm may count for two rules (a 指標型 metal firm for both the
    /// indicator and the 金屬製品 rule). When false, the firms counted must be distinct.
    pub slots_may_overlap: bool,
    pub tracks: Tracks,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub label: String,
    pub definition: String,
    pub min_revenue_ntd: u64,
    pub min_capital_ntd: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tracks {
    pub manufacturing: TrackRules,
    pub service: TrackRules,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackRules {
    pub label: String,
    pub fee_per_case_ntd: u64,
    pub cap_cases: u64,
    pub min_indicator_firms: usize,
    pub min_sub_industries: usize,
    pub min_firms_per_sub_industry: usize,
    pub sub_industries: Vec<SubIndustry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubIndustry {
    pub id: String,
    pub label: String,
    /// Inclusive ranges of 6-digit codes.
    pub ranges: Vec<(String, String)>,
}

impl SubIndustry {
    pub fn contains(&self, code: &IndustryCode) -> bool {
        self.ranges.iter().any(|(lo, hi)| lo.as_str() <= code.as_str() && code.as_str() <= hi.as_str())
    }
}

/// The consultant's track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Track {
    Manufacturing,
    Service,
}

impl Rules {
    /// The compiled-in rules of a calendar year (2025 → 民國 114).
    pub fn for_year(year: i32) -> Result<Self, String> {
        let roc = year - 1911;
        let (_, text) = RULES_FILES
            .iter()
            .find(|(y, _)| i32::from(*y) == roc)
            .ok_or_else(|| format!("尚無 {year} 年度（民國 {roc} 年）的計畫規則"))?;
        let rules = Self::parse(text)?;
        if rules.year != year {
            return Err(format!("規則檔年度不符：{} ≠ {year}", rules.year));
        }
        Ok(rules)
    }

    /// Parses and checks a rules file (codes are 6 digits, ranges ordered, and no code
    /// belongs to two sub-industries of a track).
    /// The newest rules compiled in.
    pub fn latest() -> Result<Self, String> {
        let (roc, _) = RULES_FILES.iter().max_by_key(|(y, _)| *y).ok_or("尚無計畫規則")?;
        Self::for_year(i32::from(*roc) + 1911)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let rules: Rules = serde_json::from_str(text).map_err(|e| format!("計畫規則檔格式有誤：{e}"))?;
        for track in [&rules.tracks.manufacturing, &rules.tracks.service] {
            let mut all: Vec<(&str, &str, &str)> = Vec::new();
            for s in &track.sub_industries {
                for (lo, hi) in &s.ranges {
                    for c in [lo, hi] {
                        IndustryCode::parse(c).map_err(|e| format!("計畫規則檔 {}：{e}", s.label))?;
                    }
                    if lo > hi {
                        return Err(format!("計畫規則檔 {}：範圍 {lo}–{hi} 顛倒", s.label));
                    }
                    all.push((lo, hi, &s.label));
                }
            }
            all.sort();
            for w in all.windows(2) {
                if w[1].0 <= w[0].1 {
                    return Err(format!("計畫規則檔：{} 與 {} 的代碼範圍重疊", w[0].2, w[1].2));
                }
            }
            if track.min_sub_industries > track.sub_industries.len() {
                return Err(format!("計畫規則檔 {}：要求的次產業類數多於可選類數", track.label));
            }
        }
        Ok(rules)
    }

    pub fn track(&self, t: Track) -> &TrackRules {
        match t {
            Track::Manufacturing => &self.tracks.manufacturing,
            Track::Service => &self.tracks.service,
        }
    }

    /// Whether a firm is a 指標型企業 (年營收500萬元以上，或資本額200萬元以上).
    pub fn is_indicator(&self, f: &Firm) -> bool {
        f.revenue_ntd >= self.indicator.min_revenue_ntd || f.capital_ntd >= self.indicator.min_capital_ntd
    }
}

pub use crate::domain::firm::IndustryCode;

/// One client firm of the list.
#[derive(Debug, Clone)]
pub struct Firm {
    pub tax_id: TaxId,
    pub industry_code: IndustryCode,
    pub revenue_ntd: u64,
    pub capital_ntd: u64,
}

/// One consultant's list, as the command reads it.
#[derive(Debug, Clone)]
pub struct FirmList {
    pub year: i32,
    pub track: Track,
    pub firms: Vec<Firm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    year: i32,
    track: Track,
    firms: Vec<RawFirm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFirm {
    tax_id: String,
    industry_code: String,
    revenue_ntd: u64,
    capital_ntd: u64,
}

impl FirmList {
    /// Reads the command's input document; every problem is a zh-TW message.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: RawList = serde_json::from_str(text).map_err(|e| {
            let what = e.to_string();
            let hint = if what.contains("unknown variant") {
                "（track 須為 \"manufacturing\" 或 \"service\"）"
            } else if what.contains("invalid type") || what.contains("invalid value") {
                "（金額須為不含小數的新臺幣整數，統一編號與行業代碼須為字串）"
            } else {
                ""
            };
            format!("輸入不是有效的實作企業名單：{what}{hint}")
        })?;
        let mut firms = Vec::with_capacity(raw.firms.len());
        for (i, f) in raw.firms.into_iter().enumerate() {
            let n = i + 1;
            let tax_id = TaxId::parse(&f.tax_id).map_err(|e| format!("第 {n} 家企業的統一編號「{}」有誤：{e}", f.tax_id.chars().take(20).collect::<String>()))?;
            let industry_code = IndustryCode::parse(&f.industry_code).map_err(|e| format!("第 {n} 家企業（{tax_id}）：{e}"))?;
            firms.push(Firm { tax_id, industry_code, revenue_ntd: f.revenue_ntd, capital_ntd: f.capital_ntd });
        }
        Ok(Self { year: raw.year, track: raw.track, firms })
    }
}

/// A rule the list does not meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmet {
    pub rule: &'static str,
    pub message: String,
}

/// The verdict (CONTRACT.md: `ok`, `fee_ntd`, `unmet`, `indicator_firms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub ok: bool,
    /// What the consultant is paid once every case passes review; 0 when `ok` is false.
    pub fee_ntd: u64,
    pub unmet: Vec<Unmet>,
    /// The 指標型企業 of the list, in list order.
    pub indicator_firms: Vec<String>,
    /// The rules file the verdict used.
    pub rules_version: String,
}

/// Checks a list against a year's rules.
pub fn check(rules: &Rules, list: &FirmList) -> Verdict {
    let track = rules.track(list.track);
    let mut unmet = Vec::new();
    let want = rules.firms_per_consultant;

    // Ten distinct firms: duplicates are reported by 統一編號, and counted once.
    let mut seen: Vec<&TaxId> = Vec::new();
    let mut dups: Vec<String> = Vec::new();
    let mut firms: Vec<&Firm> = Vec::new();
    for f in &list.firms {
        if seen.contains(&&f.tax_id) {
            if !dups.contains(&f.tax_id.to_string()) {
                dups.push(f.tax_id.to_string());
            }
        } else {
            seen.push(&f.tax_id);
            firms.push(f);
        }
    }
    if !dups.is_empty() {
        unmet.push(Unmet { rule: "distinct_firms", message: format!("實作企業不得重複：{} 重複列出，只計一次。", dups.join("、")) });
    }
    if firms.len() != want {
        let message = if firms.len() < want {
            format!("須有 {want} 家不重複的實作企業，目前 {} 家，尚缺 {} 家。", firms.len(), want - firms.len())
        } else {
            format!("須有 {want} 家不重複的實作企業，目前 {} 家，多了 {} 家。", firms.len(), firms.len() - want)
        };
        unmet.push(Unmet { rule: "firm_count", message });
    }

    let indicators: Vec<&Firm> = firms.iter().copied().filter(|f| rules.is_indicator(f)).collect();
    let group_of = |f: &Firm| track.sub_industries.iter().position(|s| s.contains(&f.industry_code));
    let labels = track.sub_industries.iter().map(|s| s.label.as_str()).collect::<Vec<_>>().join("、");

    // Which firms count for the sub-industry rule, given the firms set aside as indicators.
    let groups_met = |excluded: &[&TaxId]| -> usize {
        let mut per = vec![0usize; track.sub_industries.len()];
        for f in firms.iter().filter(|f| !excluded.contains(&&f.tax_id)) {
            if let Some(g) = group_of(f) {
                per[g] += 1;
            }
        }
        per.iter().filter(|n| **n >= track.min_firms_per_sub_industry).count()
    };

    let indicator_ok = indicators.len() >= track.min_indicator_firms;
    if !indicator_ok {
        unmet.push(Unmet {
            rule: "indicator_firm",
            message: format!(
                "須至少 {} 家{}（{}），目前 {} 家。",
                track.min_indicator_firms,
                rules.indicator.label,
                rules.indicator.definition,
                indicators.len()
            ),
        });
    }
    let all_groups = groups_met(&[]);
    if all_groups < track.min_sub_industries {
        unmet.push(Unmet {
            rule: "sub_industries",
            message: format!(
                "{}軌須在「{labels}」中至少 {} 類各有至少 {} 家，目前符合 {} 類。",
                track.label, track.min_sub_industries, track.min_firms_per_sub_industry, all_groups
            ),
        });
    } else if indicator_ok && !rules.slots_may_overlap {
        // Distinct slots: some choice of indicator firms must leave the sub-industry rule met.
        let ids: Vec<&TaxId> = indicators.iter().map(|f| &f.tax_id).collect();
        let best = combinations(&ids, track.min_indicator_firms).iter().map(|chosen| groups_met(chosen)).max().unwrap_or(0);
        if best < track.min_sub_industries {
            unmet.push(Unmet {
                rule: "distinct_slots",
                message: format!(
                    "{ind}與指定次產業須由不同企業擔任：扣除{ind}後，「{labels}」只剩 {best} 類符合，須至少 {} 類。",
                    track.min_sub_industries,
                    ind = rules.indicator.label,
                ),
            });
        }
    }

    let ok = unmet.is_empty();
    Verdict {
        ok,
        fee_ntd: if ok { track.fee_per_case_ntd * want as u64 } else { 0 },
        unmet,
        indicator_firms: indicators.iter().map(|f| f.tax_id.to_string()).collect(),
        rules_version: rules.version.clone(),
    }
}

/// Every choice of `k` items (k is 1 in the rules today; the lists have ten firms).
fn combinations<'a, T>(items: &[&'a T], k: usize) -> Vec<Vec<&'a T>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for (i, first) in items.iter().enumerate() {
        for mut rest in combinations(&items[i + 1..], k - 1) {
            rest.insert(0, *first);
            out.push(rest);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Valid 統一編號 generated by the checksum (the tests need many distinct ones).
    fn tax_ids(n: usize) -> Vec<String> {
        (10_000_000u32..).map(|v| v.to_string()).filter(|s| TaxId::parse(s).is_ok()).take(n).collect()
    }

    fn firm(tax: &str, code: &str, revenue: u64, capital: u64) -> Firm {
        Firm { tax_id: TaxId::parse(tax).unwrap(), industry_code: IndustryCode::parse(code).unwrap(), revenue_ntd: revenue, capital_ntd: capital }
    }

    fn list(track: Track, codes: &[(&str, u64, u64)]) -> FirmList {
        let ids = tax_ids(codes.len());
        FirmList { year: 2025, track, firms: codes.iter().zip(&ids).map(|((c, r, k), t)| firm(t, c, *r, *k)).collect() }
    }

    fn rules() -> Rules {
        Rules::for_year(2025).unwrap()
    }

    fn rule_names(v: &Verdict) -> Vec<&'static str> {
        v.unmet.iter().map(|u| u.rule).collect()
    }

    /// Ten manufacturing firms: one metal (indicator by revenue), one food, eight others.
    fn good_manufacturing() -> Vec<(&'static str, u64, u64)> {
        let mut v = vec![("251111", 6_000_000, 0), ("081111", 1_000_000, 500_000)];
        v.extend(std::iter::repeat_n(("620100", 1_000_000, 100_000), 8));
        v
    }

    #[test]
    fn a_good_list_passes_with_the_fee() {
        let v = check(&rules(), &list(Track::Manufacturing, &good_manufacturing()));
        assert!(v.ok, "{v:?}");
        assert_eq!(v.fee_ntd, 10_000);
        assert!(v.unmet.is_empty());
        assert_eq!(v.indicator_firms.len(), 1);
        let mut s = vec![("561111", 100, 2_000_000)];
        s.extend(std::iter::repeat_n(("620100", 100, 100), 9));
        let v = check(&rules(), &list(Track::Service, &s));
        assert!(v.ok, "{v:?}");
        assert_eq!(v.fee_ntd, 7_000);
    }

    #[test]
    fn every_range_edge_counts_inside_and_not_outside() {
        let r = rules();
        for (track, t) in [(Track::Manufacturing, &r.tracks.manufacturing), (Track::Service, &r.tracks.service)] {
            for sub in &t.sub_industries {
                for (lo, hi) in &sub.ranges {
                    let below = format!("{:06}", lo.parse::<u32>().unwrap() - 1);
                    let above = format!("{:06}", hi.parse::<u32>().unwrap() + 1);
                    for (code, inside) in [(lo.as_str(), true), (hi.as_str(), true), (below.as_str(), false), (above.as_str(), false)] {
                        let c = IndustryCode::parse(code).unwrap();
                        assert_eq!(sub.contains(&c), inside, "{track:?} {} {code}", sub.label);
                    }
                }
            }
        }
        // The issue's example: 458400 is not 批發業 here.
        let wholesale = &r.tracks.service.sub_industries[0];
        assert!(!wholesale.contains(&IndustryCode::parse("458400").unwrap()));
        assert!(wholesale.contains(&IndustryCode::parse("458399").unwrap()));
    }

    #[test]
    fn leading_zeros_are_kept_and_codes_must_be_six_digits() {
        let food = &rules().tracks.manufacturing.sub_industries[2];
        assert!(food.contains(&IndustryCode::parse("081111").unwrap()));
        for bad in ["81111", "0811111", "08111a", "", "８１１１１１"] {
            assert!(IndustryCode::parse(bad).is_err(), "{bad}");
        }
        let err = FirmList::parse(r#"{"year":2025,"track":"service","firms":[{"tax_id":"22099131","industry_code":81111,"revenue_ntd":1,"capital_ntd":1}]}"#).unwrap_err();
        assert!(err.contains("字串") || err.contains("invalid type"), "{err}");
    }

    #[test]
    fn one_sub_industry_is_not_enough_for_manufacturing() {
        let mut v = good_manufacturing();
        v[1] = ("251112", 1_000_000, 0); // both in 金屬製品
        let verdict = check(&rules(), &list(Track::Manufacturing, &v));
        assert!(!verdict.ok);
        assert_eq!(verdict.fee_ntd, 0);
        assert_eq!(rule_names(&verdict), ["sub_industries"]);
        assert!(verdict.unmet[0].message.contains("目前符合 1 類"), "{}", verdict.unmet[0].message);
    }

    #[test]
    fn the_indicator_thresholds_are_inclusive_either_way() {
        let r = rules();
        let t = tax_ids(1).remove(0);
        assert!(r.is_indicator(&firm(&t, "620100", 5_000_000, 0)));
        assert!(!r.is_indicator(&firm(&t, "620100", 4_999_999, 1_999_999)));
        assert!(r.is_indicator(&firm(&t, "620100", 0, 2_000_000)));
        let mut v = good_manufacturing();
        v[0] = ("251111", 4_999_999, 1_999_999);
        let verdict = check(&r, &list(Track::Manufacturing, &v));
        assert_eq!(rule_names(&verdict), ["indicator_firm"]);
        assert!(verdict.indicator_firms.is_empty());
    }

    #[test]
    fn fewer_more_and_duplicate_firms() {
        let v = good_manufacturing();
        let verdict = check(&rules(), &list(Track::Manufacturing, &v[..9]));
        assert_eq!(rule_names(&verdict), ["firm_count"]);
        assert!(verdict.unmet[0].message.contains("尚缺 1 家"));
        let mut more = v.clone();
        more.push(("620100", 1, 1));
        let verdict = check(&rules(), &list(Track::Manufacturing, &more));
        assert_eq!(rule_names(&verdict), ["firm_count"]);
        assert!(verdict.unmet[0].message.contains("多了 1 家"));
        // Ten entries, one of them a repeat: nine distinct firms.
        let mut l = list(Track::Manufacturing, &v);
        l.firms[9] = l.firms[2].clone();
        let verdict = check(&rules(), &l);
        assert_eq!(rule_names(&verdict), ["distinct_firms", "firm_count"]);
        assert!(verdict.unmet[0].message.contains(l.firms[2].tax_id.as_str()));
    }

    #[test]
    fn the_overlap_switch_decides_whether_one_firm_fills_two_rules() {
        // The only indicator is the only metal firm.
        let mut v = good_manufacturing();
        v[1] = ("081111", 1_000_000, 0);
        let l = list(Track::Manufacturing, &v);
        let mut r = rules();
        assert!(check(&r, &l).ok, "overlap allowed by the 114 rules");
        r.slots_may_overlap = false;
        let verdict = check(&r, &l);
        assert_eq!(rule_names(&verdict), ["distinct_slots"]);
        assert!(verdict.unmet[0].message.contains("只剩 1 類"), "{}", verdict.unmet[0].message);
        // A second indicator outside the sub-industries fixes it.
        let mut v2 = v.clone();
        v2[5] = ("620100", 9_000_000, 0);
        assert!(check(&r, &list(Track::Manufacturing, &v2)).ok);
    }

    #[test]
    fn bad_documents_are_zh_tw_errors() {
        for (doc, needle) in [
            ("not json", "輸入不是有效"),
            (r#"{"year":2025,"track":"retail","firms":[]}"#, "manufacturing"),
            (r#"{"year":2025,"track":"service","firms":[{"tax_id":"22099132","industry_code":"561111","revenue_ntd":1,"capital_ntd":1}]}"#, "統一編號"),
            (r#"{"year":2025,"track":"service","firms":[{"tax_id":"22099131","industry_code":"56111","revenue_ntd":1,"capital_ntd":1}]}"#, "6 位數字"),
            (r#"{"year":2025,"track":"service","firms":[{"tax_id":"22099131","industry_code":"561111","revenue_ntd":1.5,"capital_ntd":1}]}"#, "整數"),
            (r#"{"year":2025,"track":"service","firms":[{"tax_id":"22099131","industry_code":"561111","revenue_ntd":-1,"capital_ntd":1}]}"#, "整數"),
        ] {
            let err = FirmList::parse(doc).unwrap_err();
            assert!(err.contains(needle), "{doc}: {err}");
        }
        assert!(Rules::for_year(2019).unwrap_err().contains("尚無 2019 年度"));
    }

    #[test]
    fn rules_files_with_overlapping_or_bad_ranges_are_refused() {
        let good: serde_json::Value = serde_json::from_str(RULES_FILES[0].1).unwrap();
        let mut bad = good.clone();
        bad["tracks"]["manufacturing"]["sub_industries"][1]["ranges"][0][0] = "259000".into();
        bad["tracks"]["manufacturing"]["sub_industries"][1]["ranges"][0][1] = "293999".into();
        assert!(Rules::parse(&bad.to_string()).unwrap_err().contains("重疊"));
        let mut bad = good.clone();
        bad["tracks"]["service"]["sub_industries"][0]["ranges"][0][0] = "45101".into();
        assert!(Rules::parse(&bad.to_string()).unwrap_err().contains("6 位數字"));
        let mut bad = good;
        bad["tracks"]["service"]["min_sub_industries"] = 9.into();
        assert!(Rules::parse(&bad.to_string()).is_err());
    }
}
