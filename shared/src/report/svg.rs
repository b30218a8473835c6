//! Standalone SVG charts for the HTML report: no scripts, no external assets, every
//! label escaped, and no NaN whatever the data (empty, all zero, non-finite).

use crate::report::model::{finite, fmt_num};

const FONT: &str =
    "'Noto Sans TC','Noto Sans CJK TC','Microsoft JhengHei','PingFang TC',sans-serif";

/// One series of a stacked bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// Hex colour without '#', e.g. "2e7d32"; anything else is drawn grey.
    pub color: String,
}

/// One bar of a horizontal bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct HBar {
    pub label: String,
    pub value: f64,
    /// Shown after the value, e.g. "45.2%｜累計 45.2%".
    pub note: String,
}

fn esc(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

fn esc_attr(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

/// A "#rrggbb" colour for an SVG attribute; grey for anything that is not hex.
fn color(c: &str) -> String {
    let ok = (c.len() == 6 || c.len() == 3) && c.chars().all(|ch| ch.is_ascii_hexdigit());
    if ok {
        format!("#{c}")
    } else {
        "#9e9e9e".to_string()
    }
}

/// Coordinates: one decimal, never NaN.
fn n(v: f64) -> String {
    format!("{:.1}", finite(v))
}

/// The smallest "nice" number (1, 2, 2.5, 5 × 10^k) at least `v`; 1 when `v` is not positive.
pub fn nice_max(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let exp = 10f64.powf(v.log10().floor());
    let f = v / exp;
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|c| *c >= f * (1.0 - 1e-12))
        .unwrap_or(10.0);
    nice * exp
}

/// Decimals for axis labels with the given tick step.
fn tick_decimals(step: f64) -> usize {
    if !step.is_finite() || step <= 0.0 || step >= 1.0 {
        return 0;
    }
    ((-step.log10().floor()) as usize
        + usize::from(step * 10f64.powf(-step.log10().floor()) % 1.0 > 1e-9))
    .min(6)
}

/// Decimals for value labels of a chart whose largest value is `max`.
fn value_decimals(max: f64) -> usize {
    if max >= 100.0 {
        0
    } else if max >= 1.0 {
        1
    } else {
        3
    }
}

/// Cuts a label to `max` characters, with "…".
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn open(width: f64, height: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\" font-family=\"{FONT}\"><title>{tt}</title><rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/><text x=\"{cx}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\" fill=\"#222\">{tt}</text>",
        w = n(width),
        h = n(height),
        t = esc_attr(title),
        tt = esc(title),
        cx = n(width / 2.0),
    )
}

/// A vertical stacked bar chart: one bar per x label, one stacked segment per series.
/// `values[i][j]` is bar `i`, series `j` (missing or negative values count as 0).
/// Draws a y axis with ticks and `unit`, x labels, the total above each bar and a legend.
pub fn stacked_bars(
    title: &str,
    unit: &str,
    x_labels: &[String],
    series: &[Series],
    values: &[Vec<f64>],
) -> String {
    let (width, height) = (720.0, 340.0);
    let (left, right, top, bottom) = (78.0, 16.0, 40.0, 84.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let value = |i: usize, j: usize| -> f64 {
        values
            .get(i)
            .and_then(|row| row.get(j))
            .copied()
            .map(finite)
            .unwrap_or(0.0)
            .max(0.0)
    };
    let totals: Vec<f64> = (0..x_labels.len())
        .map(|i| (0..series.len()).map(|j| value(i, j)).sum())
        .collect();
    let max_total = totals.iter().copied().fold(0.0, f64::max);
    let axis_max = nice_max(max_total);
    let step = axis_max / 5.0;
    let decimals = tick_decimals(step);
    let y_of = |v: f64| top + plot_h - (v / axis_max) * plot_h;

    let mut s = open(width, height, title);
    // Grid, ticks and y labels.
    for k in 0..=5 {
        let v = step * k as f64;
        let y = y_of(v);
        s.push_str(&format!(
            "<line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#e0e0e0\" stroke-width=\"1\"/><text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\" font-size=\"10\" fill=\"#444\">{label}</text>",
            x1 = n(left),
            x2 = n(left + plot_w),
            y = n(y),
            tx = n(left - 6.0),
            ty = n(y + 3.5),
            label = fmt_num(v, decimals),
        ));
    }
    // Axes.
    s.push_str(&format!(
        "<line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\" stroke=\"#333\" stroke-width=\"1\"/><line x1=\"{l}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#333\" stroke-width=\"1\"/>",
        l = n(left),
        t = n(top),
        b = n(top + plot_h),
        r = n(left + plot_w),
    ));
    s.push_str(&format!(
        "<text x=\"14\" y=\"{y}\" transform=\"rotate(-90 14 {y})\" text-anchor=\"middle\" font-size=\"11\" fill=\"#444\">{u}</text>",
        y = n(top + plot_h / 2.0),
        u = esc(unit),
    ));
    if x_labels.is_empty() {
        s.push_str(&format!(
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" font-size=\"13\" fill=\"#777\">無資料</text>",
            x = n(left + plot_w / 2.0),
            y = n(top + plot_h / 2.0),
        ));
    } else {
        let slot = plot_w / x_labels.len() as f64;
        let bar_w = slot * 0.62;
        let vdec = value_decimals(max_total);
        let label_size = if slot < 34.0 { 8.0 } else { 10.0 };
        for (i, label) in x_labels.iter().enumerate() {
            let x = left + slot * i as f64 + (slot - bar_w) / 2.0;
            let mut acc = 0.0;
            for (j, ser) in series.iter().enumerate() {
                let v = value(i, j);
                if v <= 0.0 {
                    continue;
                }
                let y_top = y_of(acc + v);
                let h = y_of(acc) - y_top;
                s.push_str(&format!(
                    "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{c}\"><title>{t}</title></rect>",
                    x = n(x),
                    y = n(y_top),
                    w = n(bar_w),
                    h = n(h),
                    c = color(&ser.color),
                    t = esc(&format!("{} {}：{} {}", label, ser.label, fmt_num(v, 2), unit)),
                ));
                acc += v;
            }
            s.push_str(&format!(
                "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#222\">{v}</text>",
                x = n(x + bar_w / 2.0),
                y = n(y_of(totals[i]) - 4.0),
                v = fmt_num(totals[i], vdec),
            ));
            s.push_str(&format!(
                "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" font-size=\"{fs}\" fill=\"#444\">{l}</text>",
                x = n(x + bar_w / 2.0),
                y = n(top + plot_h + 16.0),
                fs = n(label_size),
                l = esc(&clip(label, 10)),
            ));
        }
    }
    // Legend.
    let mut lx = left;
    let ly = height - 22.0;
    for ser in series {
        s.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{c}\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"11\" fill=\"#222\">{l}</text>",
            x = n(lx),
            y = n(ly - 10.0),
            c = color(&ser.color),
            tx = n(lx + 16.0),
            ty = n(ly),
            l = esc(&ser.label),
        ));
        lx += 16.0 + ser.label.chars().count() as f64 * 11.0 + 18.0;
    }
    s.push_str("</svg>");
    s
}

/// A horizontal bar chart (largest first as given): label on the left, bar, then the value
/// and `note`. Draws an x axis with ticks and `unit`, and a one-entry legend (`series_label`).
pub fn horizontal_bars(
    title: &str,
    unit: &str,
    series_label: &str,
    bar_color: &str,
    bars: &[HBar],
) -> String {
    let width = 720.0;
    let (left, right, top) = (190.0, 190.0, 40.0);
    let row_h = 26.0;
    let rows = bars.len().max(1) as f64;
    let plot_w = width - left - right;
    let plot_h = rows * row_h;
    let height = top + plot_h + 70.0;
    let max = bars
        .iter()
        .map(|b| finite(b.value).max(0.0))
        .fold(0.0, f64::max);
    let axis_max = nice_max(max);
    let step = axis_max / 5.0;
    let decimals = tick_decimals(step);
    let x_of = |v: f64| left + (v / axis_max) * plot_w;

    let mut s = open(width, height, title);
    for k in 0..=5 {
        let v = step * k as f64;
        let x = x_of(v);
        s.push_str(&format!(
            "<line x1=\"{x}\" y1=\"{t}\" x2=\"{x}\" y2=\"{b}\" stroke=\"#e0e0e0\" stroke-width=\"1\"/><text x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#444\">{l}</text>",
            x = n(x),
            t = n(top),
            b = n(top + plot_h),
            ty = n(top + plot_h + 14.0),
            l = fmt_num(v, decimals),
        ));
    }
    s.push_str(&format!(
        "<line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\" stroke=\"#333\" stroke-width=\"1\"/><line x1=\"{l}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#333\" stroke-width=\"1\"/><text x=\"{cx}\" y=\"{uy}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#444\">{u}</text>",
        l = n(left),
        t = n(top),
        b = n(top + plot_h),
        r = n(left + plot_w),
        cx = n(left + plot_w / 2.0),
        uy = n(top + plot_h + 30.0),
        u = esc(unit),
    ));
    if bars.is_empty() {
        s.push_str(&format!(
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" font-size=\"13\" fill=\"#777\">無資料</text>",
            x = n(left + plot_w / 2.0),
            y = n(top + row_h / 2.0 + 4.0),
        ));
    }
    let vdec = value_decimals(max);
    for (i, bar) in bars.iter().enumerate() {
        let v = finite(bar.value).max(0.0);
        let y = top + row_h * i as f64 + 4.0;
        let bw = x_of(v) - left;
        s.push_str(&format!(
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" font-size=\"11\" fill=\"#222\">{l}<title>{full}</title></text><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{c}\"/><text x=\"{vx}\" y=\"{ty}\" font-size=\"10\" fill=\"#222\">{val}</text>",
            lx = n(left - 6.0),
            ty = n(y + row_h / 2.0 + 1.0),
            l = esc(&clip(&bar.label, 16)),
            full = esc(&bar.label),
            x = n(left),
            y = n(y),
            w = n(bw),
            h = n(row_h - 8.0),
            c = color(bar_color),
            vx = n(left + bw + 6.0),
            val = esc(&if bar.note.is_empty() {
                fmt_num(v, vdec)
            } else {
                format!("{}（{}）", fmt_num(v, vdec), bar.note)
            }),
        ));
    }
    let ly = height - 16.0;
    s.push_str(&format!(
        "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{c}\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"11\" fill=\"#222\">{l}</text>",
        x = n(left),
        y = n(ly - 10.0),
        c = color(bar_color),
        tx = n(left + 16.0),
        ty = n(ly),
        l = esc(series_label),
    ));
    s.push_str("</svg>");
    s
}

/// Test helper shared with the HTML tests: checks that every element opened is closed in
/// order (self-closing tags allowed; HTML void elements skipped). Returns the first problem.
#[cfg(test)]
pub(crate) fn check_balanced(doc: &str) -> Result<(), String> {
    const VOID: [&str; 6] = ["meta", "br", "hr", "img", "link", "input"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").ok_or("unterminated comment")?;
            rest = &rest[end + 3..];
            continue;
        }
        let end = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        } else if !tag.ends_with('/') {
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            if name.is_empty() {
                return Err(format!("bad tag <{tag}>"));
            }
            if !VOID.contains(&name.as_str()) {
                stack.push(name);
            }
        }
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed {stack:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes() -> Vec<Series> {
        vec![
            Series {
                label: "範疇一".into(),
                color: "2e7d32".into(),
            },
            Series {
                label: "範疇<二>".into(),
                color: "\"><script>".into(),
            },
        ]
    }

    #[test]
    fn nice_max_rounds_up_to_nice_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        assert_eq!(nice_max(-3.0), 1.0);
        assert!((nice_max(7.3) - 10.0).abs() < 1e-9);
        assert!((nice_max(1234.0) - 2000.0).abs() < 1e-9);
        assert!((nice_max(2100.0) - 2500.0).abs() < 1e-9);
        assert!((nice_max(0.031) - 0.05).abs() < 1e-12);
        assert!((nice_max(500.0) - 500.0).abs() < 1e-9);
        assert_eq!(tick_decimals(0.5), 1);
        assert_eq!(tick_decimals(0.25), 2);
        assert_eq!(tick_decimals(400.0), 0);
    }

    #[test]
    fn stacked_bars_scale_to_the_largest_total_and_escape() {
        let labels = vec!["2025-01".to_string(), "2025-02".to_string()];
        let svg = stacked_bars(
            "月別<趨勢>",
            "kgCO2e",
            &labels,
            &scopes(),
            &[vec![100.0, 50.0], vec![300.0, 100.0]],
        );
        check_balanced(&svg).expect("balanced");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("月別&lt;趨勢&gt;"));
        assert!(svg.contains("範疇&lt;二&gt;"));
        assert!(!svg.contains("<script"));
        // The bad colour is replaced, the good one kept.
        assert!(svg.contains("#2e7d32") && svg.contains("#9e9e9e"));
        // Axis up to 500 (nice max of 400), totals written above the bars.
        assert!(svg.contains(">500<"));
        assert!(svg.contains(">150<") && svg.contains(">400<"));
        // Bar 2 scope 1 (300 of 500 over a 216 px plot) is 129.6 px high.
        assert!(svg.contains("height=\"129.6\""), "{svg}");
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn charts_survive_empty_and_zero_data() {
        let labels: Vec<String> = (1..=12).map(|m| format!("2025-{m:02}")).collect();
        for svg in [
            stacked_bars("t", "kg", &labels, &scopes(), &[]),
            stacked_bars("t", "kg", &[], &scopes(), &[]),
            stacked_bars(
                "t",
                "kg",
                &labels[..1],
                &scopes(),
                &[vec![f64::NAN, f64::INFINITY]],
            ),
            horizontal_bars("t", "kg", "排放量", "1565c0", &[]),
            horizontal_bars(
                "t",
                "kg",
                "排放量",
                "1565c0",
                &[HBar {
                    label: "a".into(),
                    value: 0.0,
                    note: String::new(),
                }],
            ),
        ] {
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
            check_balanced(&svg).expect("balanced");
        }
        assert!(stacked_bars("t", "kg", &[], &scopes(), &[]).contains("無資料"));
    }

    #[test]
    fn horizontal_bars_have_labels_values_and_legend() {
        let bars = vec![
            HBar {
                label: "外購電力".into(),
                value: 800.0,
                note: "80.0%｜累計 80.0%".into(),
            },
            HBar {
                label: "<b>汽油</b>".into(),
                value: 200.0,
                note: String::new(),
            },
        ];
        let svg = horizontal_bars("排放熱區", "kgCO2e", "排放量", "c62828", &bars);
        check_balanced(&svg).expect("balanced");
        assert!(svg.contains("外購電力") && svg.contains("&lt;b&gt;汽油"));
        assert!(svg.contains("800（80.0%｜累計 80.0%）"));
        assert!(svg.contains(">1,000<"), "axis to nice max 1000");
        // 800 of 1000 over a 340 px plot.
        assert!(svg.contains("width=\"272.0\""));
        assert!(svg.contains(">排放量<"));
    }
}
