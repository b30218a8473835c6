//! The report as a PDF 1.4 written by hand: A4 pages, Traditional Chinese text in the
//! non-embedded CID font MSung-Light (Type0, UniCNS-UCS2-H, Adobe-CNS1-0) with a ToUnicode
//! CMap so the text can be extracted, Latin text and numbers in Helvetica, and charts drawn
//! with vector operators. Same model, same bytes.

use std::collections::BTreeSet;

use crate::report::model::{
    all_notes, category_label, finite, fmt_gas, fmt_kg, fmt_num, fmt_pct, fmt_sig, fmt_signed,
    fmt_tonnes, pareto_hotspots, scope_label, share_of, FactorStatus, ReportModel, Slice,
    HOTSPOT_THRESHOLD, SCOPE_COLORS, SCOPE_NAMES,
};
use crate::report::svg::nice_max;

const PAGE_W: f64 = 595.0;
const PAGE_H: f64 = 842.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = PAGE_W - 40.0;
const TOP: f64 = 48.0;
/// Content stops here; the footer lives below.
const BOTTOM: f64 = PAGE_H - 56.0;

/// A table cell shows at most this many lines, so a row always fits on a page.
const MAX_CELL_LINES: usize = 12;

/// Helvetica advance widths (1/1000 em) of ASCII 0x20..=0x7E.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
    278, // ' '..'/'
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584,
    556, // '0'..'?'
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722,
    778, // '@'..'O'
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
    556, // 'P'..'_'
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556,
    556, // '`'..'o'
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // 'p'..'~'
];

type Rgb = (f64, f64, f64);
const BLACK: Rgb = (0.13, 0.13, 0.13);
const GREY: Rgb = (0.4, 0.4, 0.4);
const GREEN: Rgb = (0.106, 0.369, 0.125);
const WHITE: Rgb = (1.0, 1.0, 1.0);
const ORANGE: Rgb = (0.9, 0.32, 0.0);
const RED: Rgb = (0.72, 0.11, 0.11);
const HEADER_FILL: Rgb = (0.91, 0.96, 0.91);
const RULE: Rgb = (0.74, 0.74, 0.74);

fn hex_rgb(hex: &str) -> Rgb {
    let part = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .map(|v| f64::from(v) / 255.0)
            .unwrap_or(0.6)
    };
    if hex.len() == 6 {
        (part(0), part(2), part(4))
    } else {
        (0.6, 0.6, 0.6)
    }
}

/// The character actually drawn: controls become spaces, a few symbols outside Big5 get
/// ASCII stand-ins, characters beyond the BMP (not encodable in UCS-2) become '?'.
fn normalize(c: char) -> Option<char> {
    match c {
        '\n' | '\r' | '\t' | '\u{a0}' | '\u{3000}' => Some(' '),
        c if c.is_control() => None,
        '³' | '₃' => Some('3'),
        '²' | '₂' => Some('2'),
        '₄' => Some('4'),
        c if u32::from(c) > 0xFFFF => Some('?'),
        c => Some(c),
    }
}

fn char_width(c: char, size: f64) -> f64 {
    let code = u32::from(c);
    if (0x20..=0x7E).contains(&code) {
        f64::from(HELVETICA[(code - 0x20) as usize]) / 1000.0 * size
    } else {
        size
    }
}

/// Width of `s` at `size` points.
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars()
        .filter_map(normalize)
        .map(|c| char_width(c, size))
        .sum()
}

/// Greedy line breaking at `width` (CJK breaks anywhere, Latin words at spaces when possible).
/// Always at least one line.
pub fn wrap(s: &str, size: f64, width: f64) -> Vec<String> {
    let mut lines = Vec::new();
    for para in s.split('\n') {
        let mut line: Vec<char> = Vec::new();
        let mut w = 0.0;
        for c in para.chars().filter_map(normalize) {
            let cw = char_width(c, size);
            if w + cw > width && !line.is_empty() {
                // Keep a Latin word whole when the line has a space to break at.
                let mut carry = Vec::new();
                if c.is_ascii_alphanumeric() {
                    if let Some(pos) = line.iter().rposition(|ch| *ch == ' ') {
                        if pos > 0 && line[pos + 1..].iter().all(|ch| ch.is_ascii_graphic()) {
                            carry = line.split_off(pos + 1);
                            line.pop();
                        }
                    }
                }
                lines.push(line.iter().collect::<String>().trim_end().to_string());
                if c == ' ' && carry.is_empty() {
                    line = Vec::new();
                    w = 0.0;
                    continue;
                }
                line = carry;
                w = line.iter().map(|ch| char_width(*ch, size)).sum();
            }
            line.push(c);
            w += cw;
        }
        lines.push(line.iter().collect::<String>().trim_end().to_string());
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// `s` cut to fit `width`, with "..." when cut.
fn clip(s: &str, size: f64, width: f64) -> String {
    if text_width(s, size) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = text_width("...", size);
    for c in s.chars().filter_map(normalize) {
        let cw = char_width(c, size);
        if w + cw > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push_str("...");
    out
}

fn f(v: f64) -> String {
    let s = format!("{:.2}", finite(v));
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
    Center,
}

struct Col {
    title: &'static str,
    width: f64,
    align: Align,
}

struct Cell {
    text: String,
    color: Rgb,
}

fn cell(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        color: BLACK,
    }
}

/// Pages being laid out top-down; `y` grows downwards from the top of the page.
struct Doc {
    pages: Vec<String>,
    y: f64,
    /// High bytes of the UCS-2 codes drawn in the CID font (for the ToUnicode CMap).
    high_bytes: BTreeSet<u8>,
}

impl Doc {
    fn new() -> Self {
        Doc {
            pages: vec![String::new()],
            y: TOP,
            high_bytes: BTreeSet::new(),
        }
    }

    fn out(&mut self) -> &mut String {
        if self.pages.is_empty() {
            self.pages.push(String::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(String::new());
        self.y = TOP;
    }

    /// Starts a new page unless `h` more points fit; true when a page was started.
    fn ensure(&mut self, h: f64) -> bool {
        if self.y + h > BOTTOM && self.y > TOP + 0.5 {
            self.new_page();
            true
        } else {
            false
        }
    }

    /// Text with its baseline at `y` (from the top).
    fn text(&mut self, x: f64, y: f64, size: f64, s: &str, color: Rgb) {
        let mut runs: Vec<(bool, String)> = Vec::new();
        for c in s.chars().filter_map(normalize) {
            let cid = !(0x20..=0x7E).contains(&u32::from(c));
            let code = u32::from(c);
            let hex = if cid {
                self.high_bytes.insert((code >> 8) as u8);
                format!("{code:04X}")
            } else {
                format!("{code:02X}")
            };
            match runs.last_mut() {
                Some((k, buf)) if *k == cid => buf.push_str(&hex),
                _ => runs.push((cid, hex)),
            }
        }
        if runs.is_empty() {
            return;
        }
        let mut op = format!(
            "BT {} {} {} rg 1 0 0 1 {} {} Tm",
            f(color.0),
            f(color.1),
            f(color.2),
            f(x),
            f(PAGE_H - y)
        );
        for (cid, hex) in runs {
            op.push_str(&format!(
                " /{} {} Tf <{}> Tj",
                if cid { "F1" } else { "F2" },
                f(size),
                hex
            ));
        }
        op.push_str(" ET\n");
        self.out().push_str(&op);
    }

    #[allow(clippy::too_many_arguments)]
    fn text_aligned(
        &mut self,
        x: f64,
        width: f64,
        y: f64,
        size: f64,
        s: &str,
        color: Rgb,
        align: Align,
    ) {
        let w = text_width(s, size);
        let x = match align {
            Align::Left => x,
            Align::Right => x + width - w,
            Align::Center => x + (width - w) / 2.0,
        };
        self.text(x, y, size, s, color);
    }

    /// Filled rectangle; `y` is its top edge.
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb) {
        if w <= 0.0 || h <= 0.0 {
            return;
        }
        let op = format!(
            "{} {} {} rg {} {} {} {} re f\n",
            f(color.0),
            f(color.1),
            f(color.2),
            f(x),
            f(PAGE_H - y - h),
            f(w),
            f(h)
        );
        self.out().push_str(&op);
    }

    fn stroke_rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb) {
        let op = format!(
            "{} {} {} RG 0.5 w {} {} {} {} re S\n",
            f(color.0),
            f(color.1),
            f(color.2),
            f(x),
            f(PAGE_H - y - h),
            f(w),
            f(h)
        );
        self.out().push_str(&op);
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, width: f64, color: Rgb) {
        let op = format!(
            "{} {} {} RG {} w {} {} m {} {} l S\n",
            f(color.0),
            f(color.1),
            f(color.2),
            f(width),
            f(x1),
            f(PAGE_H - y1),
            f(x2),
            f(PAGE_H - y2)
        );
        self.out().push_str(&op);
    }

    /// A section heading; keeps `keep` more points on the same page.
    fn heading(&mut self, s: &str, keep: f64) {
        self.ensure(30.0 + keep);
        self.y += 10.0;
        self.text(LEFT, self.y + 12.0, 13.0, s, GREEN);
        self.y += 17.0;
        self.line(LEFT, self.y, RIGHT, self.y, 1.2, GREEN);
        self.y += 8.0;
    }

    fn paragraph(&mut self, s: &str, size: f64, color: Rgb) {
        self.paragraph_at(LEFT, RIGHT - LEFT, s, size, color);
    }

    fn paragraph_at(&mut self, x: f64, width: f64, s: &str, size: f64, color: Rgb) {
        let lh = size * 1.45;
        for line in wrap(s, size, width) {
            self.ensure(lh);
            self.text(x, self.y + size, size, &line, color);
            self.y += lh;
        }
    }

    /// A table with a header repeated on every page it runs onto, wrapped cells and
    /// `footer` rows drawn bold-coloured at the end.
    fn table(&mut self, cols: &[Col], rows: &[Vec<Cell>], footer: &[Vec<Cell>], size: f64) {
        let total_w: f64 = cols.iter().map(|c| c.width).sum();
        let scale = if total_w > 0.0 {
            (RIGHT - LEFT) / total_w
        } else {
            1.0
        };
        let widths: Vec<f64> = cols.iter().map(|c| c.width * scale).collect();
        let lh = size * 1.3;
        let pad = 3.0;
        let layout = |cells: &[Cell], hdr: bool| -> (Vec<Vec<String>>, f64) {
            let lines: Vec<Vec<String>> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let text = if hdr {
                        cols[i].title.to_string()
                    } else {
                        cells.get(i).map(|c| c.text.clone()).unwrap_or_default()
                    };
                    let mut lines = wrap(&text, size, w - 2.0 * pad);
                    if lines.len() > MAX_CELL_LINES {
                        lines.truncate(MAX_CELL_LINES);
                        if let Some(last) = lines.last_mut() {
                            *last = clip(&format!("{last}..."), size, w - 2.0 * pad);
                        }
                    }
                    lines
                })
                .collect();
            let n = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
            (lines, n as f64 * lh + 2.0 * pad)
        };
        let (head_lines, head_h) = layout(&[], true);
        let draw_row = |doc: &mut Doc,
                        lines: &[Vec<String>],
                        cells: Option<&[Cell]>,
                        h: f64,
                        fill: Option<Rgb>| {
            let mut x = LEFT;
            for (i, w) in widths.iter().enumerate() {
                if let Some(fill) = fill {
                    doc.rect(x, doc.y, *w, h, fill);
                }
                doc.stroke_rect(x, doc.y, *w, h, RULE);
                let (color, align) = match cells {
                    Some(cells) => (
                        cells.get(i).map(|c| c.color).unwrap_or(BLACK),
                        cols[i].align,
                    ),
                    None => (GREEN, Align::Center),
                };
                for (k, line) in lines[i].iter().enumerate() {
                    let base = doc.y + pad + size * 0.95 + k as f64 * lh;
                    doc.text_aligned(x + pad, w - 2.0 * pad, base, size, line, color, align);
                }
                x += w;
            }
            doc.y += h;
        };
        let first_h = rows
            .first()
            .or(footer.first())
            .map(|r| layout(r, false).1)
            .unwrap_or(0.0);
        self.ensure(head_h + first_h);
        draw_row(self, &head_lines, None, head_h, Some(HEADER_FILL));
        let all = rows
            .iter()
            .map(|r| (r, false))
            .chain(footer.iter().map(|r| (r, true)));
        for (row, is_footer) in all {
            let (lines, h) = layout(row, false);
            if self.ensure(h) {
                draw_row(self, &head_lines, None, head_h, Some(HEADER_FILL));
            }
            let fill = if is_footer {
                Some((0.95, 0.97, 0.91))
            } else {
                None
            };
            draw_row(self, &lines, Some(row), h, fill);
        }
        self.y += 8.0;
    }
}

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
    let color = hex_rgb("c62828");
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
        let pct = if finite(y.prev_total_kg_co2e) > 0.0 {
            format!(
                "{}%",
                fmt_signed(share_of(y.change_kg_co2e, y.prev_total_kg_co2e) * 100.0, 1)
            )
        } else {
            "-".to_string()
        };
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

fn utf16_hex(s: &str) -> String {
    let mut out = String::from("FEFF");
    for unit in s.encode_utf16() {
        out.push_str(&format!("{unit:04X}"));
    }
    out
}

fn to_unicode_cmap(high_bytes: &BTreeSet<u8>) -> String {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let ranges: Vec<u8> = high_bytes
        .iter()
        .copied()
        .filter(|b| !(0xD8..=0xDF).contains(b))
        .collect();
    for chunk in ranges.chunks(100) {
        s.push_str(&format!("{} beginbfrange\n", chunk.len()));
        for b in chunk {
            s.push_str(&format!("<{b:02X}00> <{b:02X}FF> <{b:02X}00>\n"));
        }
        s.push_str("endbfrange\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s
}

fn stream_obj(content: &[u8]) -> Vec<u8> {
    let mut o = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    o.extend_from_slice(content);
    o.extend_from_slice(b"\nendstream");
    o
}

/// The report as PDF bytes.
pub fn report_pdf(m: &ReportModel) -> Vec<u8> {
    let mut d = layout(m);
    // Drop trailing empty pages (never the first), then add the footers.
    while d.pages.len() > 1 && d.pages.last().is_some_and(|p| p.is_empty()) {
        d.pages.pop();
    }
    let count = d.pages.len();
    let footer_left = format!(
        "{}｜統一編號 {}｜{} 年度溫室氣體盤查報告",
        m.company_name, m.tax_id, m.year
    );
    let footer_left = clip(&footer_left, 7.5, 400.0);
    let mut pages = std::mem::take(&mut d.pages);
    for (i, page) in pages.iter_mut().enumerate() {
        let mut foot = Doc {
            pages: vec![String::new()],
            y: 0.0,
            high_bytes: BTreeSet::new(),
        };
        let fy = PAGE_H - 36.0;
        foot.line(LEFT, fy - 10.0, RIGHT, fy - 10.0, 0.5, RULE);
        foot.text(LEFT, fy, 7.5, &footer_left, GREY);
        foot.text_aligned(
            LEFT,
            RIGHT - LEFT,
            fy,
            7.5,
            &format!("第 {} / {} 頁", i + 1, count),
            GREY,
            Align::Right,
        );
        d.high_bytes.extend(foot.high_bytes.iter().copied());
        page.push_str(&foot.pages.concat());
    }

    let mut objects: Vec<Vec<u8>> = Vec::new();
    let first_page_obj = 9;
    let kids: Vec<String> = (0..count)
        .map(|i| format!("{} 0 R", first_page_obj + 2 * i))
        .collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            count
        )
        .into_bytes(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /MSung-Light /Encoding /UniCNS-UCS2-H /DescendantFonts [4 0 R] /ToUnicode 6 0 R >>"
            .to_vec(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /MSung-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (CNS1) /Supplement 0 >> /FontDescriptor 5 0 R /DW 1000 >>"
            .to_vec(),
    );
    objects.push(
        b"<< /Type /FontDescriptor /FontName /MSung-Light /Flags 6 /FontBBox [-160 -249 1015 1071] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>"
            .to_vec(),
    );
    objects.push(stream_obj(to_unicode_cmap(&d.high_bytes).as_bytes()));
    objects.push(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    );
    objects.push(
        format!(
            "<< /Title <{}> /Subject <{}> /Producer (EcoSphere Carbon) >>",
            utf16_hex(&format!(
                "{} {} 年度溫室氣體盤查報告",
                m.company_name, m.year
            )),
            utf16_hex(&format!("統一編號 {}", m.tax_id))
        )
        .into_bytes(),
    );
    for (i, content) in pages.iter().enumerate() {
        let content_obj = first_page_obj + 2 * i + 1;
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources << /Font << /F1 3 0 R /F2 7 0 R >> /ProcSet [/PDF /Text] >> /Contents {} 0 R >>",
                f(PAGE_W),
                f(PAGE_H),
                content_obj
            )
            .into_bytes(),
        );
        objects.push(stream_obj(content.as_bytes()));
    }

    let mut out: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 8 0 R >>\nstartxref\n{}\n%%EOF\n",
            objects.len() + 1,
            xref
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::tests::{sample_model, zero_model};
    use crate::report::model::InventoryRow;
    use std::process::Command;

    fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    }

    fn ascii_until(bytes: &[u8], from: usize, stop: u8) -> String {
        bytes[from..]
            .iter()
            .take_while(|b| **b != stop)
            .map(|b| *b as char)
            .collect()
    }

    /// Parses the xref table back: every entry points at "n 0 obj", every stream's
    /// /Length ends right before "endstream". Returns the number of objects.
    fn check_structure(pdf: &[u8]) -> usize {
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let sx = find(pdf, b"startxref\n", pdf.len().saturating_sub(64)).expect("startxref");
        let xref: usize = ascii_until(pdf, sx + 10, b'\n')
            .parse()
            .expect("xref offset");
        assert!(
            pdf[xref..].starts_with(b"xref\n0 "),
            "startxref points at xref"
        );
        let count: usize = ascii_until(pdf, xref + 7, b'\n').parse().expect("count");
        let mut pos = find(pdf, b"\n", xref + 7).expect("eol") + 1;
        assert_eq!(&pdf[pos..pos + 20], b"0000000000 65535 f \n");
        pos += 20;
        for n in 1..count {
            let entry = &pdf[pos..pos + 20];
            assert_eq!(&entry[10..], b" 00000 n \n", "entry {n}");
            let off: usize = std::str::from_utf8(&entry[..10])
                .expect("ascii")
                .parse()
                .expect("offset");
            let head = format!("{n} 0 obj\n");
            assert!(
                pdf[off..].starts_with(head.as_bytes()),
                "object {n} at {off}"
            );
            let end = find(pdf, b"endobj", off).expect("endobj");
            if let Some(st) = find(&pdf[..end], b"stream\n", off) {
                let len_at = find(pdf, b"/Length ", off).expect("length");
                let len: usize = ascii_until(pdf, len_at + 8, b' ')
                    .parse()
                    .expect("length value");
                let data = st + 7;
                assert!(
                    pdf[data + len..].starts_with(b"\nendstream\nendobj"),
                    "stream {n} length"
                );
            }
            pos += 20;
        }
        assert!(find(pdf, b"trailer\n<< /Size ", pos).is_some());
        count - 1
    }

    fn page_count(pdf: &[u8]) -> usize {
        pdf.windows(12).filter(|w| w == b"/Type /Page ").count()
    }

    fn tmp_file(name: &str, pdf: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!(
            "ecosphere-report-{}-{name}.pdf",
            std::process::id()
        ));
        std::fs::write(&path, pdf).expect("write temp pdf");
        path
    }

    /// (text, pages) from poppler, or None when the tools are not installed.
    fn poppler(path: &std::path::Path) -> Option<(String, usize)> {
        let text = Command::new("pdftotext")
            .arg("-layout")
            .arg(path)
            .arg("-")
            .output()
            .ok()?;
        let info = Command::new("pdfinfo").arg(path).output().ok()?;
        assert!(
            text.status.success(),
            "pdftotext failed: {}",
            String::from_utf8_lossy(&text.stderr)
        );
        assert!(
            info.status.success(),
            "pdfinfo failed: {}",
            String::from_utf8_lossy(&info.stderr)
        );
        let info = String::from_utf8_lossy(&info.stdout).to_string();
        let pages = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("pdfinfo pages");
        Some((String::from_utf8_lossy(&text.stdout).to_string(), pages))
    }

    #[test]
    fn structure_is_valid_and_output_deterministic() {
        let m = sample_model();
        let a = report_pdf(&m);
        let b = report_pdf(&m);
        assert_eq!(a, b, "same model, same bytes");
        let objects = check_structure(&a);
        let pages = page_count(&a);
        assert!(pages >= 3);
        assert_eq!(objects, 8 + 2 * pages);
        let s = String::from_utf8_lossy(&a);
        for needle in [
            "/BaseFont /MSung-Light",
            "/Encoding /UniCNS-UCS2-H",
            "/Subtype /CIDFontType0",
            "/Ordering (CNS1) /Supplement 0",
            "/Type /FontDescriptor",
            "/ToUnicode 6 0 R",
            "beginbfrange",
            "/BaseFont /Helvetica",
            " re f\n",
            " l S\n",
        ] {
            assert!(s.contains(needle), "missing {needle}");
        }
        // Every page has content beyond its footer, and no NaN anywhere.
        assert!(!s.contains("NaN") && !s.contains("inf"));
        let zero = report_pdf(&zero_model());
        check_structure(&zero);
        assert!(!String::from_utf8_lossy(&zero).contains("NaN"));
    }

    #[test]
    fn every_page_has_content() {
        for m in [sample_model(), zero_model()] {
            let pages = layout(&m).pages;
            assert!(
                pages.iter().all(|p| p.contains(" Tj")),
                "a page without text"
            );
        }
    }

    #[test]
    fn company_tax_id_and_total_are_extractable() {
        let m = sample_model();
        let pdf = report_pdf(&m);
        let path = tmp_file("sample", &pdf);
        let Some((text, pages)) = poppler(&path) else {
            eprintln!("note: pdftotext/pdfinfo not on PATH, extraction check skipped");
            return;
        };
        let _ = std::fs::remove_file(&path);
        assert!(text.contains(&m.company_name), "company name in\n{text}");
        assert!(text.contains("統一編號") && text.contains(&m.tax_id));
        assert!(
            text.contains(&format!("{} 公噸CO2e", fmt_tonnes(m.total_kg_co2e))),
            "total in\n{text}"
        );
        assert!(text.contains(&fmt_kg(m.total_kg_co2e)));
        assert!(text.contains("盤查清冊") && text.contains("暫用") && text.contains("未查證"));
        assert_eq!(pages, page_count(&pdf));
    }

    #[test]
    fn sixty_rows_paginate() {
        let mut m = sample_model();
        let base = m.inventory[1].clone();
        m.inventory = (1..=60)
            .map(|i| InventoryRow {
                source: format!("排放源{i:02}"),
                kg_co2e: 100.0 + f64::from(i),
                ..base.clone()
            })
            .collect();
        let short = report_pdf(&sample_model());
        let pdf = report_pdf(&m);
        check_structure(&pdf);
        let pages = page_count(&pdf);
        assert!(
            pages > page_count(&short),
            "60 rows need more pages: {pages}"
        );
        let path = tmp_file("sixty", &pdf);
        let Some((text, poppler_pages)) = poppler(&path) else {
            eprintln!("note: pdftotext/pdfinfo not on PATH, extraction check skipped");
            return;
        };
        let _ = std::fs::remove_file(&path);
        assert_eq!(poppler_pages, pages);
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
        for page in &d.pages {
            for op in page.lines().filter(|l| l.contains(" Tm ")) {
                let before: Vec<&str> = op.split(" Tm ").next().unwrap_or("").split(' ').collect();
                let y: f64 = before.last().and_then(|v| v.parse().ok()).expect("y of Tm");
                assert!(
                    (PAGE_H - BOTTOM - 0.01..=PAGE_H - TOP + 40.0).contains(&y),
                    "text at y={y}"
                );
            }
        }
        assert!(d.pages.len() > layout(&sample_model()).pages.len());
    }

    #[test]
    fn wrap_and_widths() {
        assert!((text_width("中文", 10.0) - 20.0).abs() < 1e-9);
        assert!((text_width("ab", 10.0) - (5.56 + 5.56)).abs() < 1e-9);
        let lines = wrap("一二三四五六七", 10.0, 30.0);
        assert_eq!(lines, vec!["一二三", "四五六", "七"]);
        assert_eq!(wrap("hello world", 10.0, 40.0), vec!["hello", "world"]);
        assert_eq!(wrap("", 10.0, 40.0), vec![""]);
        assert_eq!(wrap("a\nb", 10.0, 40.0), vec!["a", "b"]);
        assert!(text_width(&clip("很長很長很長的排放源名稱", 10.0, 50.0), 10.0) <= 50.0);
        assert_eq!(normalize('³'), Some('3'));
        assert_eq!(normalize('😀'), Some('?'));
    }

    #[test]
    fn text_is_split_into_font_runs() {
        let mut d = Doc::new();
        d.text(10.0, 20.0, 9.0, "統一編號 12", BLACK);
        let op = &d.pages[0];
        assert!(op.contains("/F1 9 Tf <7D714E007DE8865F> Tj"), "{op}");
        assert!(op.contains("/F2 9 Tf <203132> Tj"), "{op}");
        assert!(
            d.high_bytes.contains(&0x7D)
                && d.high_bytes.contains(&0x4E)
                && d.high_bytes.contains(&0x86)
        );
        let cmap = to_unicode_cmap(&d.high_bytes);
        assert!(cmap.contains("<7D00> <7DFF> <7D00>"));
    }

    /// Writes /tmp/report-sample.pdf (and page 1 as PNG when pdftoppm exists) for a person to look at.
    #[test]
    fn render_sample_file() {
        let pdf = report_pdf(&sample_model());
        if std::fs::write("/tmp/report-sample.pdf", &pdf).is_ok() {
            let _ = Command::new("pdftoppm")
                .args([
                    "-png",
                    "-r",
                    "60",
                    "/tmp/report-sample.pdf",
                    "/tmp/report-sample",
                ])
                .status();
            let html = crate::report::html::report_html(&sample_model());
            let _ = std::fs::write("/tmp/report-sample.html", html);
        }
    }
}
