//! A small page-layout canvas for the product's PDFs: A4 pages laid out top-down
//! (text, filled and stroked rectangles, lines, tables with repeated headers), written with
//! krilla in Noto Sans CJK TC, embedded and subset (see `report::font`). The report and the
//! carbon statement are both drawn on it.
//!
//! Layout is separate from writing: `Doc` records drawing operations per page, so the
//! layout can be tested without writing a PDF, and `Doc::finish` writes them once.

use krilla::color::rgb;
use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::embed::{AssociationKind, EmbeddedFile, MimeType};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};

use crate::report::font::{fonts, FontError, Fonts};

pub const PAGE_W: f64 = 595.0;
pub const PAGE_H: f64 = 842.0;
pub const LEFT: f64 = 40.0;
pub const RIGHT: f64 = PAGE_W - 40.0;
pub const TOP: f64 = 48.0;
/// Content stops here; the footer lives below.
pub const BOTTOM: f64 = PAGE_H - 56.0;

/// A table cell shows at most this many lines, so a row always fits on a page.
const MAX_CELL_LINES: usize = 12;

pub type Rgb = (f64, f64, f64);
pub const BLACK: Rgb = (0.13, 0.13, 0.13);
pub const GREY: Rgb = (0.4, 0.4, 0.4);
pub const GREEN: Rgb = (0.106, 0.369, 0.125);
pub const WHITE: Rgb = (1.0, 1.0, 1.0);
pub const ORANGE: Rgb = (0.9, 0.32, 0.0);
pub const RED: Rgb = (0.72, 0.11, 0.11);
pub const HEADER_FILL: Rgb = (0.91, 0.96, 0.91);
pub const RULE: Rgb = (0.74, 0.74, 0.74);

pub fn hex_rgb(hex: &str) -> Rgb {
    let part = |i: usize| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).map(|v| f64::from(v) / 255.0).unwrap_or(0.6);
    if hex.len() == 6 {
        (part(0), part(2), part(4))
    } else {
        (0.6, 0.6, 0.6)
    }
}

/// Why a PDF could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(transparent)]
    Font(#[from] FontError),
    #[error("PDF writer: {0}")]
    Writer(String),
}

/// The character actually drawn: controls become spaces, a few symbols get stand-ins,
/// and a character the font lacks becomes '?' (never an invisible .notdef box).
pub fn normalize(c: char) -> Option<char> {
    let c = match c {
        '\n' | '\r' | '\t' | '\u{a0}' | '\u{3000}' => ' ',
        c if c.is_control() => return None,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}' => return None,
        '³' | '₃' => '3',
        '²' | '₂' => '2',
        '₄' => '4',
        c => c,
    };
    match fonts() {
        Ok(f) if !f.regular.has(c) => Some('?'),
        Err(_) if u32::from(c) > 0xFFFF => Some('?'),
        _ => Some(c),
    }
}

/// Advance of one (normalized) character at `size` points.
pub fn char_width(c: char, size: f64) -> f64 {
    match fonts() {
        Ok(f) => f.regular.advance(c) * size,
        // Without the font nothing is written; an estimate keeps layout total.
        Err(_) => (if c.is_ascii() { 0.55 } else { 1.0 }) * size,
    }
}

/// Width of `s` at `size` points.
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars().filter_map(normalize).map(|c| char_width(c, size)).sum()
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
pub fn clip(s: &str, size: f64, width: f64) -> String {
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

#[derive(Clone, Copy, PartialEq)]
pub enum Align {
    Left,
    Right,
    Center,
}

pub struct Col {
    pub title: &'static str,
    pub width: f64,
    pub align: Align,
}

pub struct Cell {
    pub text: String,
    pub color: Rgb,
}

pub fn cell(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        color: BLACK,
    }
}


/// One drawing operation; `y` grows downwards from the top of the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Text with its baseline at `y`.
    Text { x: f64, y: f64, size: f64, text: String, color: Rgb, bold: bool },
    /// Filled rectangle; `y` is its top edge.
    Fill { x: f64, y: f64, w: f64, h: f64, color: Rgb },
    /// Stroked rectangle outline.
    Frame { x: f64, y: f64, w: f64, h: f64, color: Rgb },
    Line { x1: f64, y1: f64, x2: f64, y2: f64, width: f64, color: Rgb },
}

/// Document information and what the writer is to embed.
pub struct DocInfo {
    pub title: String,
    pub subject: String,
    pub keywords: Vec<String>,
    /// The document's date (also the attachment's modification date), UTC.
    pub date: chrono::DateTime<chrono::Utc>,
    /// Files attached inside the PDF (PDF/A-3): name, MIME type, description, bytes.
    pub attachments: Vec<Attachment>,
}

pub struct Attachment {
    pub name: String,
    pub mime: String,
    pub description: String,
    pub data: Vec<u8>,
}

/// Pages being laid out top-down.
pub struct Doc {
    pub pages: Vec<Vec<Op>>,
    pub y: f64,
}

impl Default for Doc {
    fn default() -> Self {
        Self::new()
    }
}

impl Doc {
    pub fn new() -> Self {
        Doc { pages: vec![Vec::new()], y: TOP }
    }

    fn out(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// Starts a new page unless `h` more points fit; true when a page was started.
    pub fn ensure(&mut self, h: f64) -> bool {
        if self.y + h > BOTTOM && self.y > TOP + 0.5 {
            self.new_page();
            true
        } else {
            false
        }
    }

    fn push_text(&mut self, x: f64, y: f64, size: f64, s: &str, color: Rgb, bold: bool) {
        let text: String = s.chars().filter_map(normalize).collect();
        if text.trim().is_empty() {
            return;
        }
        self.out().push(Op::Text { x, y, size, text, color, bold });
    }

    /// Text with its baseline at `y` (from the top).
    pub fn text(&mut self, x: f64, y: f64, size: f64, s: &str, color: Rgb) {
        self.push_text(x, y, size, s, color, false);
    }

    pub fn text_bold(&mut self, x: f64, y: f64, size: f64, s: &str, color: Rgb) {
        self.push_text(x, y, size, s, color, true);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn text_aligned(&mut self, x: f64, width: f64, y: f64, size: f64, s: &str, color: Rgb, align: Align) {
        let w = text_width(s, size);
        let x = match align {
            Align::Left => x,
            Align::Right => x + width - w,
            Align::Center => x + (width - w) / 2.0,
        };
        self.text(x, y, size, s, color);
    }

    /// Filled rectangle; `y` is its top edge.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb) {
        if w > 0.0 && h > 0.0 && [x, y, w, h].iter().all(|v| v.is_finite()) {
            self.out().push(Op::Fill { x, y, w, h, color });
        }
    }

    pub fn stroke_rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb) {
        if w > 0.0 && h > 0.0 && [x, y, w, h].iter().all(|v| v.is_finite()) {
            self.out().push(Op::Frame { x, y, w, h, color });
        }
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, width: f64, color: Rgb) {
        if [x1, y1, x2, y2, width].iter().all(|v| v.is_finite()) {
            self.out().push(Op::Line { x1, y1, x2, y2, width, color });
        }
    }

    /// Drops trailing empty pages (never the first).
    pub fn trim(&mut self) {
        while self.pages.len() > 1 && self.pages.last().is_some_and(|p| p.is_empty()) {
            self.pages.pop();
        }
    }

    /// Adds `footer(page_index, page_count)` to every page.
    pub fn add_footers(&mut self, footer: impl Fn(&mut Doc, usize, usize)) {
        self.trim();
        let count = self.pages.len();
        let pages = std::mem::take(&mut self.pages);
        let mut out = Vec::with_capacity(count);
        for (i, mut page) in pages.into_iter().enumerate() {
            let mut foot = Doc::new();
            footer(&mut foot, i, count);
            page.extend(foot.pages.into_iter().flatten());
            out.push(page);
        }
        self.pages = out;
    }

    /// Writes the pages as PDF/A (2u, or 3u when something is attached), every font
    /// embedded and subset.
    pub fn finish(self, info: &DocInfo) -> Result<Vec<u8>, PdfError> {
        let f = fonts()?;
        write_pdf(&self.pages, info, f)
    }
    /// A section heading; keeps `keep` more points on the same page.
    pub fn heading(&mut self, s: &str, keep: f64) {
        self.ensure(30.0 + keep);
        self.y += 10.0;
        self.text_bold(LEFT, self.y + 12.0, 13.0, s, GREEN);
        self.y += 17.0;
        self.line(LEFT, self.y, RIGHT, self.y, 1.2, GREEN);
        self.y += 8.0;
    }

    pub fn paragraph(&mut self, s: &str, size: f64, color: Rgb) {
        self.paragraph_at(LEFT, RIGHT - LEFT, s, size, color);
    }

    pub fn paragraph_at(&mut self, x: f64, width: f64, s: &str, size: f64, color: Rgb) {
        let lh = size * 1.45;
        for line in wrap(s, size, width) {
            self.ensure(lh);
            self.text(x, self.y + size, size, &line, color);
            self.y += lh;
        }
    }

    /// A table with a header repeated on every page it runs onto, wrapped cells and
    /// `footer` rows drawn bold-coloured at the end.
    pub fn table(&mut self, cols: &[Col], rows: &[Vec<Cell>], footer: &[Vec<Cell>], size: f64) {
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

fn krilla_color(c: Rgb) -> rgb::Color {
    let b = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    rgb::Color::new(b(c.0), b(c.1), b(c.2))
}

fn fill(c: Rgb) -> Fill {
    Fill { paint: krilla_color(c).into(), opacity: NormalizedF32::ONE, rule: Default::default() }
}

fn rect_path(x: f64, y: f64, w: f64, h: f64) -> Option<krilla::geom::Path> {
    let mut pb = PathBuilder::new();
    pb.push_rect(Rect::from_xywh(x as f32, y as f32, w as f32, h as f32)?);
    pb.finish()
}

fn pdf_date(d: chrono::DateTime<chrono::Utc>) -> DateTime {
    use chrono::{Datelike, Timelike};
    DateTime::new(d.year().clamp(0, 9999) as u16)
        .month(d.month() as u8)
        .day(d.day() as u8)
        .hour(d.hour() as u8)
        .minute(d.minute() as u8)
        .second(d.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

fn write_pdf(pages: &[Vec<Op>], info: &DocInfo, fonts: &Fonts) -> Result<Vec<u8>, PdfError> {
    let archival = if info.attachments.is_empty() { Archival::A2_U } else { Archival::A3_U };
    let configuration = ConfigurationBuilder::new()
        .with_archival_validator(archival)
        .finish()
        .map_err(|e| PdfError::Writer(format!("{e:?}")))?;
    let settings = SerializeSettings { configuration, enable_tagging: false, ..Default::default() };
    let mut document = Document::new_with(settings);
    let date = pdf_date(info.date);
    document.set_metadata(
        Metadata::new()
            .title(info.title.clone())
            .description(info.subject.clone())
            .keywords(info.keywords.clone())
            .language("zh-TW".into())
            .creator("EcoSphere Carbon".into())
            .producer("EcoSphere Carbon (krilla)".into())
            .creation_date(date),
    );
    let load = |face: &crate::report::font::Face| {
        Font::new(face.data().into(), face.index).ok_or_else(|| PdfError::Writer(format!("font {} is not readable", face.path.display())))
    };
    let regular = load(&fonts.regular)?;
    let bold = load(&fonts.bold)?;
    for ops in pages {
        let settings = PageSettings::from_wh(PAGE_W as f32, PAGE_H as f32).ok_or_else(|| PdfError::Writer("page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text { x, y, size, text, color, bold: is_bold } => {
                    surface.set_stroke(None);
                    surface.set_fill(Some(fill(*color)));
                    let font = if *is_bold { bold.clone() } else { regular.clone() };
                    surface.draw_text(Point::from_xy(*x as f32, *y as f32), font, *size as f32, text, false, TextDirection::Auto);
                }
                Op::Fill { x, y, w, h, color } => {
                    if let Some(path) = rect_path(*x, *y, *w, *h) {
                        surface.set_stroke(None);
                        surface.set_fill(Some(fill(*color)));
                        surface.draw_path(&path);
                    }
                }
                Op::Frame { x, y, w, h, color } => {
                    if let Some(path) = rect_path(*x, *y, *w, *h) {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke { paint: krilla_color(*color).into(), width: 0.5, ..Default::default() }));
                        surface.draw_path(&path);
                    }
                }
                Op::Line { x1, y1, x2, y2, width, color } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x1 as f32, *y1 as f32);
                    pb.line_to(*x2 as f32, *y2 as f32);
                    if let Some(path) = pb.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke { paint: krilla_color(*color).into(), width: *width as f32, ..Default::default() }));
                        surface.draw_path(&path);
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
    for a in &info.attachments {
        let file = EmbeddedFile {
            path: a.name.clone(),
            mime_type: MimeType::new(&a.mime),
            description: Some(a.description.clone()),
            association_kind: AssociationKind::Data,
            data: a.data.clone().into(),
            modification_date: Some(date),
            compress: Some(true),
            location: None,
        };
        document.embed_file(file).ok_or_else(|| PdfError::Writer(format!("attachment {} twice", a.name)))?;
    }
    document.finish().map_err(|e| PdfError::Writer(format!("{e:?}")))
}
