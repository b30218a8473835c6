//! Firm profiles (公司資料維護): the facts about a company that make its inventory
//! comparable — 稅務行業代號, 縣市, size — kept per inventory year. The code tables are
//! data files (`shared/data/industry/divisions.json`, `shared/data/counties.json`) with
//! their sources; this module only reads them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::application::{text_field, FieldErrors, FieldSpec, RawForm};
use super::TaxId;

/// A 6-digit 稅務行業標準分類 code, kept as text (081111 keeps its leading 0).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IndustryCode(String);

impl IndustryCode {
    /// Shape only (6 ASCII digits); [`IndustryTable::check`] also checks the 中類.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_string()))
        } else {
            Err(format!("行業代碼須為 6 位數字（例如 251111、081111），收到「{}」", s.chars().take(20).collect::<String>()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 2-digit 中類 (first two digits).
    pub fn division(&self) -> &str {
        &self.0[..2]
    }
    /// The 4-digit 小類 prefix.
    pub fn group(&self) -> &str {
        &self.0[..4]
    }
}

impl TryFrom<String> for IndustryCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<IndustryCode> for String {
    fn from(c: IndustryCode) -> String {
        c.0
    }
}

impl std::fmt::Display for IndustryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// 製造業, 服務業 or neither (agriculture, mining, utilities, construction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sector {
    Manufacturing,
    Service,
    Other,
}

impl Sector {
    pub fn label(self) -> &'static str {
        match self {
            Sector::Manufacturing => "製造業",
            Sector::Service => "服務業",
            Sector::Other => "其他產業（非製造業、非服務業）",
        }
    }
}

#[derive(Debug, Deserialize)]
struct DivisionsFile {
    version: String,
    sections: Vec<SectionRow>,
    programme_ranges: Vec<RangeRow>,
}

#[derive(Debug, Deserialize)]
struct SectionRow {
    code: String,
    name: String,
    sector: Sector,
    divisions: Vec<(String, String)>,
}

#[derive(Debug, Deserialize)]
struct RangeRow {
    division: String,
    ranges: Vec<(String, String)>,
}

/// One 中類 with its 大類.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Division {
    pub code: String,
    pub name: String,
    pub section: String,
    pub section_name: String,
    pub sector: Sector,
}

/// The industry code table.
#[derive(Debug)]
pub struct IndustryTable {
    pub version: String,
    divisions: BTreeMap<String, Division>,
    /// 中類 whose codes must lie inside the briefing's ranges.
    ranges: BTreeMap<String, Vec<(String, String)>>,
}

impl IndustryTable {
    /// The table compiled in (parsed once).
    pub fn builtin() -> &'static IndustryTable {
        static T: OnceLock<IndustryTable> = OnceLock::new();
        T.get_or_init(|| Self::parse(include_str!("../../data/industry/divisions.json")).expect("shared/data/industry/divisions.json is valid"))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let f: DivisionsFile = serde_json::from_str(text).map_err(|e| format!("行業代碼表格式有誤：{e}"))?;
        let mut divisions = BTreeMap::new();
        for s in &f.sections {
            for (code, name) in &s.divisions {
                if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("行業代碼表：中類代碼「{code}」須為 2 位數字"));
                }
                let d = Division { code: code.clone(), name: name.clone(), section: s.code.clone(), section_name: s.name.clone(), sector: s.sector };
                if divisions.insert(code.clone(), d).is_some() {
                    return Err(format!("行業代碼表：中類 {code} 重複"));
                }
            }
        }
        let mut ranges = BTreeMap::new();
        for r in f.programme_ranges {
            if !divisions.contains_key(&r.division) {
                return Err(format!("行業代碼表：範圍所屬中類 {} 不在表中", r.division));
            }
            for (lo, hi) in &r.ranges {
                for c in [lo, hi] {
                    let c = IndustryCode::parse(c)?;
                    if c.division() != r.division {
                        return Err(format!("行業代碼表：{c} 不屬於中類 {}", r.division));
                    }
                }
                if lo > hi {
                    return Err(format!("行業代碼表：範圍 {lo}–{hi} 顛倒"));
                }
            }
            ranges.insert(r.division, r.ranges);
        }
        Ok(Self { version: f.version, divisions, ranges })
    }

    pub fn division(&self, code: &str) -> Option<&Division> {
        self.divisions.get(code)
    }

    pub fn divisions(&self) -> impl Iterator<Item = &Division> {
        self.divisions.values()
    }

    /// The code's 中類, or a zh-TW reason why the code is not a 稅務行業標準分類 code.
    pub fn check(&self, code: &IndustryCode) -> Result<&Division, String> {
        let d = self
            .divisions
            .get(code.division())
            .ok_or_else(|| format!("行業代碼 {code} 的前 2 碼（中類 {}）不在行業分類表中", code.division()))?;
        if let Some(ranges) = self.ranges.get(code.division()) {
            if !ranges.iter().any(|(lo, hi)| lo.as_str() <= code.as_str() && code.as_str() <= hi.as_str()) {
                let shown: Vec<String> = ranges.iter().map(|(lo, hi)| format!("{lo}～{hi}")).collect();
                return Err(format!("{}（{}）的行業代碼須在 {} 之間，收到 {code}", d.name, d.code, shown.join("、")));
            }
        }
        Ok(d)
    }
}

#[derive(Debug, Deserialize)]
struct CountiesFile {
    version: String,
    regions: Vec<Region>,
    counties: Vec<County>,
}

/// A region (北部, 中部, …) for peer-group roll-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub id: String,
    pub name: String,
}

/// One of the 22 counties and cities, by its 內政部 code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct County {
    pub code: String,
    pub name: String,
    pub region: String,
}

/// The county table.
#[derive(Debug)]
pub struct Counties {
    pub version: String,
    pub regions: Vec<Region>,
    pub counties: Vec<County>,
}

impl Counties {
    pub fn builtin() -> &'static Counties {
        static T: OnceLock<Counties> = OnceLock::new();
        T.get_or_init(|| {
            let f: CountiesFile = serde_json::from_str(include_str!("../../data/counties.json")).expect("shared/data/counties.json is valid");
            assert!(f.counties.iter().all(|c| f.regions.iter().any(|r| r.id == c.region)), "every county has a known region");
            Counties { version: f.version, regions: f.regions, counties: f.counties }
        })
    }
    pub fn get(&self, code: &str) -> Option<&County> {
        self.counties.iter().find(|c| c.code == code)
    }
    pub fn region(&self, id: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.id == id)
    }
}

/// A company's profile for one inventory year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirmProfile {
    pub tax_id: TaxId,
    pub year: i32,
    #[serde(flatten)]
    pub fields: ProfileFields,
    /// 1 for the first save; each save adds one (optimistic concurrency).
    pub version: u32,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// The values a person enters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileFields {
    pub name: String,
    pub industry_code: IndustryCode,
    /// 內政部 縣市代碼.
    pub county: String,
    pub address: String,
    pub employees: u32,
    pub revenue_ntd: u64,
    pub capital_ntd: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_area_m2: Option<f64>,
}

/// An audit entry: who changed a profile, from what to what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileAudit {
    pub tax_id: TaxId,
    pub year: i32,
    pub actor: String,
    pub before: Option<ProfileFields>,
    pub after: ProfileFields,
    pub version: u32,
    pub at: DateTime<Utc>,
}

const NAME: FieldSpec = FieldSpec { name: "name", label: "公司名稱", required: true, max_chars: 100 };
const ADDRESS: FieldSpec = FieldSpec { name: "address", label: "地址", required: true, max_chars: 200 };

/// Amounts as people type them: ASCII or full-width digits, with thousands separators
/// (`,` `，` `_` or spaces). `None` for anything else.
fn parse_amount(raw: &str) -> Option<u64> {
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | '_' | ' ' | '\u{3000}'))
        .map(|c| if ('０'..='９').contains(&c) { char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c) } else { c })
        .collect();
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn amount(raw: &RawForm, name: &str, label: &str, max: u64, errors: &mut FieldErrors) -> u64 {
    let v = raw.first(name).unwrap_or_default().trim();
    if v.is_empty() {
        errors.add(name, format!("請填寫{label}"));
        return 0;
    }
    match parse_amount(v) {
        Some(n) if n <= max => n,
        Some(_) => {
            errors.add(name, format!("{label}超出合理範圍（最多 {max}）"));
            0
        }
        None => {
            errors.add(name, format!("{label}須為不含小數的非負整數，例如 6,000,000"));
            0
        }
    }
}

/// The calendar year in Taiwan (UTC+8) at `now`.
pub fn taiwan_year(now: DateTime<Utc>) -> i32 {
    use chrono::Datelike;
    now.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8")).year()
}

/// The year a profile may be kept for: 2000 up to next year.
pub fn valid_year(year: i32, now: DateTime<Utc>) -> bool {
    (2000..=taiwan_year(now) + 1).contains(&year)
}

impl ProfileFields {
    /// Parses the 公司資料 form; every bad value is reported against its field.
    pub fn parse(raw: &RawForm) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = text_field(NAME, raw.first("name"), &mut errors);
        let address = text_field(ADDRESS, raw.first("address"), &mut errors);

        let code_raw = raw.first("industry_code").unwrap_or_default().trim();
        let industry_code = if code_raw.is_empty() {
            errors.add("industry_code", "請填寫稅務行業代號（6 位數字）");
            None
        } else {
            match IndustryCode::parse(code_raw).and_then(|c| IndustryTable::builtin().check(&c).map(|_| c.clone())) {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.add("industry_code", e);
                    None
                }
            }
        };

        let county = raw.first("county").unwrap_or_default().trim().to_string();
        if county.is_empty() {
            errors.add("county", "請選擇縣市");
        } else if Counties::builtin().get(&county).is_none() {
            errors.add("county", "請從清單選擇縣市（內政部縣市代碼，例如 63000 臺北市）");
        }

        let employees = amount(raw, "employees", "員工人數", 1_000_000, &mut errors);
        if errors.get("employees").is_none() && employees == 0 {
            errors.add("employees", "員工人數至少 1 人（含負責人）");
        }
        let revenue_ntd = amount(raw, "revenue_ntd", "年營業額", 10_000_000_000_000, &mut errors);
        let capital_ntd = amount(raw, "capital_ntd", "實收資本額", 10_000_000_000_000, &mut errors);

        let area_raw = raw.first("floor_area_m2").unwrap_or_default().trim().replace([',', '，'], "");
        let floor_area_m2 = if area_raw.is_empty() {
            None
        } else {
            match area_raw.parse::<f64>() {
                Ok(a) if a.is_finite() && a > 0.0 && a <= 10_000_000.0 => Some((a * 100.0).round() / 100.0),
                _ => {
                    errors.add("floor_area_m2", "樓地板面積須為大於 0 的數字（平方公尺），不知道可留空");
                    None
                }
            }
        };

        match (errors.is_empty(), industry_code) {
            (true, Some(industry_code)) => Ok(Self {
                name,
                industry_code,
                county,
                address,
                employees: employees as u32,
                revenue_ntd,
                capital_ntd,
                floor_area_m2,
            }),
            _ => Err(errors),
        }
    }

    pub fn division(&self) -> Option<&'static Division> {
        IndustryTable::builtin().division(self.industry_code.division())
    }

    pub fn sector(&self) -> Sector {
        self.division().map_or(Sector::Other, |d| d.sector)
    }

    pub fn county(&self) -> Option<&'static County> {
        Counties::builtin().get(&self.county)
    }

    /// 指標型企業 under the programme year's rule (revenue or capital at or above the
    /// thresholds in `shared/data/programme/`); the latest rules when the year has none.
    pub fn is_indicator(&self, year: i32) -> bool {
        let rules = crate::programme::Rules::for_year(year).or_else(|_| crate::programme::Rules::latest());
        match rules {
            Ok(r) => self.revenue_ntd >= r.indicator.min_revenue_ntd || self.capital_ntd >= r.indicator.min_capital_ntd,
            Err(_) => false,
        }
    }

    /// The form values that would show this profile again.
    pub fn to_form(&self) -> RawForm {
        let mut v = vec![
            ("name".to_string(), self.name.clone()),
            ("industry_code".to_string(), self.industry_code.to_string()),
            ("county".to_string(), self.county.clone()),
            ("address".to_string(), self.address.clone()),
            ("employees".to_string(), self.employees.to_string()),
            ("revenue_ntd".to_string(), self.revenue_ntd.to_string()),
            ("capital_ntd".to_string(), self.capital_ntd.to_string()),
        ];
        if let Some(a) = self.floor_area_m2 {
            v.push(("floor_area_m2".to_string(), a.to_string()));
        }
        RawForm(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(over: &[(&str, &str)]) -> RawForm {
        let mut base: Vec<(String, String)> = [
            ("name", "大明金屬股份有限公司"),
            ("industry_code", "251111"),
            ("county", "65000"),
            ("address", "新北市三重區重新路一段 1 號"),
            ("employees", "25"),
            ("revenue_ntd", "48,000,000"),
            ("capital_ntd", "5000000"),
            ("floor_area_m2", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in over {
            base.retain(|(n, _)| n != k);
            base.push((k.to_string(), v.to_string()));
        }
        RawForm(base)
    }

    #[test]
    fn a_valid_profile_parses_with_derived_facts() {
        let p = ProfileFields::parse(&form(&[])).unwrap();
        assert_eq!(p.revenue_ntd, 48_000_000);
        assert_eq!(p.sector(), Sector::Manufacturing);
        assert_eq!(p.division().unwrap().name, "金屬製品製造業");
        assert_eq!(p.county().unwrap().name, "新北市");
        assert!(p.is_indicator(2025));
        let again = ProfileFields::parse(&p.to_form()).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn every_bad_field_is_named() {
        let cases: &[(&str, &str)] = &[
            ("name", ""),
            ("industry_code", "25111"),
            ("industry_code", "250000"),
            ("industry_code", "990000"),
            ("industry_code", "04abcd"),
            ("county", "99999"),
            ("county", ""),
            ("address", ""),
            ("employees", "0"),
            ("employees", "-3"),
            ("employees", "2.5"),
            ("revenue_ntd", "一百萬"),
            ("revenue_ntd", ""),
            ("capital_ntd", "1e6"),
            ("floor_area_m2", "0"),
            ("floor_area_m2", "abc"),
            ("name", "A\u{202e}B"),
        ];
        for (field, value) in cases {
            let e = ProfileFields::parse(&form(&[(field, value)])).expect_err(&format!("{field}={value} must fail"));
            assert!(e.get(field).is_some(), "{field}={value}: {e:?}");
            assert_eq!(e.0.len(), 1, "only {field} is wrong: {e:?}");
        }
    }

    #[test]
    fn amounts_accept_how_people_type_them() {
        assert_eq!(parse_amount("６，０００，０００"), Some(6_000_000));
        assert_eq!(parse_amount(" 1 000 "), Some(1000));
        assert_eq!(parse_amount("1.5"), None);
        assert_eq!(parse_amount("-1"), None);
    }

    #[test]
    fn indicator_rule_at_its_edges() {
        let p = |rev: &str, cap: &str| ProfileFields::parse(&form(&[("revenue_ntd", rev), ("capital_ntd", cap)])).unwrap();
        assert!(p("5000000", "0").is_indicator(2025));
        assert!(!p("4999999", "1999999").is_indicator(2025));
        assert!(p("0", "2000000").is_indicator(2025));
        assert!(!p("0", "1999999").is_indicator(2025));
    }

    #[test]
    fn code_table_lookups() {
        let t = IndustryTable::builtin();
        let c = |s: &str| IndustryCode::parse(s).unwrap();
        assert_eq!(t.check(&c("081111")).unwrap().name, "食品及飼品製造業");
        assert_eq!(t.check(&c("259999")).unwrap().section, "C");
        assert!(t.check(&c("260000")).is_err(), "26 codes start at 261111");
        assert_eq!(t.check(&c("563200")).unwrap().sector, Sector::Service);
        assert!(t.check(&c("563201")).is_err());
        assert_eq!(t.check(&c("620100")).unwrap().name, "電腦程式設計、諮詢及相關服務業");
        assert_eq!(t.check(&c("410011")).unwrap().sector, Sector::Other);
        assert!(t.check(&c("040000")).is_err(), "there is no 中類 04");
        // Every division of the programme's rules is in the table.
        for track in ["manufacturing", "service"] {
            let rules = crate::programme::Rules::for_year(2025).unwrap();
            let t2 = if track == "manufacturing" { &rules.tracks.manufacturing } else { &rules.tracks.service };
            for s in &t2.sub_industries {
                for (lo, hi) in &s.ranges {
                    assert!(t.check(&c(lo)).is_ok() && t.check(&c(hi)).is_ok(), "{lo}–{hi}");
                }
            }
        }
        assert_eq!(Counties::builtin().counties.len(), 22);
        assert_eq!(Counties::builtin().get("63000").unwrap().name, "臺北市");
    }
}
