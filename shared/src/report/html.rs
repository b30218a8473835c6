//! The printable zh-TW HTML report: one self-contained page (inline `<style>` and inline
//! SVG only, no scripts, no external assets), A4 print CSS with page breaks.

use crate::report::model::{
    all_notes, category_label, finite, fmt_gas, fmt_kg, fmt_num, fmt_pct, fmt_sig, fmt_signed,
    fmt_tonnes, pareto_hotspots, scope_label, share_of, FactorStatus, ReportModel, Slice,
    HOTSPOT_THRESHOLD, SCOPE_COLORS, SCOPE_NAMES,
};
use crate::report::svg::{horizontal_bars, stacked_bars, HBar, Series};

/// The section headings, in order (年度比較 only when there is a previous year).
pub const SECTIONS: [&str; 10] = [
    "封面資訊",
    "排放總量",
    "範疇別排放量",
    "類別別排放量",
    "月別趨勢",
    "排放熱區",
    "年度比較",
    "盤查清冊",
    "係數來源",
    "說明",
];

const CSS: &str = r#"
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
body { font-family: 'Noto Sans TC','Noto Sans CJK TC','Microsoft JhengHei','PingFang TC',sans-serif; color: #222; margin: 0; background: #f4f6f4; font-size: 11pt; line-height: 1.5; }
.report { max-width: 210mm; margin: 0 auto; background: #fff; padding: 14mm 12mm; }
h1 { font-size: 22pt; margin: 0 0 4mm; color: #1b5e20; }
h2 { font-size: 14pt; margin: 8mm 0 3mm; padding-bottom: 1mm; border-bottom: 2px solid #2e7d32; color: #1b5e20; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 4mm; }
th, td { border: 1px solid #bdbdbd; padding: 1.2mm 1.6mm; vertical-align: top; }
th { background: #e8f5e9; font-weight: bold; text-align: center; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tfoot td { font-weight: bold; background: #f1f8e9; }
table.kv th { width: 30%; text-align: left; }
table.inv { font-size: 8pt; }
table.inv th, table.inv td { padding: 0.8mm 1mm; }
.big { font-size: 26pt; font-weight: bold; color: #1b5e20; margin: 0; }
.muted { color: #666; font-size: 9pt; }
.flag { display: inline-block; border-radius: 2px; padding: 0 1mm; margin-left: 1mm; font-size: 7.5pt; font-weight: bold; white-space: nowrap; }
.flag.prov { background: #fff3e0; color: #e65100; border: 1px solid #e65100; }
.flag.unv { background: #ffebee; color: #b71c1c; border: 1px solid #b71c1c; }
.chart svg { width: 100%; height: auto; }
.pos { color: #b71c1c; } .neg { color: #1b5e20; }
ol.notes li { margin-bottom: 1mm; }
@media print {
  body { background: #fff; font-size: 10pt; }
  .report { max-width: none; padding: 0; }
  .page-break { break-before: page; page-break-before: always; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr, .chart { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  tfoot { display: table-footer-group; }
}
"#;

fn esc(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

fn num_td(s: &str) -> String {
    format!("<td class=\"num\">{}</td>", esc(s))
}

fn flags(provisional: bool, unverified: bool) -> String {
    let mut out = String::new();
    if provisional {
        out.push_str("<span class=\"flag prov\">暫用</span>");
    }
    if unverified {
        out.push_str("<span class=\"flag unv\">未查證</span>");
    }
    out
}

fn status_badge(status: FactorStatus) -> String {
    match status {
        FactorStatus::Official => esc(status.label()),
        FactorStatus::Provisional => flags(true, false),
        FactorStatus::Unverified => flags(false, true),
    }
}

fn signed_class(v: f64) -> &'static str {
    if finite(v) > 0.0 {
        "pos"
    } else if finite(v) < 0.0 {
        "neg"
    } else {
        ""
    }
}

fn breakdown_table(first_col: &str, slices: &[Slice], total: f64) -> String {
    let mut s = format!(
        "<table><thead><tr><th>{}</th><th>排放量（公噸CO2e）</th><th>排放量（kgCO2e）</th><th>占比</th></tr></thead><tbody>",
        esc(first_col)
    );
    if slices.is_empty() {
        s.push_str("<tr><td colspan=\"4\" class=\"muted\">無資料</td></tr>");
    }
    for sl in slices {
        s.push_str(&format!(
            "<tr><td>{}</td>{}{}{}</tr>",
            esc(&sl.label),
            num_td(&fmt_tonnes(sl.kg_co2e)),
            num_td(&fmt_kg(sl.kg_co2e)),
            num_td(&fmt_pct(share_of(sl.kg_co2e, total)))
        ));
    }
    s.push_str(&format!(
        "</tbody><tfoot><tr><td>合計</td>{}{}{}</tr></tfoot></table>",
        num_td(&fmt_tonnes(total)),
        num_td(&fmt_kg(total)),
        num_td(if finite(total) > 0.0 {
            "100.0%"
        } else {
            "0.0%"
        })
    ));
    s
}

/// The whole report as one HTML document.
pub fn report_html(m: &ReportModel) -> String {
    let total = finite(m.total_kg_co2e);
    let mut h = String::with_capacity(64 * 1024);
    h.push_str(&format!(
        "<!DOCTYPE html><html lang=\"zh-Hant-TW\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>溫室氣體盤查報告｜{}｜{} 年</title><style>{}</style></head><body><main class=\"report\">",
        esc(&m.company_name),
        m.year,
        CSS
    ));

    // 封面資訊
    h.push_str(&format!(
        "<section id=\"cover\"><h1>{} 年度溫室氣體盤查報告</h1><h2>封面資訊</h2><table class=\"kv\"><tbody><tr><th>公司名稱</th><td>{}</td></tr><tr><th>統一編號</th><td>{}</td></tr><tr><th>盤查年度</th><td>{} 年（1 月 1 日至 12 月 31 日）</td></tr><tr><th>產製時間</th><td>{}</td></tr><tr><th>依據</th><td>ISO 14064-1:2018；環境部溫室氣體排放係數；GWP 採 IPCC AR5</td></tr></tbody></table></section>",
        m.year,
        esc(&m.company_name),
        esc(&m.tax_id),
        m.year,
        esc(&m.generated_at)
    ));

    // 排放總量
    h.push_str(&format!(
        "<section id=\"total\"><h2>排放總量</h2><p class=\"big\">{} 公噸CO2e</p><p>（{} kgCO2e）</p>",
        fmt_tonnes(total),
        fmt_kg(total)
    ));
    if finite(m.excluded_kg_co2e) > 0.0 {
        h.push_str(&format!(
            "<p class=\"muted\">另揭露（未計入總量）：{} 公噸CO2e（{} kgCO2e），如 HCFC 類冷媒。</p>",
            fmt_tonnes(m.excluded_kg_co2e),
            fmt_kg(m.excluded_kg_co2e)
        ));
    }
    h.push_str("</section>");

    // 範疇別 / 類別別
    h.push_str("<section id=\"by-scope\"><h2>範疇別排放量</h2>");
    h.push_str(&breakdown_table("範疇", &m.by_scope, total));
    h.push_str("</section><section id=\"by-category\"><h2>類別別排放量</h2>");
    h.push_str(&breakdown_table(
        "類別（ISO 14064-1）",
        &m.by_category,
        total,
    ));
    h.push_str("</section>");

    // 月別趨勢
    let months: Vec<String> = m.monthly.iter().map(|b| b.month.clone()).collect();
    let values: Vec<Vec<f64>> = m.monthly.iter().map(|b| b.by_scope_kg.to_vec()).collect();
    let series: Vec<Series> = SCOPE_NAMES
        .iter()
        .zip(SCOPE_COLORS)
        .map(|(l, c)| Series {
            label: l.to_string(),
            color: c.to_string(),
        })
        .collect();
    h.push_str(
        "<section id=\"monthly\" class=\"page-break\"><h2>月別趨勢</h2><div class=\"chart\">",
    );
    h.push_str(&stacked_bars(
        &format!("{} 年各月排放量（依範疇堆疊）", m.year),
        "kgCO2e",
        &months,
        &series,
        &values,
    ));
    h.push_str("</div><p class=\"muted\">各月排放量依單據計費期間分攤至月份。</p></section>");

    // 排放熱區
    let top = pareto_hotspots(&m.hotspots);
    let bars: Vec<HBar> = top
        .iter()
        .map(|t| HBar {
            label: t.source.clone(),
            value: t.kg_co2e,
            note: format!("{}｜累計 {}", fmt_pct(t.share), fmt_pct(t.cumulative_share)),
        })
        .collect();
    h.push_str(&format!(
        "<section id=\"hotspots\"><h2>排放熱區</h2><p>累計占比達 {} 之主要排放源（共 {} 項排放源中的 {} 項），宜優先採取減量措施。</p><div class=\"chart\">",
        fmt_pct(HOTSPOT_THRESHOLD),
        m.hotspots.len(),
        top.len()
    ));
    h.push_str(&horizontal_bars(
        "排放熱區（柏拉圖）",
        "kgCO2e",
        "排放量（kgCO2e）",
        crate::report::model::HOTSPOT_COLOR,
        &bars,
    ));
    h.push_str("</div><table><thead><tr><th>排放源</th><th>排放量（kgCO2e）</th><th>占比</th><th>累計占比</th></tr></thead><tbody>");
    if top.is_empty() {
        h.push_str("<tr><td colspan=\"4\" class=\"muted\">無資料</td></tr>");
    }
    for t in &top {
        h.push_str(&format!(
            "<tr><td>{}</td>{}{}{}</tr>",
            esc(&t.source),
            num_td(&fmt_kg(t.kg_co2e)),
            num_td(&fmt_pct(t.share)),
            num_td(&fmt_pct(t.cumulative_share))
        ));
    }
    h.push_str("</tbody></table></section>");

    // 年度比較
    if let Some(y) = &m.yoy {
        let pct = if finite(y.prev_total_kg_co2e) > 0.0 {
            format!(
                "{}%",
                fmt_signed(share_of(y.change_kg_co2e, y.prev_total_kg_co2e) * 100.0, 1)
            )
        } else {
            "-".to_string()
        };
        h.push_str(&format!(
            "<section id=\"yoy\"><h2>年度比較</h2><p>與 {} 年比較：排放量變動 <strong class=\"{}\">{} kgCO2e（{}）</strong>，其中活動量變動造成 {} kgCO2e，排放係數變動造成 {} kgCO2e。</p><table><thead><tr><th>項目</th><th>{} 年（kgCO2e）</th><th>{} 年（kgCO2e）</th><th>變動</th><th>活動量效應</th><th>係數效應</th></tr></thead><tbody>",
            y.prev_year,
            signed_class(y.change_kg_co2e),
            fmt_signed(y.change_kg_co2e, 2),
            pct,
            fmt_signed(y.activity_effect_kg_co2e, 2),
            fmt_signed(y.factor_effect_kg_co2e, 2),
            y.prev_year,
            m.year
        ));
        for r in &y.rows {
            let change = finite(r.curr_kg_co2e) - finite(r.prev_kg_co2e);
            h.push_str(&format!(
                "<tr><td>{}</td>{}{}<td class=\"num {}\">{}</td>{}{}</tr>",
                esc(&r.source),
                num_td(&fmt_kg(r.prev_kg_co2e)),
                num_td(&fmt_kg(r.curr_kg_co2e)),
                signed_class(change),
                fmt_signed(change, 2),
                num_td(&fmt_signed(r.activity_effect_kg_co2e, 2)),
                num_td(&fmt_signed(r.factor_effect_kg_co2e, 2))
            ));
        }
        h.push_str(&format!(
            "</tbody><tfoot><tr><td>合計</td>{}{}<td class=\"num {}\">{}</td>{}{}</tr></tfoot></table></section>",
            num_td(&fmt_kg(y.prev_total_kg_co2e)),
            num_td(&fmt_kg(total)),
            signed_class(y.change_kg_co2e),
            fmt_signed(y.change_kg_co2e, 2),
            num_td(&fmt_signed(y.activity_effect_kg_co2e, 2)),
            num_td(&fmt_signed(y.factor_effect_kg_co2e, 2))
        ));
    }

    // 盤查清冊
    h.push_str("<section id=\"inventory\" class=\"page-break\"><h2>盤查清冊</h2><p class=\"muted\">參照環境部溫室氣體盤查表單表二、表三欄位；CH4、N2O 為氣體質量，其他溫室氣體以 CO2e 表示。</p><table class=\"inv\"><thead><tr><th>排放源</th><th>範疇</th><th>類別</th><th>活動數據</th><th>單位</th><th>排放係數</th><th>CO2（kg）</th><th>CH4（kg）</th><th>N2O（kg）</th><th>其他（kgCO2e）</th><th>CO2e（kg）</th><th>占比</th></tr></thead><tbody>");
    if m.inventory.is_empty() {
        h.push_str("<tr><td colspan=\"12\" class=\"muted\">無資料</td></tr>");
    }
    for r in &m.inventory {
        let mut source = esc(&r.source);
        if let Some(d) = r.detail.as_deref().filter(|d| !d.trim().is_empty()) {
            source.push_str(&format!("<br><span class=\"muted\">{}</span>", esc(d)));
        }
        if r.documents > 0 {
            source.push_str(&format!(
                "<br><span class=\"muted\">單據 {} 張</span>",
                r.documents
            ));
        }
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td><td>{}{}</td>{}{}{}{}{}{}</tr>",
            source,
            scope_label(r.scope),
            esc(&category_label(r.category)),
            num_td(&fmt_num(r.quantity, 2)),
            esc(&r.unit),
            esc(&r.factor_text),
            flags(r.provisional, r.unverified),
            num_td(&fmt_kg(r.co2_kg)),
            num_td(&fmt_gas(r.ch4_kg)),
            num_td(&fmt_gas(r.n2o_kg)),
            num_td(&fmt_kg(r.other_kg_co2e)),
            num_td(&fmt_kg(r.kg_co2e)),
            num_td(&fmt_pct(r.share))
        ));
    }
    h.push_str(&format!(
        "</tbody><tfoot><tr><td colspan=\"10\">合計（{} 項排放源）</td>{}{}</tr></tfoot></table></section>",
        m.inventory.len(),
        num_td(&fmt_kg(total)),
        num_td(if total > 0.0 { "100.0%" } else { "0.0%" })
    ));

    // 係數來源
    h.push_str("<section id=\"factors\"><h2>係數來源</h2><table><thead><tr><th>係數編號</th><th>名稱</th><th>係數值</th><th>單位</th><th>來源</th><th>狀態</th></tr></thead><tbody>");
    if m.factor_refs.is_empty() {
        h.push_str("<tr><td colspan=\"6\" class=\"muted\">無資料</td></tr>");
    }
    for f in &m.factor_refs {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td>{}<td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.id),
            esc(&f.label),
            num_td(&fmt_sig(f.value)),
            esc(&f.unit),
            esc(&f.source),
            status_badge(f.status)
        ));
    }
    h.push_str("</tbody></table></section>");

    // 說明
    h.push_str("<section id=\"notes\"><h2>說明</h2><ol class=\"notes\">");
    for note in all_notes(m) {
        h.push_str(&format!("<li>{}</li>", esc(&note)));
    }
    h.push_str("</ol></section></main></body></html>");
    h
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::model::{FactorRef, Hotspot, InventoryRow, MonthBar, YearOnYear, YoyRow};
    use crate::report::svg::check_balanced;

    /// A realistic model shared with the PDF tests.
    pub(crate) fn sample_model() -> ReportModel {
        let monthly: Vec<MonthBar> = (1..=12)
            .map(|mo| MonthBar {
                month: format!("2025-{mo:02}"),
                by_scope_kg: [
                    420.0 + mo as f64 * 3.0,
                    900.0 + if (6..=9).contains(&mo) { 450.0 } else { 0.0 },
                    8.5,
                ],
            })
            .collect();
        let s1: f64 = monthly.iter().map(|b| b.by_scope_kg[0]).sum();
        let s2: f64 = monthly.iter().map(|b| b.by_scope_kg[1]).sum();
        let s3: f64 = monthly.iter().map(|b| b.by_scope_kg[2]).sum();
        let total = s1 + s2 + s3;
        let gasoline = s1 * 0.7;
        let lpg = s1 - gasoline;
        let row = |scope,
                   category,
                   source: &str,
                   detail: Option<&str>,
                   quantity,
                   unit: &str,
                   factor: &str,
                   kg: f64| InventoryRow {
            scope,
            category,
            source: source.into(),
            detail: detail.map(str::to_string),
            quantity,
            unit: unit.into(),
            factor_text: factor.into(),
            co2_kg: kg * 0.99,
            ch4_kg: kg * 0.0001,
            n2o_kg: kg * 0.00002,
            other_kg_co2e: 0.0,
            kg_co2e: kg,
            share: kg / total,
            provisional: false,
            unverified: false,
            documents: 12,
        };
        let mut elec = row(
            2,
            2,
            "外購電力",
            Some("台電 電號 01-2345-67"),
            s2 / 0.474,
            "kWh",
            "0.474 kgCO2e/kWh",
            s2,
        );
        elec.provisional = true;
        let mut water = row(
            3,
            4,
            "自來水",
            Some("台水 水號 5-12-345678-9"),
            s3 / 0.156,
            "m³",
            "0.156 kgCO2e/m³",
            s3,
        );
        water.unverified = true;
        let inventory = vec![
            elec,
            row(
                1,
                1,
                "車用汽油",
                Some("95無鉛汽油"),
                gasoline / 2.361,
                "公升",
                "2.361 kgCO2e/L",
                gasoline,
            ),
            row(
                1,
                1,
                "液化石油氣（桶裝瓦斯）",
                None,
                lpg / 3.0,
                "公斤",
                "3.000 kgCO2e/kg",
                lpg,
            ),
            water,
        ];
        let mut hot: Vec<(String, f64)> = inventory
            .iter()
            .map(|r| (r.source.clone(), r.kg_co2e))
            .collect();
        hot.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut cum = 0.0;
        let hotspots = hot
            .into_iter()
            .map(|(source, kg)| {
                cum += kg / total;
                Hotspot {
                    source,
                    kg_co2e: kg,
                    share: kg / total,
                    cumulative_share: cum,
                }
            })
            .collect();
        ReportModel {
            company_name: "綠光示範企業股份有限公司".into(),
            tax_id: "24536806".into(),
            year: 2025,
            generated_at: "2026-11-24 10:00 (台北時間)".into(),
            generated_on: chrono::DateTime::from_timestamp(1_795_485_600, 0).expect("date"),
            total_kg_co2e: total,
            excluded_kg_co2e: 1276.0,
            by_scope: vec![
                Slice {
                    label: SCOPE_NAMES[0].into(),
                    kg_co2e: s1,
                },
                Slice {
                    label: SCOPE_NAMES[1].into(),
                    kg_co2e: s2,
                },
                Slice {
                    label: SCOPE_NAMES[2].into(),
                    kg_co2e: s3,
                },
            ],
            by_category: vec![
                Slice {
                    label: "類別1 直接溫室氣體排放".into(),
                    kg_co2e: s1,
                },
                Slice {
                    label: "類別2 輸入能源之間接排放".into(),
                    kg_co2e: s2,
                },
                Slice {
                    label: "類別4 組織使用產品之間接排放".into(),
                    kg_co2e: s3,
                },
            ],
            monthly,
            hotspots,
            inventory,
            yoy: Some(YearOnYear {
                prev_year: 2024,
                prev_total_kg_co2e: total * 0.95,
                change_kg_co2e: total * 0.05,
                activity_effect_kg_co2e: total * 0.08,
                factor_effect_kg_co2e: -total * 0.03,
                rows: vec![YoyRow {
                    source: "外購電力".into(),
                    prev_kg_co2e: s2 * 0.9,
                    curr_kg_co2e: s2,
                    activity_effect_kg_co2e: s2 * 0.13,
                    factor_effect_kg_co2e: -s2 * 0.03,
                }],
            }),
            notes: vec![
                "2025 年電力排碳係數尚未公告，暫用 2024 年公告值 0.474 kgCO2e/kWh。".into(),
            ],
            factor_refs: vec![
                FactorRef {
                    id: "electricity.tw@2024".into(),
                    label: "113年度電力排碳係數".into(),
                    value: 0.474,
                    unit: "kgCO2e/kWh".into(),
                    source: "經濟部能源署 114年公告".into(),
                    status: FactorStatus::Provisional,
                },
                FactorRef {
                    id: "gasoline@moenv-2024".into(),
                    label: "車用汽油".into(),
                    value: 2.361,
                    unit: "kgCO2e/L".into(),
                    source: "環境部溫室氣體排放係數管理表 6.0.4 版".into(),
                    status: FactorStatus::Official,
                },
            ],
        }
    }

    pub(crate) fn zero_model() -> ReportModel {
        ReportModel {
            company_name: "零排放測試社".into(),
            tax_id: "00000000".into(),
            year: 2025,
            generated_at: "t".into(),
            generated_on: Default::default(),
            total_kg_co2e: 0.0,
            excluded_kg_co2e: 0.0,
            by_scope: SCOPE_NAMES
                .iter()
                .map(|l| Slice {
                    label: l.to_string(),
                    kg_co2e: 0.0,
                })
                .collect(),
            by_category: vec![],
            monthly: (1..=12)
                .map(|mo| MonthBar {
                    month: format!("2025-{mo:02}"),
                    by_scope_kg: [0.0; 3],
                })
                .collect(),
            hotspots: vec![],
            inventory: vec![],
            yoy: Some(YearOnYear {
                prev_year: 2024,
                prev_total_kg_co2e: 0.0,
                change_kg_co2e: 0.0,
                activity_effect_kg_co2e: 0.0,
                factor_effect_kg_co2e: 0.0,
                rows: vec![],
            }),
            notes: vec![],
            factor_refs: vec![],
        }
    }

    #[test]
    fn has_every_section_and_the_figures() {
        let m = sample_model();
        let html = report_html(&m);
        for heading in SECTIONS {
            assert!(
                html.contains(&format!("<h2>{heading}</h2>")),
                "missing {heading}"
            );
        }
        assert!(html.contains(&m.company_name) && html.contains("24536806"));
        assert!(html.contains(&format!("{} 公噸CO2e", fmt_tonnes(m.total_kg_co2e))));
        assert!(html.contains(&format!("{} kgCO2e", fmt_kg(m.total_kg_co2e))));
        assert!(html.contains("<span class=\"flag prov\">暫用</span>"));
        assert!(html.contains("<span class=\"flag unv\">未查證</span>"));
        assert!(html.contains("四捨五入") && html.contains("AR5"));
        assert!(html.contains("@media print") && html.contains("size: A4"));
        assert!(html.contains("<svg") && !html.contains("<script") && !html.contains("src="));
        assert!(!html.contains("NaN"));
        // Hotspots: electricity (70%) is below 80%, electricity + gasoline (90.5%) reach it.
        assert!(html.contains("共 4 項排放源中的 2 項"), "pareto count");
        check_balanced(&html).expect("balanced HTML");
    }

    #[test]
    fn year_comparison_only_when_present() {
        let mut m = sample_model();
        m.yoy = None;
        let html = report_html(&m);
        assert!(!html.contains("<h2>年度比較</h2>"));
        assert!(html.contains("<h2>盤查清冊</h2>"));
    }

    #[test]
    fn escapes_user_text() {
        let mut m = sample_model();
        m.company_name = "<script>alert(1)</script>".into();
        m.inventory[0].source = "<img src=x onerror=alert(1)>".into();
        m.notes.push("a & b <i>".into());
        let html = report_html(&m);
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("a &amp; b &lt;i&gt;"));
        check_balanced(&html).expect("balanced HTML");
    }

    #[test]
    fn all_zero_model_has_no_nan() {
        let html = report_html(&zero_model());
        assert!(
            !html.contains("NaN") && !html.contains("inf"),
            "NaN in zero model"
        );
        assert!(html.contains("0.000 公噸CO2e"));
        check_balanced(&html).expect("balanced HTML");
    }
}
