//! The report as a PDF/A-2u document: A4 pages laid out on `report::canvas` and written
//! with krilla in Noto Sans CJK TC (embedded, subset), charts drawn as vector paths from the
//! same model and palette as the HTML report. Same model, same bytes.

use crate::report::canvas::{
    cell, clip, hex_rgb, text_width, Align, Cell, Col, Doc, DocInfo, PdfError, BLACK, GREEN, GREY, LEFT, ORANGE, PAGE_H, RED, RIGHT, RULE, WHITE,
};
use crate::report::model::{
    all_notes, category_label, finite, fmt_gas, fmt_kg, fmt_num, fmt_pct, fmt_sig, fmt_signed, fmt_tonnes, pareto_hotspots, scope_label, share_of,
    FactorStatus, ReportModel, Slice, HOTSPOT_THRESHOLD, SCOPE_COLORS, SCOPE_NAMES,
};
use crate::report::svg::nice_max;

fn breakdown(doc: &mut Doc, first: &'static str, slices: &[Slice], total: f64) {
    let cols = [
        Col {
            title: first,
            width: 200.0,
            align: Align::Left,
        },
        Col {
            title: "排放量（公噸CO2e）",
            width: 110.0,
            align: Align::Right,
        },
        Col {
            title: "排放量（kgCO2e）",
            width: 110.0,
            align: Align::Right,
        },
        Col {
            title: "占比",
            width: 70.0,
            align: Align::Right,
        },
    ];
    let mut rows: Vec<Vec<Cell>> = slices
        .iter()
        .map(|s| {
            vec![
                cell(s.label.clone()),
                cell(fmt_tonnes(s.kg_co2e)),
                cell(fmt_kg(s.kg_co2e)),
                cell(fmt_pct(share_of(s.kg_co2e, total))),
            ]
        })
        .collect();
    if rows.is_empty() {
        rows.push(vec![cell("無資料")]);
    }
    let footer = vec![vec![
        cell("合計"),
        cell(fmt_tonnes(total)),
        cell(fmt_kg(total)),
        cell(if total > 0.0 { "100.0%" } else { "0.0%" }),
    ]];
    doc.table(&cols, &rows, &footer, 9.0);
}

fn monthly_chart(doc: &mut Doc, m: &ReportModel) {
    let chart_h = 170.0;
    doc.ensure(chart_h + 60.0);
    let (x0, y0) = (LEFT + 48.0, doc.y + 18.0);
    let plot_w = RIGHT - x0 - 6.0;
    let totals: Vec<f64> = m
        .monthly
        .iter()
        .map(|b| {
            b.by_scope_kg
                .iter()
                .map(|v| finite(*v).max(0.0))
                .sum::<f64>()
        })
        .collect();
    let max = totals.iter().copied().fold(0.0, f64::max);
    let axis = nice_max(max);
    let step = axis / 5.0;
    let dec = if step >= 1.0 {
        0
    } else if step >= 0.1 {
        1
    } else {
        3
    };
    let y_of = |v: f64| y0 + chart_h - v / axis * chart_h;
    for k in 0..=5 {
        let v = step * f64::from(k);
        let y = y_of(v);
        doc.line(x0, y, x0 + plot_w, y, 0.4, (0.88, 0.88, 0.88));
        doc.text_aligned(
            LEFT,
            44.0,
            y + 2.5,
            7.0,
            &fmt_num(v, dec),
            GREY,
            Align::Right,
        );
    }
    doc.line(x0, y0, x0, y0 + chart_h, 0.8, BLACK);
    doc.line(x0, y0 + chart_h, x0 + plot_w, y0 + chart_h, 0.8, BLACK);
    doc.text(LEFT, y0 - 8.0, 7.0, "kgCO2e", GREY);
    if m.monthly.is_empty() {
        doc.text_aligned(
            x0,
            plot_w,
            y0 + chart_h / 2.0,
            10.0,
            "無資料",
            GREY,
            Align::Center,
        );
    } else {
        let slot = plot_w / m.monthly.len() as f64;
        let bw = slot * 0.6;
        let vdec = if max >= 100.0 {
            0
        } else if max >= 1.0 {
            1
        } else {
            3
        };
        for (i, bar) in m.monthly.iter().enumerate() {
            let x = x0 + slot * i as f64 + (slot - bw) / 2.0;
            let mut acc = 0.0;
            for (j, v) in bar.by_scope_kg.iter().enumerate() {
                let v = finite(*v).max(0.0);
                if v > 0.0 {
                    let top = y_of(acc + v);
                    doc.rect(x, top, bw, y_of(acc) - top, hex_rgb(SCOPE_COLORS[j]));
                    acc += v;
                }
            }
            let t = totals[i];
            let label_size = if slot < 30.0 { 5.5 } else { 6.5 };
            doc.text_aligned(
                x - 6.0,
                bw + 12.0,
                y_of(t) - 2.5,
                label_size,
                &fmt_num(t, vdec),
                BLACK,
                Align::Center,
            );
            doc.text_aligned(
                x - 8.0,
                bw + 16.0,
                y0 + chart_h + 10.0,
                label_size,
                &bar.month,
                GREY,
                Align::Center,
            );
        }
    }
    let mut lx = x0;
    let ly = y0 + chart_h + 24.0;
    for (name, color) in SCOPE_NAMES.iter().zip(SCOPE_COLORS) {
        doc.rect(lx, ly - 7.0, 8.0, 8.0, hex_rgb(color));
        doc.text(lx + 11.0, ly, 8.0, name, BLACK);
        lx += 11.0 + text_width(name, 8.0) + 16.0;
    }
    doc.y = ly + 10.0;
}

fn hotspot_chart(doc: &mut Doc, m: &ReportModel) {
    let top = pareto_hotspots(&m.hotspots);
    doc.paragraph(
        &format!(
            "累計占比達 {} 之主要排放源（共 {} 項排放源中的 {} 項），宜優先採取減量措施。",
            fmt_pct(HOTSPOT_THRESHOLD),
            m.hotspots.len(),
            top.len()
        ),
        9.0,
        BLACK,
    );
    doc.y += 4.0;
    if top.is_empty() {
        doc.paragraph("無資料", 9.0, GREY);
        return;
    }
    let label_w = 150.0;
    let x0 = LEFT + label_w + 6.0;
    let plot_w = 190.0;
    let max = top
        .iter()
        .map(|h| finite(h.kg_co2e).max(0.0))
        .fold(0.0, f64::max);
    let axis = nice_max(max);
    let row_h = 18.0;
    let color = hex_rgb(crate::report::model::HOTSPOT_COLOR);
    for h in &top {
        doc.ensure(row_h);
        let v = finite(h.kg_co2e).max(0.0);
        let w = v / axis * plot_w;
        doc.text_aligned(
            LEFT,
            label_w,
            doc.y + 11.0,
            8.0,
            &clip(&h.source, 8.0, label_w),
            BLACK,
            Align::Right,
        );
        doc.rect(x0, doc.y + 3.0, w, row_h - 6.0, color);
        let value = format!(
            "{}（{}｜累計 {}）",
            fmt_kg(v),
            fmt_pct(h.share),
            fmt_pct(h.cumulative_share)
        );
        doc.text(x0 + w + 4.0, doc.y + 11.0, 7.5, &value, BLACK);
        doc.y += row_h;
    }
    doc.line(x0, doc.y - row_h * top.len() as f64, x0, doc.y, 0.8, BLACK);
    doc.line(x0, doc.y, x0 + plot_w, doc.y, 0.8, BLACK);
    let dec = if axis >= 10.0 {
        0
    } else if axis >= 1.0 {
        1
    } else {
        3
    };
    for k in 0..=2 {
        let v = axis * f64::from(k) / 2.0;
        let x = x0 + plot_w * f64::from(k) / 2.0;
        doc.line(x, doc.y, x, doc.y + 3.0, 0.6, BLACK);
        doc.text_aligned(
            x - 30.0,
            60.0,
            doc.y + 11.0,
            6.5,
            &fmt_num(v, dec),
            GREY,
            Align::Center,
        );
    }
    doc.y += 16.0;
    doc.rect(x0, doc.y + 4.0, 8.0, 8.0, color);
    doc.text(
        x0 + 11.0,
        doc.y + 11.0,
        8.0,
        "排放量（kgCO2e）；括號內為占比與累計占比",
        BLACK,
    );
    doc.y += 20.0;
}

fn layout(m: &ReportModel) -> Doc {
    let mut d = Doc::new();
    let total = finite(m.total_kg_co2e);

    // Title band.
    d.rect(LEFT, d.y, RIGHT - LEFT, 44.0, GREEN);
    d.text(
        LEFT + 12.0,
        d.y + 28.0,
        18.0,
        &format!("{} 年度溫室氣體盤查報告", m.year),
        WHITE,
    );
    d.y += 52.0;

    d.heading("封面資訊", 90.0);
    let kv = [
        ("公司名稱", m.company_name.clone()),
        ("統一編號", m.tax_id.clone()),
        (
            "盤查年度",
            format!("{} 年（1 月 1 日至 12 月 31 日）", m.year),
        ),
        ("產製時間", m.generated_at.clone()),
        (
            "依據",
            "ISO 14064-1:2018；環境部溫室氣體排放係數；GWP 採 IPCC AR5".to_string(),
        ),
    ];
    let cols = [
        Col {
            title: "項目",
            width: 110.0,
            align: Align::Left,
        },
        Col {
            title: "內容",
            width: 405.0,
            align: Align::Left,
        },
    ];
    let rows: Vec<Vec<Cell>> = kv
        .into_iter()
        .map(|(k, v)| vec![cell(k), cell(v)])
        .collect();
    d.table(&cols, &rows, &[], 10.0);

    d.heading("排放總量", 60.0);
    d.text(
        LEFT,
        d.y + 24.0,
        24.0,
        &format!("{} 公噸CO2e", fmt_tonnes(total)),
        GREEN,
    );
    d.y += 34.0;
    d.paragraph(&format!("（{} kgCO2e）", fmt_kg(total)), 11.0, BLACK);
    if finite(m.excluded_kg_co2e) > 0.0 {
        d.paragraph(
            &format!(
                "另揭露（未計入總量）：{} 公噸CO2e（{} kgCO2e），如 HCFC 類冷媒。",
                fmt_tonnes(m.excluded_kg_co2e),
                fmt_kg(m.excluded_kg_co2e)
            ),
            9.0,
            GREY,
        );
    }

    d.heading("範疇別排放量", 60.0);
    breakdown(&mut d, "範疇", &m.by_scope, total);
    d.heading("類別別排放量", 60.0);
    breakdown(&mut d, "類別（ISO 14064-1）", &m.by_category, total);

    d.new_page();
    d.heading("月別趨勢", 230.0);
    d.paragraph(
        &format!(
            "{} 年各月排放量（kgCO2e，依範疇堆疊；依單據計費期間分攤至月份）",
            m.year
        ),
        9.0,
        BLACK,
    );
    monthly_chart(&mut d, m);

    d.heading("排放熱區", 80.0);
    hotspot_chart(&mut d, m);

    if let Some(y) = &m.yoy {
        d.heading("年度比較", 80.0);
        let pct = crate::report::model::fmt_yoy_pct(y);
        d.paragraph(
            &format!(
                "與 {} 年比較：排放量變動 {} kgCO2e（{}），其中活動量變動造成 {} kgCO2e，排放係數變動造成 {} kgCO2e。下表單位：kgCO2e。",
                y.prev_year,
                fmt_signed(y.change_kg_co2e, 2),
                pct,
                fmt_signed(y.activity_effect_kg_co2e, 2),
                fmt_signed(y.factor_effect_kg_co2e, 2)
            ),
            9.0,
            BLACK,
        );
        d.y += 4.0;
        let cols = [
            Col {
                title: "項目",
                width: 130.0,
                align: Align::Left,
            },
            Col {
                title: "前一年度",
                width: 80.0,
                align: Align::Right,
            },
            Col {
                title: "本年度",
                width: 80.0,
                align: Align::Right,
            },
            Col {
                title: "變動",
                width: 75.0,
                align: Align::Right,
            },
            Col {
                title: "活動量效應",
                width: 75.0,
                align: Align::Right,
            },
            Col {
                title: "係數效應",
                width: 75.0,
                align: Align::Right,
            },
        ];
        let rows: Vec<Vec<Cell>> = y
            .rows
            .iter()
            .map(|r| {
                vec![
                    cell(r.source.clone()),
                    cell(fmt_kg(r.prev_kg_co2e)),
                    cell(fmt_kg(r.curr_kg_co2e)),
                    cell(fmt_signed(
                        finite(r.curr_kg_co2e) - finite(r.prev_kg_co2e),
                        2,
                    )),
                    cell(fmt_signed(r.activity_effect_kg_co2e, 2)),
                    cell(fmt_signed(r.factor_effect_kg_co2e, 2)),
                ]
            })
            .collect();
        let footer = vec![vec![
            cell("合計"),
            cell(fmt_kg(y.prev_total_kg_co2e)),
            cell(fmt_kg(total)),
            cell(fmt_signed(y.change_kg_co2e, 2)),
            cell(fmt_signed(y.activity_effect_kg_co2e, 2)),
            cell(fmt_signed(y.factor_effect_kg_co2e, 2)),
        ]];
        d.table(&cols, &rows, &footer, 8.0);
    }

    d.new_page();
    d.heading("盤查清冊", 80.0);
    d.paragraph(
        "參照環境部溫室氣體盤查表單表二、表三欄位；CH4、N2O 為氣體質量（kg），其他溫室氣體以 kgCO2e 表示。",
        8.0,
        GREY,
    );
    d.y += 2.0;
    let cols = [
        Col {
            title: "排放源",
            width: 78.0,
            align: Align::Left,
        },
        Col {
            title: "範疇",
            width: 30.0,
            align: Align::Center,
        },
        Col {
            title: "類別",
            width: 28.0,
            align: Align::Center,
        },
        Col {
            title: "活動數據",
            width: 46.0,
            align: Align::Right,
        },
        Col {
            title: "單位",
            width: 26.0,
            align: Align::Center,
        },
        Col {
            title: "排放係數",
            width: 62.0,
            align: Align::Left,
        },
        Col {
            title: "CO2 (kg)",
            width: 42.0,
            align: Align::Right,
        },
        Col {
            title: "CH4 (kg)",
            width: 34.0,
            align: Align::Right,
        },
        Col {
            title: "N2O (kg)",
            width: 34.0,
            align: Align::Right,
        },
        Col {
            title: "其他 (kgCO2e)",
            width: 36.0,
            align: Align::Right,
        },
        Col {
            title: "CO2e (kg)",
            width: 46.0,
            align: Align::Right,
        },
        Col {
            title: "占比",
            width: 30.0,
            align: Align::Right,
        },
    ];
    let mut rows: Vec<Vec<Cell>> = m
        .inventory
        .iter()
        .map(|r| {
            let mut source = r.source.clone();
            if let Some(dt) = r.detail.as_deref().filter(|s| !s.trim().is_empty()) {
                source.push('\n');
                source.push_str(dt);
            }
            if r.documents > 0 {
                source.push_str(&format!("\n單據 {} 張", r.documents));
            }
            let mut factor = Cell {
                text: r.factor_text.clone(),
                color: BLACK,
            };
            if r.provisional {
                factor.text.push_str("\n［暫用］");
                factor.color = ORANGE;
            }
            if r.unverified {
                factor.text.push_str("\n［未查證］");
                factor.color = RED;
            }
            vec![
                cell(source),
                cell(scope_label(r.scope)),
                cell(category_label(r.category)),
                cell(fmt_num(r.quantity, 2)),
                cell(r.unit.clone()),
                factor,
                cell(fmt_kg(r.co2_kg)),
                cell(fmt_gas(r.ch4_kg)),
                cell(fmt_gas(r.n2o_kg)),
                cell(fmt_kg(r.other_kg_co2e)),
                cell(fmt_kg(r.kg_co2e)),
                cell(fmt_pct(r.share)),
            ]
        })
        .collect();
    if rows.is_empty() {
        rows.push(vec![cell("無資料")]);
    }
    let mut foot = vec![cell(format!("合計（{} 項）", m.inventory.len()))];
    foot.extend((0..9).map(|_| cell("")));
    foot.push(cell(fmt_kg(total)));
    foot.push(cell(if total > 0.0 { "100.0%" } else { "0.0%" }));
    d.table(&cols, &rows, &[foot], 6.5);

    d.heading("係數來源", 60.0);
    let cols = [
        Col {
            title: "係數編號",
            width: 110.0,
            align: Align::Left,
        },
        Col {
            title: "名稱",
            width: 110.0,
            align: Align::Left,
        },
        Col {
            title: "係數值",
            width: 60.0,
            align: Align::Right,
        },
        Col {
            title: "單位",
            width: 70.0,
            align: Align::Left,
        },
        Col {
            title: "來源",
            width: 120.0,
            align: Align::Left,
        },
        Col {
            title: "狀態",
            width: 45.0,
            align: Align::Center,
        },
    ];
    let mut rows: Vec<Vec<Cell>> = m
        .factor_refs
        .iter()
        .map(|r| {
            let status_color = match r.status {
                FactorStatus::Official => BLACK,
                FactorStatus::Provisional => ORANGE,
                FactorStatus::Unverified => RED,
            };
            vec![
                cell(r.id.clone()),
                cell(r.label.clone()),
                cell(fmt_sig(r.value)),
                cell(r.unit.clone()),
                cell(r.source.clone()),
                Cell {
                    text: r.status.label().to_string(),
                    color: status_color,
                },
            ]
        })
        .collect();
    if rows.is_empty() {
        rows.push(vec![cell("無資料")]);
    }
    d.table(&cols, &rows, &[], 8.0);

    d.heading("說明", 40.0);
    for (i, note) in all_notes(m).iter().enumerate() {
        let label = format!("{}.", i + 1);
        d.ensure(14.0);
        d.text(LEFT, d.y + 9.0, 9.0, &label, BLACK);
        d.paragraph_at(LEFT + 16.0, RIGHT - LEFT - 16.0, note, 9.0, BLACK);
        d.y += 2.0;
    }
    d
}

/// The report as PDF bytes (PDF/A-2u). Fails only when the PDF font is missing or unreadable.
pub fn report_pdf(m: &ReportModel) -> Result<Vec<u8>, PdfError> {
    let mut d = layout(m);
    let footer_left = clip(&format!("{}｜統一編號 {}｜{} 年度溫室氣體盤查報告", m.company_name, m.tax_id, m.year), 7.5, 400.0);
    d.add_footers(|foot, i, count| {
        let fy = PAGE_H - 36.0;
        foot.line(LEFT, fy - 10.0, RIGHT, fy - 10.0, 0.5, RULE);
        foot.text(LEFT, fy, 7.5, &footer_left, GREY);
        foot.text_aligned(LEFT, RIGHT - LEFT, fy, 7.5, &format!("第 {} / {} 頁", i + 1, count), GREY, Align::Right);
    });
    let info = DocInfo {
        title: format!("{} {} 年度溫室氣體盤查報告", m.company_name, m.year),
        subject: format!("統一編號 {}", m.tax_id),
        keywords: vec!["溫室氣體盤查".into(), "ISO 14064-1".into(), m.tax_id.clone()],
        date: m.generated_on,
        attachments: Vec::new(),
    };
    d.finish(&info)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::canvas::{char_width, normalize, wrap, Op, BOTTOM, TOP};
    use crate::report::html::tests::{sample_model, zero_model};
    use crate::report::model::InventoryRow;
    use std::process::Command;

    pub(crate) fn tmp_file(name: &str, pdf: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("ecosphere-report-{}-{name}.pdf", std::process::id()));
        std::fs::write(&path, pdf).expect("write temp pdf");
        path
    }

    fn tool(cmd: &str, args: &[&str]) -> String {
        let out = Command::new(cmd)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{cmd} is needed by the tests (poppler-utils; tests/run.sh installs it): {e}"));
        assert!(out.status.success(), "{cmd} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("Couldn't find") && !stderr.contains("Syntax Error"), "{cmd} complained: {stderr}");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Text of the PDF at `path` as poppler extracts it.
    pub(crate) fn pdftotext(path: &std::path::Path) -> String {
        tool("pdftotext", &["-layout", path.to_str().expect("utf-8 path"), "-"])
    }

    pub(crate) fn pdf_pages(path: &std::path::Path) -> usize {
        tool("pdfinfo", &[path.to_str().expect("utf-8 path")])
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("pdfinfo pages")
    }

    /// `pdffonts` rows: (name, embedded, subset, unicode).
    pub(crate) fn pdffonts(path: &std::path::Path) -> Vec<(String, bool, bool, bool)> {
        let out = tool("pdffonts", &[path.to_str().expect("utf-8 path")]);
        out.lines()
            .skip(2)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                let n = cols.len();
                // ... emb sub uni object ID: the last five columns are emb sub uni obj gen.
                let flag = |k: usize| cols.get(n - k).map(|v| *v == "yes").unwrap_or(false);
                (cols[0].to_string(), flag(5), flag(4), flag(3))
            })
            .collect()
    }

    /// Every font of the PDF is embedded, subset and maps to Unicode.
    pub(crate) fn assert_fonts_embedded(path: &std::path::Path) {
        let fonts = pdffonts(path);
        assert!(!fonts.is_empty(), "no fonts listed");
        for (name, emb, sub, uni) in &fonts {
            assert!(*emb && *sub && *uni, "font {name}: emb={emb} sub={sub} uni={uni}");
            assert!(name.len() > 7 && name.as_bytes()[6] == b'+', "subset tag in {name}");
        }
    }

    /// Dark pixels of page `page` (1-based) of the PDF inside the box (points, from the top-left).
    pub(crate) fn dark_pixels(path: &std::path::Path, page: usize, x: f64, y: f64, w: f64, h: f64) -> usize {
        let dpi = 72.0;
        let prefix = path.with_extension(format!("p{page}"));
        let p = page.to_string();
        tool("pdftoppm", &["-gray", "-r", "72", "-f", &p, "-l", &p, "-singlefile", path.to_str().expect("path"), prefix.to_str().expect("path")]);
        let pgm_path = prefix.with_extension(format!("p{page}.pgm"));
        let pgm = std::fs::read(&pgm_path).expect("pdftoppm output");
        let _ = std::fs::remove_file(&pgm_path);
        // Binary PGM: "P5\n<w> <h>\n255\n" then w*h bytes.
        let mut fields = Vec::new();
        let mut pos = 0;
        while fields.len() < 4 {
            while pgm[pos].is_ascii_whitespace() {
                pos += 1;
            }
            let start = pos;
            while !pgm[pos].is_ascii_whitespace() {
                pos += 1;
            }
            fields.push(String::from_utf8_lossy(&pgm[start..pos]).to_string());
        }
        pos += 1;
        assert_eq!(fields[0], "P5");
        let (pw, ph): (usize, usize) = (fields[1].parse().expect("w"), fields[2].parse().expect("h"));
        let px = &pgm[pos..];
        let scale = dpi / 72.0;
        let (x0, y0) = ((x * scale) as usize, (y * scale) as usize);
        let (x1, y1) = (((x + w) * scale) as usize, ((y + h) * scale) as usize);
        let mut dark = 0;
        for row in y0..y1.min(ph) {
            for col in x0..x1.min(pw) {
                if px[row * pw + col] < 128 {
                    dark += 1;
                }
            }
        }
        dark
    }

    fn page_text_ops(d: &Doc) -> Vec<Vec<(f64, f64, f64, String)>> {
        d.pages
            .iter()
            .map(|p| p.iter().filter_map(|op| if let Op::Text { x, y, size, text, .. } = op { Some((*x, *y, *size, text.clone())) } else { None }).collect())
            .collect()
    }

    #[test]
    fn output_is_pdf_a_and_deterministic() {
        let m = sample_model();
        let a = report_pdf(&m).expect("pdf");
        let b = report_pdf(&m).expect("pdf");
        assert_eq!(a, b, "same model, same bytes");
        assert!(a.starts_with(b"%PDF-1.7"), "PDF/A-2 is PDF 1.7");
        let s = String::from_utf8_lossy(&a);
        assert!(s.contains("pdfaid:part") && (s.contains("<pdfaid:part>2</pdfaid:part>") || s.contains("pdfaid:part=\"2\"")), "PDF/A-2 claimed");
        assert!(s.contains("/OutputIntents"), "PDF/A output intent");
        assert!(!s.contains("MSung-Light") && !s.contains("UniCNS-UCS2-H"), "no non-embedded CNS1 font");
        let path = tmp_file("det", &a);
        let pages = pdf_pages(&path);
        assert!(pages >= 3, "{pages} pages");
        assert!(a.len() <= 300 * 1024, "a {pages}-page report is {} bytes (target ≤ 300 KB)", a.len());
        eprintln!("report: {pages} pages, {} bytes", a.len());
        let _ = std::fs::remove_file(&path);
        let zero = report_pdf(&zero_model()).expect("pdf");
        assert!(!String::from_utf8_lossy(&zero).contains("NaN"));
    }

    #[test]
    fn every_page_has_text() {
        for m in [sample_model(), zero_model()] {
            let d = layout(&m);
            assert!(page_text_ops(&d).iter().all(|p| !p.is_empty()), "a page without text");
        }
    }

    #[test]
    fn fonts_are_embedded_and_chinese_text_extracts_and_renders() {
        let m = sample_model();
        let pdf = report_pdf(&m).expect("pdf");
        let path = tmp_file("sample", &pdf);
        assert_fonts_embedded(&path);
        let text = pdftotext(&path);
        assert!(text.contains(&m.company_name), "company name in\n{text}");
        assert!(text.contains("統一編號") && text.contains(&m.tax_id));
        assert!(text.contains(&format!("{} 公噸CO2e", fmt_tonnes(m.total_kg_co2e))), "total in\n{text}");
        assert!(text.contains(&fmt_kg(m.total_kg_co2e)));
        assert!(text.contains("盤查清冊") && text.contains("暫用") && text.contains("未查證"));
        assert!(text.contains("溫室氣體盤查報告") && text.contains("範疇一"), "headings in\n{text}");
        // The company name is drawn as glyphs: dark pixels where it stands, none there
        // when the name is blank.
        let d = layout(&m);
        let (x, y, size, name) = page_text_ops(&d)[0].iter().find(|t| t.3.contains(&m.company_name)).cloned().expect("name drawn on page 1");
        let w = text_width(&name, size);
        let inked = dark_pixels(&path, 1, x, y - size, w, size * 1.2);
        let mut blank = m.clone();
        blank.company_name = " ".repeat(m.company_name.chars().count());
        let blank_path = tmp_file("blank", &report_pdf(&blank).expect("pdf"));
        let empty = dark_pixels(&blank_path, 1, x, y - size, w, size * 1.2);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&blank_path);
        assert!(inked > 20 && inked > 10 * empty.max(1), "company name pixels: {inked} vs blank {empty}");
    }

    #[test]
    fn sixty_rows_paginate() {
        let mut m = sample_model();
        let base = m.inventory[1].clone();
        m.inventory = (1..=60).map(|i| InventoryRow { source: format!("排放源{i:02}"), kg_co2e: 100.0 + f64::from(i), ..base.clone() }).collect();
        let short = layout(&sample_model()).pages.len();
        let d = layout(&m);
        assert!(d.pages.len() > short, "60 rows need more pages: {}", d.pages.len());
        let pdf = report_pdf(&m).expect("pdf");
        let path = tmp_file("sixty", &pdf);
        let pages = pdf_pages(&path);
        let text = pdftotext(&path);
        let _ = std::fs::remove_file(&path);
        assert!(pages > short, "{pages} pages");
        for i in [1, 30, 60] {
            assert!(text.contains(&format!("排放源{i:02}")), "row {i} missing");
        }
        // The header is repeated on the continuation page(s).
        assert!(text.matches("CO2e (kg)").count() >= 2);
    }

    #[test]
    fn huge_cells_and_notes_stay_inside_the_page() {
        let mut m = sample_model();
        m.inventory[0].source = "很長的排放源名稱".repeat(400);
        m.notes.push("非常長的說明文字".repeat(600));
        let d = layout(&m);
        for page in page_text_ops(&d) {
            for (x, y, size, text) in page {
                assert!((TOP - 40.0..=BOTTOM + 0.01).contains(&y), "text at y={y}");
                assert!(x >= LEFT - 0.01 && x + text_width(&text, size) <= RIGHT + 0.5, "text at x={x} runs past the margin: {text}");
            }
        }
        assert!(d.pages.len() > layout(&sample_model()).pages.len());
    }

    #[test]
    fn wrap_and_widths() {
        assert!((text_width("中文", 10.0) - 20.0).abs() < 1e-9);
        let ab = char_width('a', 10.0) + char_width('b', 10.0);
        assert!((text_width("ab", 10.0) - ab).abs() < 1e-9 && ab < 12.0);
        let lines = wrap("一二三四五六七", 10.0, 30.0);
        assert_eq!(lines, vec!["一二三", "四五六", "七"]);
        assert_eq!(wrap("hello world", 10.0, 40.0), vec!["hello", "world"]);
        assert_eq!(wrap("", 10.0, 40.0), vec![""]);
        assert_eq!(wrap("a\nb", 10.0, 40.0), vec!["a", "b"]);
        assert!(text_width(&clip("很長很長很長的排放源名稱", 10.0, 50.0), 10.0) <= 50.0);
        assert_eq!(normalize('³'), Some('3'));
        assert_eq!(normalize('\u{202e}'), None);
        assert_eq!(normalize('😀'), Some('?'), "a character the font lacks is drawn as ?");
    }

    /// Writes /tmp/report-sample.pdf (and page 1 as PNG when pdftoppm exists) for a person to look at.
    #[test]
    fn render_sample_file() {
        let pdf = report_pdf(&sample_model()).expect("pdf");
        if std::fs::write("/tmp/report-sample.pdf", &pdf).is_ok() {
            let _ = Command::new("pdftoppm").args(["-png", "-r", "60", "/tmp/report-sample.pdf", "/tmp/report-sample"]).status();
            let html = crate::report::html::report_html(&sample_model());
            let _ = std::fs::write("/tmp/report-sample.html", html);
        }
    }
}
