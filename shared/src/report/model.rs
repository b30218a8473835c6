//! The report renderer's input. The lead fills a `ReportModel` from the stored
//! inventory; the renderers (`html`, `pdf`) only format it, they compute nothing
//! but shares, page layout and chart scales.
//!
//! All quantities of emission are kilograms (kg CO2e unless a field says otherwise).
//! All labels are zh-TW and may contain anything: renderers escape them.

use serde::{Deserialize, Serialize};

/// Everything one carbon report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportModel {
    /// 公司名稱.
    pub company_name: String,
    /// 統一編號 (8 digits).
    pub tax_id: String,
    /// The inventory year (calendar year).
    pub year: i32,
    /// When the report was produced, already formatted, e.g. "2026-11-24 10:00 (台北時間)".
    pub generated_at: String,
    /// The same instant, for the PDF's metadata (UTC).
    #[serde(default)]
    pub generated_on: chrono::DateTime<chrono::Utc>,
    /// Total counted emissions, kg CO2e (unrounded).
    pub total_kg_co2e: f64,
    /// Emissions disclosed separately and not counted in the total (e.g. HCFC refrigerants), kg CO2e.
    #[serde(default)]
    pub excluded_kg_co2e: f64,
    /// Per scope, e.g. label "範疇一 直接排放".
    #[serde(default)]
    pub by_scope: Vec<Slice>,
    /// Per ISO 14064-1 category (1..6), e.g. label "類別1 直接溫室氣體排放".
    #[serde(default)]
    pub by_category: Vec<Slice>,
    /// One bar per month ("2025-01" .. "2025-12"), split by scope.
    #[serde(default)]
    pub monthly: Vec<MonthBar>,
    /// Sources by emissions, largest first, with share and cumulative share (Pareto).
    #[serde(default)]
    pub hotspots: Vec<Hotspot>,
    /// One row per emission source (MOENV inventory form 表二/表三 spirit).
    #[serde(default)]
    pub inventory: Vec<InventoryRow>,
    /// Comparison with the previous year, when there is one.
    #[serde(default)]
    pub yoy: Option<YearOnYear>,
    /// zh-TW notes: provisional factors, unverified factors, exclusions... The renderers
    /// always add the rounding and GWP notes themselves.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The emission factors used.
    #[serde(default)]
    pub factor_refs: Vec<FactorRef>,
}

/// One part of a breakdown (a scope, a category).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    /// zh-TW label, e.g. "範疇二 能源間接排放".
    pub label: String,
    /// kg CO2e.
    pub kg_co2e: f64,
}

/// One month of the trend chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthBar {
    /// "YYYY-MM".
    pub month: String,
    /// kg CO2e of scope 1, 2 and 3 in that month.
    pub by_scope_kg: [f64; 3],
}

/// One emission source in the Pareto ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hotspot {
    /// zh-TW source label, e.g. "外購電力（台電 電號 01-2345-67）".
    pub source: String,
    /// kg CO2e.
    pub kg_co2e: f64,
    /// Share of the total, 0..1.
    pub share: f64,
    /// Cumulative share including this source, 0..1 (sources sorted largest first).
    pub cumulative_share: f64,
}

/// One row of the inventory table (one emission source).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryRow {
    /// GHG Protocol scope, 1..=3.
    pub scope: u8,
    /// ISO 14064-1 category, 1..=6.
    pub category: u8,
    /// zh-TW source label, e.g. "車用汽油".
    pub source: String,
    /// Optional detail (meter, plate, gas name, e.g. "R-410A").
    #[serde(default)]
    pub detail: Option<String>,
    /// Activity data (annual quantity).
    pub quantity: f64,
    /// Unit of `quantity`, e.g. "kWh", "公升", "m³".
    pub unit: String,
    /// The factor as shown, e.g. "0.474 kgCO2e/kWh".
    pub factor_text: String,
    /// CO2 mass, kg.
    pub co2_kg: f64,
    /// CH4 mass, kg (of gas, not CO2e).
    pub ch4_kg: f64,
    /// N2O mass, kg (of gas, not CO2e).
    pub n2o_kg: f64,
    /// Other gases (HFCs, PFCs, SF6, NF3), kg CO2e.
    pub other_kg_co2e: f64,
    /// Total of the row, kg CO2e (AR5 GWP).
    pub kg_co2e: f64,
    /// Share of the report total, 0..1.
    pub share: f64,
    /// The factor is provisional (暫用), e.g. last year's electricity factor.
    #[serde(default)]
    pub provisional: bool,
    /// The factor has not been verified against its source (未查證).
    #[serde(default)]
    pub unverified: bool,
    /// Number of bills (documents) behind the row.
    #[serde(default)]
    pub documents: u32,
}

/// Year-on-year comparison, decomposed into an activity effect and a factor effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YearOnYear {
    pub prev_year: i32,
    /// Previous year's total, kg CO2e.
    pub prev_total_kg_co2e: f64,
    /// This year minus previous year, kg CO2e.
    pub change_kg_co2e: f64,
    /// The part of the change due to changed activity (at the previous factors), kg CO2e.
    pub activity_effect_kg_co2e: f64,
    /// The part of the change due to changed factors, kg CO2e.
    pub factor_effect_kg_co2e: f64,
    /// Per-source decomposition.
    #[serde(default)]
    pub rows: Vec<YoyRow>,
}

/// One source in the year-on-year comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YoyRow {
    pub source: String,
    pub prev_kg_co2e: f64,
    pub curr_kg_co2e: f64,
    pub activity_effect_kg_co2e: f64,
    pub factor_effect_kg_co2e: f64,
}

/// The standing of an emission factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorStatus {
    /// Published by MOENV / Energy Administration for the year.
    Official,
    /// Used until the year's official value is published (暫用).
    Provisional,
    /// Not yet checked against its source (未查證).
    Unverified,
}

impl FactorStatus {
    /// zh-TW label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Official => "公告值",
            Self::Provisional => "暫用",
            Self::Unverified => "未查證",
        }
    }
}

/// One emission factor used in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorRef {
    /// "id@version", e.g. "electricity.tw@2024".
    pub id: String,
    /// zh-TW label, e.g. "113年度電力排碳係數".
    pub label: String,
    pub value: f64,
    /// e.g. "kgCO2e/kWh".
    pub unit: String,
    /// zh-TW source, e.g. "經濟部能源署 114年公告".
    pub source: String,
    pub status: FactorStatus,
}

/// Always stated in the notes.
pub const ROUNDING_NOTE: &str =
    "數值以四捨五入顯示；合計以未四捨五入數值計算，故各項加總可能與合計略有差異。";
/// Always stated in the notes.
pub const GWP_NOTE: &str =
    "全球暖化潛勢（GWP）採 IPCC 第五次評估報告（AR5）100 年值：CO2 = 1、CH4 = 28（化石燃料燃燒之 CH4 依環境部公告採 30）、N2O = 265。";
/// The cumulative share the hotspot section shows (Pareto 80%).
pub const HOTSPOT_THRESHOLD: f64 = 0.8;

/// zh-TW scope label ("範疇一"..), "範疇?" for an unknown number.
pub fn scope_label(scope: u8) -> &'static str {
    match scope {
        1 => "範疇一",
        2 => "範疇二",
        3 => "範疇三",
        _ => "範疇?",
    }
}

/// Short zh-TW category label ("類別1"..).
pub fn category_label(category: u8) -> String {
    if (1..=6).contains(&category) {
        format!("類別{category}")
    } else {
        "類別?".to_string()
    }
}

/// The scope names for chart legends.
pub const SCOPE_NAMES: [&str; 3] = [
    "範疇一 直接排放",
    "範疇二 能源間接排放",
    "範疇三 其他間接排放",
];

/// Chart colours of scopes 1..3 (hex, no '#'): the one palette of the dashboard, the
/// HTML report and the PDF.
pub const SCOPE_COLORS: [&str; 3] = ["2e7d32", "1565c0", "ef6c00"];

/// Colour of the hotspot bars, everywhere.
pub const HOTSPOT_COLOR: &str = "c62828";

/// A finite value or 0.
pub fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// `part / whole` as a share in 0..1; 0 when the whole is not positive.
pub fn share_of(part: f64, whole: f64) -> f64 {
    let (p, w) = (finite(part), finite(whole));
    if w > 0.0 {
        p / w
    } else {
        0.0
    }
}

/// Formats a number with `decimals` decimals and thousands separators ("12,345.68").
/// Non-finite values become "-".
pub fn fmt_num(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "-".to_string();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s.as_str(), None),
    };
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    // "-0.00" is shown as "0.00".
    let is_zero = s.chars().all(|c| c == '0' || c == '.');
    let mut out = String::new();
    if v < 0.0 && !is_zero {
        out.push('-');
    }
    out.push_str(&grouped);
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// Like `fmt_num` with a leading "+" for positive values (changes).
pub fn fmt_signed(v: f64, decimals: usize) -> String {
    let s = fmt_num(v, decimals);
    if v.is_finite() && v > 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        format!("+{s}")
    } else {
        s
    }
}

/// kg CO2e with 2 decimals.
pub fn fmt_kg(v: f64) -> String {
    fmt_num(v, 2)
}

/// A gas mass in kg: 4 decimals below 1 kg (CH4, N2O are small), else 2.
pub fn fmt_gas(v: f64) -> String {
    if v.is_finite() && v.abs() < 1.0 && v != 0.0 {
        fmt_num(v, 4)
    } else {
        fmt_num(v, 2)
    }
}

/// Tonnes CO2e with 3 decimals, from kg.
pub fn fmt_tonnes(kg: f64) -> String {
    fmt_num(finite(kg) / 1000.0, 3)
}

/// A factor value with about 6 significant digits and no trailing zeros ("0.474", "2.2631", "0.0000265").
pub fn fmt_sig(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let mag = v.abs().log10().floor();
    let decimals = (5.0 - mag).clamp(0.0, 12.0) as usize;
    let s = fmt_num(v, decimals);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A share 0..1 as a percentage with one decimal ("45.2%").
pub fn fmt_pct(share: f64) -> String {
    format!("{}%", fmt_num(finite(share) * 100.0, 1))
}

/// A year-on-year change of the total as a signed percentage ("+12.3%"), or "-" when
/// the previous year had nothing to compare with.
pub fn fmt_yoy_pct(y: &YearOnYear) -> String {
    if finite(y.prev_total_kg_co2e) > 0.0 {
        format!("{}%", fmt_signed(share_of(y.change_kg_co2e, y.prev_total_kg_co2e) * 100.0, 1))
    } else {
        "-".to_string()
    }
}

/// The hotspots to show: largest first, up to and including the source that reaches
/// `HOTSPOT_THRESHOLD` of the total; sources without emissions are left out.
pub fn pareto_hotspots(hotspots: &[Hotspot]) -> Vec<&Hotspot> {
    let mut sorted: Vec<&Hotspot> = hotspots
        .iter()
        .filter(|h| finite(h.kg_co2e) > 0.0)
        .collect();
    sorted.sort_by(|a, b| finite(b.kg_co2e).total_cmp(&finite(a.kg_co2e)));
    let mut out = Vec::new();
    for h in sorted {
        out.push(h);
        if finite(h.cumulative_share) >= HOTSPOT_THRESHOLD - 1e-9 {
            break;
        }
    }
    out
}

/// The notes a report shows: the model's notes, flag explanations when flags are
/// present, the exclusion when there is one, then the rounding and GWP notes.
pub fn all_notes(m: &ReportModel) -> Vec<String> {
    let mut notes: Vec<String> = m
        .notes
        .iter()
        .filter(|n| !n.trim().is_empty())
        .cloned()
        .collect();
    let provisional = m.inventory.iter().any(|r| r.provisional)
        || m.factor_refs
            .iter()
            .any(|f| f.status == FactorStatus::Provisional);
    let unverified = m.inventory.iter().any(|r| r.unverified)
        || m.factor_refs
            .iter()
            .any(|f| f.status == FactorStatus::Unverified);
    if provisional {
        notes.push(
            "標示「暫用」者，係數尚未公告本年度值，暫以最近公告值計算，公告後將重新計算。"
                .to_string(),
        );
    }
    if unverified {
        notes.push("標示「未查證」者，係數尚未與原始出處核對，請謹慎引用。".to_string());
    }
    if finite(m.excluded_kg_co2e) > 0.0 {
        notes.push(format!(
            "另有 {} kgCO2e（如 HCFC 類冷媒）依規定單獨揭露，未計入排放總量。",
            fmt_kg(m.excluded_kg_co2e)
        ));
    }
    notes.push(ROUNDING_NOTE.to_string());
    notes.push(GWP_NOTE.to_string());
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_with_grouping_and_rounding() {
        assert_eq!(fmt_num(1234567.891, 2), "1,234,567.89");
        assert_eq!(fmt_num(999.995, 2), "1,000.00");
        assert_eq!(fmt_num(0.0, 3), "0.000");
        assert_eq!(fmt_num(-0.0001, 2), "0.00");
        assert_eq!(fmt_num(-1234.5, 1), "-1,234.5");
        assert_eq!(fmt_num(123.0, 0), "123");
        assert_eq!(fmt_num(f64::NAN, 2), "-");
        assert_eq!(fmt_tonnes(12345.6), "12.346");
        assert_eq!(fmt_pct(0.4567), "45.7%");
        assert_eq!(fmt_signed(12.0, 1), "+12.0");
        assert_eq!(fmt_signed(-12.0, 1), "-12.0");
        assert_eq!(fmt_signed(0.0, 1), "0.0");
        assert_eq!(fmt_gas(0.00123), "0.0012");
        assert_eq!(fmt_gas(12.345), "12.35");
        assert_eq!(fmt_sig(0.474), "0.474");
        assert_eq!(fmt_sig(2.26313), "2.26313");
        assert_eq!(fmt_sig(0.0000265), "0.0000265");
        assert_eq!(fmt_sig(2088.0), "2,088");
        assert_eq!(fmt_sig(0.0), "0");
    }

    #[test]
    fn never_shows_a_negative_zero() {
        for v in [-0.0, -0.0004, -1e-12, -0.004999] {
            assert_eq!(fmt_num(v, 2), "0.00", "fmt_num({v})");
            assert_eq!(fmt_num(v, 0), "0", "fmt_num({v}, 0)");
            assert_eq!(fmt_kg(v), "0.00", "fmt_kg({v})");
            assert_eq!(fmt_signed(v, 2), "0.00", "fmt_signed({v})");
            assert_eq!(fmt_signed(v, 1), "0.0", "fmt_signed({v}, 1)");
            assert_eq!(fmt_tonnes(v), "0.000", "fmt_tonnes({v})");
            assert_eq!(fmt_pct(v / 100.0), "0.0%", "fmt_pct({v}%)");
        }
        for v in [-0.0, -0.0004, -1e-12] {
            assert_eq!(fmt_pct(v), "0.0%", "fmt_pct({v})");
        }
        assert_eq!(fmt_gas(-0.0), "0.00");
        assert_eq!(fmt_gas(-0.00004), "0.0000");
        assert_eq!(fmt_gas(-1e-12), "0.0000");
        // A tiny gas mass is shown, with its sign, since it has 4 decimals.
        assert_eq!(fmt_gas(-0.0004), "-0.0004");
        assert_eq!(fmt_sig(-0.0), "0");
        assert_eq!(fmt_sig(-1e-15), "0");
        assert_eq!(fmt_pct(-0.0004), "0.0%");
        assert_eq!(fmt_pct(-0.0006), "-0.1%");
        assert_eq!(fmt_signed(-0.005, 2), "-0.01");
        assert_eq!(fmt_signed(0.0004, 2), "0.00");
    }

    #[test]
    fn share_never_divides_by_zero() {
        assert_eq!(share_of(5.0, 0.0), 0.0);
        assert_eq!(share_of(f64::NAN, 10.0), 0.0);
        assert!((share_of(5.0, 20.0) - 0.25).abs() < 1e-12);
    }

    fn hs(source: &str, kg: f64, cum: f64) -> Hotspot {
        Hotspot {
            source: source.into(),
            kg_co2e: kg,
            share: 0.0,
            cumulative_share: cum,
        }
    }

    #[test]
    fn pareto_stops_at_the_source_reaching_80_percent() {
        let all = vec![
            hs("b", 30.0, 0.9),
            hs("a", 60.0, 0.6),
            hs("c", 10.0, 1.0),
            hs("z", 0.0, 1.0),
        ];
        let top: Vec<&str> = pareto_hotspots(&all)
            .iter()
            .map(|h| h.source.as_str())
            .collect();
        assert_eq!(top, vec!["a", "b"]);
        assert!(pareto_hotspots(&[]).is_empty());
    }

    #[test]
    fn notes_always_state_rounding_and_gwp_and_flags() {
        let m: ReportModel = serde_json::from_value(serde_json::json!({
            "company_name": "x", "tax_id": "12345678", "year": 2025, "generated_at": "t",
            "total_kg_co2e": 1.0, "excluded_kg_co2e": 0.0
        }))
        .expect("minimal model deserializes");
        let notes = all_notes(&m);
        assert!(notes.iter().any(|n| n.contains("四捨五入")));
        assert!(notes.iter().any(|n| n.contains("AR5")));
        assert!(!notes.iter().any(|n| n.contains("暫用")));
        let mut m2 = m.clone();
        m2.excluded_kg_co2e = 3.5;
        m2.factor_refs.push(FactorRef {
            id: "e@1".into(),
            label: "l".into(),
            value: 1.0,
            unit: "u".into(),
            source: "s".into(),
            status: FactorStatus::Provisional,
        });
        let notes = all_notes(&m2);
        assert!(notes.iter().any(|n| n.contains("暫用")));
        assert!(notes
            .iter()
            .any(|n| n.contains("3.50") && n.contains("未計入")));
    }
}
