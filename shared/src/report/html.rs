//! The printable zh-TW HTML report: one maud template (escaping on by default) with the
//! charts as inline SVG, no scripts. Its look, A4 print rules and page breaks included,
//! lives in the one stylesheet (`shared/assets/app.css`, the section "The printable
//! report"), which the page links; the body has class `report-doc` so those rules touch
//! no other page.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::report::model::{
    all_notes, category_label, finite, fmt_gas, fmt_kg, fmt_num, fmt_pct, fmt_sig, fmt_signed,
    fmt_tonnes, pareto_hotspots, scope_label, share_of, FactorStatus, ReportModel, Slice,
    HOTSPOT_COLOR, HOTSPOT_THRESHOLD, SCOPE_COLORS, SCOPE_NAMES,
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

/// A chart from `crate::report::svg`, which escapes its own text: the only markup this
/// file does not build with the template.
fn chart(svg: String) -> Markup {
    html! { div.chart { (PreEscaped(svg)) } }
}

fn num_td(s: &str) -> Markup {
    html! { td.num { (s) } }
}

/// A signed change, coloured by the sign that is shown (a change that rounds to zero
/// gets no colour).
fn signed_td(v: f64) -> Markup {
    let s = fmt_signed(v, 2);
    let class = match sign_class(&s) {
        Some(sign) => format!("num {sign}"),
        None => "num".to_string(),
    };
    html! { td class=(class) { (s) } }
}

/// "pos" or "neg" for a formatted signed number, none when it shows as zero or "-".
fn sign_class(shown: &str) -> Option<&'static str> {
    if shown.starts_with('+') {
        Some("pos")
    } else if shown.starts_with('-') && shown.len() > 1 {
        Some("neg")
    } else {
        None
    }
}

fn flags(provisional: bool, unverified: bool) -> Markup {
    html! {
        @if provisional { span.flag.prov { "暫用" } }
        @if unverified { span.flag.unv { "未查證" } }
    }
}

fn status_badge(status: FactorStatus) -> Markup {
    match status {
        FactorStatus::Official => html! { (status.label()) },
        FactorStatus::Provisional => flags(true, false),
        FactorStatus::Unverified => flags(false, true),
    }
}

/// The share shown in a total row.
fn total_share(total: f64) -> &'static str {
    if finite(total) > 0.0 {
        "100.0%"
    } else {
        "0.0%"
    }
}

fn breakdown_table(first_col: &str, slices: &[Slice], total: f64) -> Markup {
    html! {
        table {
            thead {
                tr {
                    th scope="col" { (first_col) }
                    th scope="col" { "排放量（公噸CO2e）" }
                    th scope="col" { "排放量（kgCO2e）" }
                    th scope="col" { "占比" }
                }
            }
            tbody {
                @if slices.is_empty() {
                    tr { td.muted colspan="4" { "無資料" } }
                }
                @for sl in slices {
                    tr {
                        td { (sl.label) }
                        (num_td(&fmt_tonnes(sl.kg_co2e)))
                        (num_td(&fmt_kg(sl.kg_co2e)))
                        (num_td(&fmt_pct(share_of(sl.kg_co2e, total))))
                    }
                }
            }
            tfoot {
                tr {
                    th scope="row" { "合計" }
                    (num_td(&fmt_tonnes(total)))
                    (num_td(&fmt_kg(total)))
                    (num_td(total_share(total)))
                }
            }
        }
    }
}

fn cover(m: &ReportModel) -> Markup {
    html! {
        section #cover {
            h1 { (m.year) " 年度溫室氣體盤查報告" }
            h2 { "封面資訊" }
            table.kv {
                tbody {
                    tr { th scope="row" { "公司名稱" } td { (m.company_name) } }
                    tr { th scope="row" { "統一編號" } td { (m.tax_id) } }
                    tr { th scope="row" { "盤查年度" } td { (m.year) " 年（1 月 1 日至 12 月 31 日）" } }
                    tr { th scope="row" { "產製時間" } td { (m.generated_at) } }
                    tr { th scope="row" { "依據" } td { "ISO 14064-1:2018；環境部溫室氣體排放係數；GWP 採 IPCC AR5" } }
                }
            }
        }
    }
}

fn totals(m: &ReportModel, total: f64) -> Markup {
    html! {
        section #total {
            h2 { "排放總量" }
            p.big { (fmt_tonnes(total)) " 公噸CO2e" }
            p { "（" (fmt_kg(total)) " kgCO2e）" }
            @if finite(m.excluded_kg_co2e) > 0.0 {
                p.muted {
                    "另揭露（未計入總量）：" (fmt_tonnes(m.excluded_kg_co2e)) " 公噸CO2e（"
                    (fmt_kg(m.excluded_kg_co2e)) " kgCO2e），如 HCFC 類冷媒。"
                }
            }
        }
    }
}

fn monthly(m: &ReportModel) -> Markup {
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
    let svg = stacked_bars(
        &format!("{} 年各月排放量（依範疇堆疊）", m.year),
        "kgCO2e",
        &months,
        &series,
        &values,
    );
    html! {
        section #monthly .page-break {
            h2 { "月別趨勢" }
            (chart(svg))
            p.muted { "各月排放量依單據計費期間分攤至月份。" }
        }
    }
}

fn hotspots(m: &ReportModel) -> Markup {
    let top = pareto_hotspots(&m.hotspots);
    let bars: Vec<HBar> = top
        .iter()
        .map(|t| HBar {
            label: t.source.clone(),
            value: t.kg_co2e,
            note: format!("{}｜累計 {}", fmt_pct(t.share), fmt_pct(t.cumulative_share)),
        })
        .collect();
    let svg = horizontal_bars(
        "排放熱區（柏拉圖）",
        "kgCO2e",
        "排放量（kgCO2e）",
        HOTSPOT_COLOR,
        &bars,
    );
    html! {
        section #hotspots {
            h2 { "排放熱區" }
            p {
                "累計占比達 " (fmt_pct(HOTSPOT_THRESHOLD)) " 之主要排放源（共 " (m.hotspots.len())
                " 項排放源中的 " (top.len()) " 項），宜優先採取減量措施。"
            }
            (chart(svg))
            table {
                thead {
                    tr {
                        th scope="col" { "排放源" }
                        th scope="col" { "排放量（kgCO2e）" }
                        th scope="col" { "占比" }
                        th scope="col" { "累計占比" }
                    }
                }
                tbody {
                    @if top.is_empty() {
                        tr { td.muted colspan="4" { "無資料" } }
                    }
                    @for t in &top {
                        tr {
                            td { (t.source) }
                            (num_td(&fmt_kg(t.kg_co2e)))
                            (num_td(&fmt_pct(t.share)))
                            (num_td(&fmt_pct(t.cumulative_share)))
                        }
                    }
                }
            }
        }
    }
}

fn year_on_year(m: &ReportModel, total: f64) -> Markup {
    let Some(y) = &m.yoy else {
        return html! {};
    };
    let pct = crate::report::model::fmt_yoy_pct(y);
    let change = fmt_signed(y.change_kg_co2e, 2);
    html! {
        section #yoy {
            h2 { "年度比較" }
            p {
                "與 " (y.prev_year) " 年比較：排放量變動 "
                strong class=[sign_class(&change)] {
                    (change) " kgCO2e（" (pct) "）"
                }
                "，其中活動量變動造成 " (fmt_signed(y.activity_effect_kg_co2e, 2))
                " kgCO2e，排放係數變動造成 " (fmt_signed(y.factor_effect_kg_co2e, 2)) " kgCO2e。"
            }
            table {
                thead {
                    tr {
                        th scope="col" { "項目" }
                        th scope="col" { (y.prev_year) " 年（kgCO2e）" }
                        th scope="col" { (m.year) " 年（kgCO2e）" }
                        th scope="col" { "變動" }
                        th scope="col" { "活動量效應" }
                        th scope="col" { "係數效應" }
                    }
                }
                tbody {
                    @for r in &y.rows {
                        tr {
                            td { (r.source) }
                            (num_td(&fmt_kg(r.prev_kg_co2e)))
                            (num_td(&fmt_kg(r.curr_kg_co2e)))
                            (signed_td(finite(r.curr_kg_co2e) - finite(r.prev_kg_co2e)))
                            (num_td(&fmt_signed(r.activity_effect_kg_co2e, 2)))
                            (num_td(&fmt_signed(r.factor_effect_kg_co2e, 2)))
                        }
                    }
                }
                tfoot {
                    tr {
                        th scope="row" { "合計" }
                        (num_td(&fmt_kg(y.prev_total_kg_co2e)))
                        (num_td(&fmt_kg(total)))
                        (signed_td(y.change_kg_co2e))
                        (num_td(&fmt_signed(y.activity_effect_kg_co2e, 2)))
                        (num_td(&fmt_signed(y.factor_effect_kg_co2e, 2)))
                    }
                }
            }
        }
    }
}

/// The inventory columns, in order.
const INVENTORY_COLUMNS: [&str; 12] = [
    "排放源",
    "範疇",
    "類別",
    "活動數據",
    "單位",
    "排放係數",
    "CO2（kg）",
    "CH4（kg）",
    "N2O（kg）",
    "其他（kgCO2e）",
    "CO2e（kg）",
    "占比",
];

fn inventory(m: &ReportModel, total: f64) -> Markup {
    html! {
        section #inventory .page-break {
            h2 { "盤查清冊" }
            p.muted { "參照環境部溫室氣體盤查表單表二、表三欄位；CH4、N2O 為氣體質量，其他溫室氣體以 CO2e 表示。" }
            table.inv {
                thead {
                    tr {
                        @for c in INVENTORY_COLUMNS { th scope="col" { (c) } }
                    }
                }
                tbody {
                    @if m.inventory.is_empty() {
                        tr { td.muted colspan=(INVENTORY_COLUMNS.len()) { "無資料" } }
                    }
                    @for r in &m.inventory {
                        tr {
                            td {
                                (r.source)
                                @if let Some(d) = r.detail.as_deref().filter(|d| !d.trim().is_empty()) {
                                    br;
                                    span.muted { (d) }
                                }
                                @if r.documents > 0 {
                                    br;
                                    span.muted { "單據 " (r.documents) " 張" }
                                }
                            }
                            td { (scope_label(r.scope)) }
                            td { (category_label(r.category)) }
                            (num_td(&fmt_num(r.quantity, 2)))
                            td { (r.unit) }
                            td { (r.factor_text) (flags(r.provisional, r.unverified)) }
                            (num_td(&fmt_kg(r.co2_kg)))
                            (num_td(&fmt_gas(r.ch4_kg)))
                            (num_td(&fmt_gas(r.n2o_kg)))
                            (num_td(&fmt_kg(r.other_kg_co2e)))
                            (num_td(&fmt_kg(r.kg_co2e)))
                            (num_td(&fmt_pct(r.share)))
                        }
                    }
                }
                tfoot {
                    tr {
                        th scope="row" colspan=(INVENTORY_COLUMNS.len() - 2) {
                            "合計（" (m.inventory.len()) " 項排放源）"
                        }
                        (num_td(&fmt_kg(total)))
                        (num_td(total_share(total)))
                    }
                }
            }
        }
    }
}

fn factors(m: &ReportModel) -> Markup {
    html! {
        section #factors {
            h2 { "係數來源" }
            table {
                thead {
                    tr {
                        th scope="col" { "係數編號" }
                        th scope="col" { "名稱" }
                        th scope="col" { "係數值" }
                        th scope="col" { "單位" }
                        th scope="col" { "來源" }
                        th scope="col" { "狀態" }
                    }
                }
                tbody {
                    @if m.factor_refs.is_empty() {
                        tr { td.muted colspan="6" { "無資料" } }
                    }
                    @for f in &m.factor_refs {
                        tr {
                            td { (f.id) }
                            td { (f.label) }
                            (num_td(&fmt_sig(f.value)))
                            td { (f.unit) }
                            td { (f.source) }
                            td { (status_badge(f.status)) }
                        }
                    }
                }
            }
        }
    }
}

fn notes(m: &ReportModel) -> Markup {
    html! {
        section #notes {
            h2 { "說明" }
            ol.notes {
                @for note in all_notes(m) { li { (note) } }
            }
        }
    }
}

/// The whole report as one HTML document.
pub fn report_html(m: &ReportModel) -> String {
    let total = finite(m.total_kg_co2e);
    html! {
        (DOCTYPE)
        html lang="zh-Hant-TW" {
            (crate::web::layout::head(&format!("溫室氣體盤查報告｜{}｜{} 年", m.company_name, m.year)))
            body.report-doc {
                main.report {
                    (cover(m))
                    (totals(m, total))
                    section #by-scope {
                        h2 { "範疇別排放量" }
                        (breakdown_table("範疇", &m.by_scope, total))
                    }
                    section #by-category {
                        h2 { "類別別排放量" }
                        (breakdown_table("類別（ISO 14064-1）", &m.by_category, total))
                    }
                    (monthly(m))
                    (hotspots(m))
                    (year_on_year(m, total))
                    (inventory(m, total))
                    (factors(m))
                    (notes(m))
                }
            }
        }
    }
    .into_string()
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
        assert!(html.contains("<svg") && !html.contains("<script") && !html.contains("src="));
        assert!(!html.contains("NaN"));
        // Hotspots: electricity (70%) is below 80%, electricity + gasoline (90.5%) reach it.
        assert!(html.contains("共 4 項排放源中的 2 項"), "pareto count");
        check_balanced(&html).expect("balanced HTML");
    }

    /// The report section of the one stylesheet.
    fn report_css() -> &'static str {
        let css = crate::web::layout::STYLESHEET;
        let at = css
            .find("/* The printable report (/carbon/report). */")
            .expect("the report section of app.css");
        &css[at..]
    }

    #[test]
    fn links_the_one_stylesheet_and_has_no_inline_css() {
        let html = report_html(&sample_model());
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"zh-Hant-TW\">"));
        assert!(!html.contains("<style"), "no inline <style>");
        assert!(!html.contains("style="), "no style attributes");
        let link = format!(
            "<link rel=\"stylesheet\" href=\"{}\">",
            crate::web::layout::stylesheet_href()
        );
        assert_eq!(html.matches(&link).count(), 1, "links app.css once");
        assert!(html.contains("<body class=\"report-doc\"><main class=\"report\">"));
        let css = report_css();
        assert!(css.contains("size: A4") && css.contains("@media print"));
        assert!(css.contains("break-before: page"));
    }

    #[test]
    fn report_css_is_scoped_to_the_report() {
        // Every selector of the section starts with body.report-doc or .report, so the rules
        // cannot touch another page (at-rules and comments aside).
        let css = report_css();
        let mut depth = 0usize;
        let mut selector = String::new();
        let mut in_comment = false;
        let chars: Vec<char> = css.chars().collect();
        let mut i = 0;
        let mut checked = 0;
        while i < chars.len() {
            let c = chars[i];
            if in_comment {
                if c == '*' && chars.get(i + 1) == Some(&'/') {
                    in_comment = false;
                    i += 1;
                }
            } else if c == '/' && chars.get(i + 1) == Some(&'*') {
                in_comment = true;
                i += 1;
            } else if c == '{' {
                let sel = selector.trim();
                if sel.starts_with("@media") {
                    // A block of rules: its selectors are checked one by one.
                } else if sel.starts_with("@page") {
                    assert!(sel != "@page", "an unnamed @page would size every page");
                } else if depth == 0 || sel.chars().next().is_some_and(|c| c != '@') {
                    for part in sel.split(',') {
                        let part = part.trim();
                        assert!(
                            part.starts_with("body.report-doc") || part.starts_with(".report"),
                            "unscoped selector {part:?}"
                        );
                        checked += 1;
                    }
                }
                depth += 1;
                selector.clear();
            } else if c == '}' {
                depth = depth.saturating_sub(1);
                selector.clear();
            } else if c == ';' {
                selector.clear();
            } else {
                selector.push(c);
            }
            i += 1;
        }
        assert!(checked > 20, "found the rules ({checked})");
    }

    #[test]
    fn user_text_with_script_and_quotes_is_escaped() {
        let mut m = sample_model();
        m.company_name = "\"綠光\" <script>alert('x')</script> & Co.".into();
        m.by_scope[0].label = "<b onclick=\"x()\">範疇一</b>".into();
        m.by_category[0].label = "類別1 \"<script>\"".into();
        m.factor_refs[0].label = "<script src=\"//evil\"></script>".into();
        m.factor_refs[0].unit = "kg\"/><svg onload=alert(1)>".into();
        m.inventory[1].detail = Some("\"><script>x</script>".into());
        m.inventory[1].unit = "<u>L</u>".into();
        m.hotspots[0].source = "<script>hot</script>".into();
        m.yoy.as_mut().expect("yoy").rows[0].source = "</td></tr></table>".into();
        let html = report_html(&m);
        assert!(!html.contains("<script"), "no script tag");
        assert!(
            !html.contains("<b onclick") && !html.contains("<u>") && !html.contains("<svg onload")
        );
        assert!(!html.contains("</td></tr></table></td>"));
        assert!(html.contains("&quot;綠光&quot; &lt;script&gt;alert('x')&lt;/script&gt; &amp; Co."));
        assert!(html.contains("<title>溫室氣體盤查報告｜&quot;綠光&quot; &lt;script&gt;"));
        assert!(html.contains("&lt;b onclick=&quot;x()&quot;&gt;範疇一&lt;/b&gt;"));
        assert!(html.contains("類別1 &quot;&lt;script&gt;&quot;"));
        assert!(html.contains("kg&quot;/&gt;&lt;svg onload=alert(1)&gt;"));
        assert!(html.contains("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;"));
        check_balanced(&html).expect("balanced HTML");
    }

    #[test]
    fn ids_are_unique_and_tables_have_head_and_body() {
        let html = report_html(&sample_model());
        let ids: Vec<&str> = html
            .split(" id=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').expect("closing quote")])
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(ids.len(), unique.len(), "duplicate ids in {ids:?}");
        assert!(!html.contains("<table><table") && !html.contains("<tr><tr"));
        assert_eq!(
            html.matches("<table").count(),
            html.matches("<tbody>").count()
        );
        assert_eq!(html.matches("<th>").count(), 0, "every th has a scope");
    }

    #[test]
    fn rounded_zero_changes_show_no_sign_or_colour() {
        let mut m = zero_model();
        let y = m.yoy.as_mut().expect("yoy");
        y.prev_total_kg_co2e = 1000.0;
        y.change_kg_co2e = -0.0004;
        y.activity_effect_kg_co2e = -0.0;
        y.factor_effect_kg_co2e = -0.0004;
        m.total_kg_co2e = -0.0;
        m.by_scope[0].kg_co2e = -0.0004;
        let html = report_html(&m);
        assert!(!html.contains("-0.0"), "negative zero shown");
        assert!(!html.contains("class=\"num neg\"") && !html.contains("<strong class"));
        assert!(html.contains("<strong>0.00 kgCO2e（0.0%）</strong>"));
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
