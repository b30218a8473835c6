//! The text layer of a PDF, page by page. A page without text (a scan) gives an empty
//! string, so the caller knows to OCR it.
//!
//! Text comes from `pdf-extract` (run under `catch_unwind`: it panics on fonts it does
//! not support), with a small reader of our own as the fallback: it walks the page's
//! content stream and maps the shown strings through the font's `ToUnicode` CMap, or
//! as UTF-16 for the predefined `Uni*-UCS2-*` / `Uni*-UTF16-*` CMaps (common in
//! Taiwanese e-bills using `MSung-Light` / `MHei-Medium` without embedding a font).

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pdf_extract::content::Content;
use pdf_extract::{Dictionary, Document, Object, ObjectId};

/// The most pages a dropped PDF may have.
pub const MAX_PDF_PAGES: usize = 50;

/// Why a PDF could not be read (zh-TW reasons).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// Not a readable PDF (corrupt, truncated, no pages).
    #[error("{0}")]
    Unreadable(String),
    /// Password-protected or encrypted.
    #[error("{0}")]
    Encrypted(String),
    /// More pages than `MAX_PDF_PAGES`.
    #[error("{0}")]
    TooManyPages(String),
}

/// One page: its text layer (empty for a scan) and its size in points (1/72 inch).
#[derive(Debug, Clone, PartialEq)]
pub struct PdfPage {
    pub text: String,
    pub width_pt: f32,
    pub height_pt: f32,
}

/// The text layer of each page (an empty string for a page with no text).
pub fn text_pages(bytes: &[u8]) -> Result<Vec<String>, PdfError> {
    Ok(pages(bytes)?.into_iter().map(|p| p.text).collect())
}

/// The number of pages (refused above `MAX_PDF_PAGES` like `text_pages`).
pub fn page_count(bytes: &[u8]) -> Result<usize, PdfError> {
    let doc = load(bytes)?;
    Ok(doc.get_pages().len())
}

/// Each page's text layer and size.
pub fn pages(bytes: &[u8]) -> Result<Vec<PdfPage>, PdfError> {
    let doc = load(bytes)?;
    let pages = doc.get_pages();
    let mut out = Vec::with_capacity(pages.len());
    for (&number, &id) in &pages {
        let text = page_text(&doc, number, id);
        let (width_pt, height_pt) = page_size(&doc, id);
        out.push(PdfPage { text, width_pt, height_pt });
    }
    Ok(out)
}

fn unreadable() -> PdfError {
    PdfError::Unreadable("PDF 檔無法讀取（格式錯誤或檔案已損毀），請重新下載或另存為 PDF 後再上傳".into())
}

fn load(bytes: &[u8]) -> Result<Document, PdfError> {
    let doc = catch_unwind(|| Document::load_mem(bytes))
        .map_err(|_| unreadable())?
        .map_err(|e| {
            if matches!(e, pdf_extract::Error::Decryption(_)) {
                encrypted()
            } else {
                unreadable()
            }
        })?;
    if doc.is_encrypted() || doc.was_encrypted() {
        return Err(encrypted());
    }
    // Before anything walks the page tree (the PDF library follows /Kids and /Parent by
    // recursion, with no guard: a loop overflows the stack and takes the process down).
    check_page_tree(&doc)?;
    check_inflated_sizes(&doc)?;
    let n = doc.get_pages().len();
    if n == 0 {
        return Err(PdfError::Unreadable("PDF 檔沒有任何頁面".into()));
    }
    if n > MAX_PDF_PAGES {
        return Err(PdfError::TooManyPages(format!(
            "PDF 共 {n} 頁，超過上限 {MAX_PDF_PAGES} 頁，請分成多個檔案上傳"
        )));
    }
    Ok(doc)
}

/// How deep a page tree may nest (real files: 2–5 levels).
const MAX_TREE_DEPTH: usize = 32;
/// Objects of the page tree visited at most (pages and their intermediate nodes).
const MAX_TREE_NODES: usize = 4 * MAX_PDF_PAGES + 64;

fn broken_tree() -> PdfError {
    PdfError::Unreadable("PDF 檔的頁面結構損毀（頁面樹循環或過深），無法讀取；請另存為 PDF 後再上傳".into())
}

/// The page tree from the catalog is a tree: no node reached twice through /Kids, no
/// /Parent chain that loops or runs deeper than `MAX_TREE_DEPTH`, and a bounded size.
fn check_page_tree(doc: &Document) -> Result<(), PdfError> {
    let root = doc.trailer.get(b"Root").and_then(Object::as_reference).map_err(|_| unreadable())?;
    let catalog = doc.get_dictionary(root).map_err(|_| unreadable())?;
    let pages = catalog.get(b"Pages").and_then(Object::as_reference).map_err(|_| unreadable())?;
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![(pages, 0usize)];
    while let Some((id, depth)) = stack.pop() {
        if depth > MAX_TREE_DEPTH || !seen.insert(id) || seen.len() > MAX_TREE_NODES {
            return Err(broken_tree());
        }
        let Ok(node) = doc.get_dictionary(id) else { continue };
        // Every node's /Parent chain ends within the depth limit without repeating.
        let mut chain = std::collections::HashSet::from([id]);
        let mut up = node.get(b"Parent").and_then(Object::as_reference).ok();
        while let Some(p) = up {
            if !chain.insert(p) || chain.len() > MAX_TREE_DEPTH + 1 {
                return Err(broken_tree());
            }
            up = doc.get_dictionary(p).ok().and_then(|d| d.get(b"Parent").and_then(Object::as_reference).ok());
        }
        if let Ok(kids) = node.get(b"Kids") {
            let kids = match kids {
                Object::Reference(r) => doc.get_object(*r).ok().and_then(|o| o.as_array().ok()),
                o => o.as_array().ok(),
            };
            for kid in kids.into_iter().flatten() {
                if let Ok(k) = kid.as_reference() {
                    stack.push((k, depth + 1));
                }
            }
        }
    }
    Ok(())
}

/// A stream may inflate to at most this many bytes, and all streams together to
/// `MAX_INFLATED_TOTAL`: a 1 MB file whose stream inflates to 1 GiB is refused after
/// reading 64 MiB, before the text extractor inflates it in memory.
pub const MAX_INFLATED_STREAM: u64 = 64 * 1024 * 1024;
pub const MAX_INFLATED_TOTAL: u64 = 256 * 1024 * 1024;

fn too_big_inflated() -> PdfError {
    PdfError::Unreadable("PDF 檔的內容解壓縮後過大（可能是惡意檔案），無法讀取".into())
}

/// Inflates every Flate stream once into a counting sink, with the caps above.
fn check_inflated_sizes(doc: &Document) -> Result<(), PdfError> {
    use std::io::Read;
    let mut total = 0u64;
    for obj in doc.objects.values() {
        let Object::Stream(stream) = obj else { continue };
        let flate = match stream.dict.get(b"Filter") {
            Ok(Object::Name(n)) => n == b"FlateDecode",
            Ok(Object::Array(a)) => a.iter().any(|f| matches!(f, Object::Name(n) if n == b"FlateDecode")),
            _ => false,
        };
        if !flate {
            continue;
        }
        let mut decoder = flate2::read::ZlibDecoder::new(stream.content.as_slice()).take(MAX_INFLATED_STREAM + 1);
        let n = std::io::copy(&mut decoder, &mut std::io::sink()).unwrap_or(0);
        total += n;
        if n > MAX_INFLATED_STREAM || total > MAX_INFLATED_TOTAL {
            return Err(too_big_inflated());
        }
    }
    Ok(())
}

fn encrypted() -> PdfError {
    PdfError::Encrypted("PDF 檔有密碼保護或加密，無法讀取：請移除密碼後再上傳".into())
}

/// The page's text: pdf-extract when it supports every font of the page, else (or when
/// it fails or finds nothing) our own reader. Never panics.
fn page_text(doc: &Document, number: u32, id: ObjectId) -> String {
    let fonts = page_fonts(doc, id);
    let supported = fonts.values().all(|f| pdf_extract_supports(doc, f));
    if supported {
        let got = catch_unwind(AssertUnwindSafe(|| {
            let mut s = String::new();
            let mut out = pdf_extract::PlainTextOutput::new(&mut s);
            pdf_extract::output_doc_page(doc, &mut out, number).map(|_| s)
        }));
        if let Ok(Ok(text)) = got {
            let text = tidy(&text);
            if !text.is_empty() {
                return text;
            }
        }
    }
    catch_unwind(AssertUnwindSafe(|| own_page_text(doc, id, &fonts)))
        .map(|t| tidy(&t))
        .unwrap_or_default()
}

/// Trims each line, drops blank lines.
fn tidy(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
}

fn page_fonts(doc: &Document, id: ObjectId) -> HashMap<Vec<u8>, Dictionary> {
    doc.get_page_fonts(id)
        .map(|m| m.into_iter().map(|(k, v)| (k, v.clone())).collect())
        .unwrap_or_default()
}

/// pdf-extract panics on Type0 fonts whose encoding is a predefined CMap other than
/// Identity-H/V, and on `ToUnicode` names.
fn pdf_extract_supports(doc: &Document, font: &Dictionary) -> bool {
    if name_of(doc, font, b"Subtype").as_deref() != Some(b"Type0".as_slice()) {
        return true;
    }
    let encoding_ok = match deref(doc, font.get(b"Encoding").ok()) {
        Some(Object::Name(n)) => n == b"Identity-H" || n == b"Identity-V",
        Some(Object::Stream(_)) => true,
        _ => false,
    };
    let to_unicode_ok = !matches!(deref(doc, font.get(b"ToUnicode").ok()), Some(Object::Name(_)));
    encoding_ok && to_unicode_ok
}

fn deref<'a>(doc: &'a Document, o: Option<&'a Object>) -> Option<&'a Object> {
    let o = o?;
    doc.dereference(o).ok().map(|(_, o)| o)
}

fn name_of(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<Vec<u8>> {
    deref(doc, dict.get(key).ok()).and_then(|o| o.as_name().ok()).map(<[u8]>::to_vec)
}

/// MediaBox (inherited from the page tree), defaulting to A4.
fn page_size(doc: &Document, id: ObjectId) -> (f32, f32) {
    let mut node = doc.get_dictionary(id).ok();
    for _ in 0..32 {
        let Some(dict) = node else { break };
        if let Some(Object::Array(a)) = deref(doc, dict.get(b"MediaBox").ok()) {
            let n: Vec<f32> = a.iter().filter_map(|o| deref(doc, Some(o)).and_then(|o| o.as_float().ok())).collect();
            if n.len() == 4 {
                return ((n[2] - n[0]).abs(), (n[3] - n[1]).abs());
            }
        }
        node = dict.get(b"Parent").and_then(Object::as_reference).ok().and_then(|p| doc.get_dictionary(p).ok());
    }
    (595.0, 842.0)
}

/// How a font's shown strings turn into text.
enum Decoder {
    /// A `ToUnicode` CMap.
    CMap(ToUnicode),
    /// Predefined `Uni*-UCS2-*` / `Uni*-UTF16-*` encodings: the codes are UTF-16BE.
    Utf16,
    /// A simple font: one byte per character (Latin-1 approximation of WinAnsi).
    Bytes,
    /// A composite font we cannot map (Identity without ToUnicode).
    Unknown,
}

fn decoder_for(doc: &Document, font: &Dictionary) -> Decoder {
    if let Some(Object::Stream(s)) = deref(doc, font.get(b"ToUnicode").ok()) {
        let data = s.decompressed_content().unwrap_or_else(|_| s.content.clone());
        let map = ToUnicode::parse(&data);
        if !map.map.is_empty() {
            return Decoder::CMap(map);
        }
    }
    if name_of(doc, font, b"Subtype").as_deref() == Some(b"Type0".as_slice()) {
        match name_of(doc, font, b"Encoding") {
            Some(n) if is_unicode_cmap(&n) => Decoder::Utf16,
            _ => Decoder::Unknown,
        }
    } else {
        Decoder::Bytes
    }
}

fn is_unicode_cmap(name: &[u8]) -> bool {
    let n = String::from_utf8_lossy(name);
    n.starts_with("Uni") && (n.contains("-UCS2-") || n.contains("-UTF16-"))
}

impl Decoder {
    fn decode(&self, bytes: &[u8], out: &mut String) {
        match self {
            Self::CMap(m) => m.decode(bytes, out),
            Self::Utf16 => {
                let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                out.extend(char::decode_utf16(units).map(|r| r.unwrap_or('\u{FFFD}')));
            }
            Self::Bytes => out.extend(bytes.iter().map(|&b| b as char)),
            Self::Unknown => {}
        }
    }
}

/// The most code → text entries kept from one `ToUnicode` CMap (hostile files could
/// declare millions through ranges).
const MAX_CMAP_ENTRIES: usize = 200_000;

/// A parsed `ToUnicode` CMap: codespace ranges and code → text.
#[derive(Debug, Default)]
struct ToUnicode {
    codespace: Vec<(Vec<u8>, Vec<u8>)>,
    map: HashMap<(usize, u32), String>,
}

impl ToUnicode {
    fn parse(data: &[u8]) -> Self {
        let tokens = cmap_tokens(data);
        let mut cm = ToUnicode::default();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                Tok::Kw(k) if k == "begincodespacerange" => {
                    i += 1;
                    while let (Some(Tok::Hex(lo)), Some(Tok::Hex(hi))) = (tokens.get(i), tokens.get(i + 1)) {
                        cm.codespace.push((lo.clone(), hi.clone()));
                        i += 2;
                    }
                }
                Tok::Kw(k) if k == "beginbfchar" => {
                    i += 1;
                    while let (Some(Tok::Hex(src)), Some(Tok::Hex(dst))) = (tokens.get(i), tokens.get(i + 1)) {
                        cm.insert(src, utf16_text(dst));
                        i += 2;
                    }
                }
                Tok::Kw(k) if k == "beginbfrange" => {
                    i += 1;
                    while let (Some(Tok::Hex(lo)), Some(Tok::Hex(hi))) = (tokens.get(i), tokens.get(i + 1)) {
                        let (lo_n, hi_n) = (code_value(lo), code_value(hi));
                        // Guard against absurd ranges in hostile files.
                        let count = hi_n.saturating_sub(lo_n).min(0xFFFF);
                        match tokens.get(i + 2) {
                            Some(Tok::Hex(dst)) => {
                                let mut units: Vec<u16> =
                                    dst.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
                                for k in 0..=count {
                                    if cm.map.len() >= MAX_CMAP_ENTRIES {
                                        break;
                                    }
                                    cm.map.insert((lo.len(), lo_n + k), String::from_utf16_lossy(&units));
                                    if let Some(last) = units.last_mut() {
                                        *last = last.wrapping_add(1);
                                    }
                                }
                                i += 3;
                            }
                            Some(Tok::ArrayStart) => {
                                let mut j = i + 3;
                                let mut k = 0;
                                while let Some(Tok::Hex(dst)) = tokens.get(j) {
                                    if k <= count && cm.map.len() < MAX_CMAP_ENTRIES {
                                        cm.map.insert((lo.len(), lo_n + k), utf16_text(dst));
                                    }
                                    k += 1;
                                    j += 1;
                                }
                                i = j + 1; // past ']'
                            }
                            _ => break,
                        }
                    }
                }
                _ => i += 1,
            }
        }
        cm
    }

    fn insert(&mut self, src: &[u8], text: String) {
        if self.map.len() >= MAX_CMAP_ENTRIES {
            return;
        }
        self.map.insert((src.len(), code_value(src)), text);
    }

    /// The code length at `bytes[0..]`: from the codespace ranges, else the lengths used
    /// in the map, shortest first.
    fn code_len(&self, bytes: &[u8]) -> usize {
        for (lo, hi) in &self.codespace {
            let n = lo.len();
            if n > 0 && bytes.len() >= n && (0..n).all(|k| bytes[k] >= lo[k] && bytes[k] <= *hi.get(k).unwrap_or(&0xFF)) {
                return n;
            }
        }
        let mut lens: Vec<usize> = self.map.keys().map(|(l, _)| *l).collect();
        lens.sort_unstable();
        lens.dedup();
        lens.into_iter()
            .find(|&n| bytes.len() >= n && self.map.contains_key(&(n, code_value(&bytes[..n]))))
            .unwrap_or(1)
    }

    fn decode(&self, bytes: &[u8], out: &mut String) {
        let mut i = 0;
        while i < bytes.len() {
            let n = self.code_len(&bytes[i..]).clamp(1, 4).min(bytes.len() - i);
            if let Some(t) = self.map.get(&(n, code_value(&bytes[i..i + n]))) {
                out.push_str(t);
            }
            i += n;
        }
    }
}

fn code_value(b: &[u8]) -> u32 {
    b.iter().take(4).fold(0u32, |acc, &x| (acc << 8) | x as u32)
}

fn utf16_text(b: &[u8]) -> String {
    let units: Vec<u16> = b.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
    String::from_utf16_lossy(&units)
}

#[derive(Debug, PartialEq)]
enum Tok {
    Hex(Vec<u8>),
    Kw(String),
    ArrayStart,
    Other,
}

/// Tokens of a CMap program: hex strings, keywords, `[`; everything else is `Other`.
fn cmap_tokens(data: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        match c {
            b'%' => {
                while i < data.len() && data[i] != b'\n' && data[i] != b'\r' {
                    i += 1;
                }
            }
            b'<' if data.get(i + 1) != Some(&b'<') => {
                let start = i + 1;
                let end = data[start..].iter().position(|&b| b == b'>').map_or(data.len(), |p| start + p);
                let digits: Vec<u8> = data[start..end].iter().copied().filter(u8::is_ascii_hexdigit).collect();
                let bytes = digits
                    .chunks(2)
                    .map(|p| {
                        let hi = (p[0] as char).to_digit(16).unwrap_or(0) as u8;
                        let lo = p.get(1).and_then(|&d| (d as char).to_digit(16)).unwrap_or(0) as u8;
                        (hi << 4) | lo
                    })
                    .collect();
                out.push(Tok::Hex(bytes));
                i = end + 1;
            }
            b'[' => {
                out.push(Tok::ArrayStart);
                i += 1;
            }
            c if c.is_ascii_alphabetic() => {
                let start = i;
                while i < data.len() && data[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                out.push(Tok::Kw(String::from_utf8_lossy(&data[start..i]).into_owned()));
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                out.push(Tok::Other);
                i += 1;
            }
        }
    }
    out
}

/// Walks the content stream: a new line whenever the text position moves vertically,
/// a space when it moves right on the same line or a `TJ` kerning gap is wide.
fn own_page_text(doc: &Document, id: ObjectId, fonts: &HashMap<Vec<u8>, Dictionary>) -> String {
    let Ok(data) = doc.get_page_content(id) else { return String::new() };
    let Ok(content) = Content::decode(&data) else { return String::new() };
    let decoders: HashMap<&Vec<u8>, Decoder> = fonts.iter().map(|(k, f)| (k, decoder_for(doc, f))).collect();
    let mut text = String::new();
    let mut current: Option<&Decoder> = None;
    let mut y: Option<f32> = None;
    let num = |o: &Object| o.as_float().ok();
    let newline = |text: &mut String| {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
    };
    let space = |text: &mut String| {
        if !text.is_empty() && !text.ends_with('\n') && !text.ends_with(' ') {
            text.push(' ');
        }
    };
    for op in &content.operations {
        let args = &op.operands;
        match op.operator.as_str() {
            "BT" => y = None,
            "Tf" => {
                current = args.first().and_then(|o| o.as_name().ok()).and_then(|n| decoders.get(&n.to_vec()));
            }
            "Td" | "TD" => {
                let (dx, dy) = (args.first().and_then(num).unwrap_or(0.0), args.get(1).and_then(num).unwrap_or(0.0));
                if dy.abs() > 0.01 {
                    newline(&mut text);
                    y = Some(y.unwrap_or(0.0) + dy);
                } else if dx > 0.0 {
                    space(&mut text);
                }
            }
            "Tm" => {
                let ny = args.get(5).and_then(num);
                if let (Some(old), Some(new)) = (y, ny) {
                    if (old - new).abs() > 0.01 {
                        newline(&mut text);
                    } else {
                        space(&mut text);
                    }
                } else if ny.is_some() {
                    newline(&mut text);
                }
                y = ny;
            }
            "T*" => newline(&mut text),
            "Tj" | "'" | "\"" => {
                if op.operator != "Tj" {
                    newline(&mut text);
                }
                if let (Some(d), Some(Object::String(s, _))) = (current, args.last()) {
                    d.decode(s, &mut text);
                }
            }
            "TJ" => {
                if let (Some(d), Some(Object::Array(items))) = (current, args.first()) {
                    for item in items {
                        match item {
                            Object::String(s, _) => d.decode(s, &mut text),
                            o => {
                                if num(o).is_some_and(|n| n < -200.0) {
                                    space(&mut text);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    text
}

/// Hand-written PDFs for tests (here and in the OCR adapter).
#[cfg(test)]
pub(crate) mod testpdf {
    /// Builds a PDF from objects (numbered from 1; object 1 must be the catalog) with a
    /// correct cross-reference table. `extra_trailer` is added to the trailer dict.
    pub fn assemble(objects: &[Vec<u8>], extra_trailer: &str) -> Vec<u8> {
        let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
        for o in offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size {} /Root 1 0 R {extra_trailer} >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1)
                .as_bytes(),
        );
        out
    }

    fn stream(data: &[u8]) -> Vec<u8> {
        let mut s = format!("<< /Length {} >>\nstream\n", data.len()).into_bytes();
        s.extend_from_slice(data);
        s.extend_from_slice(b"\nendstream");
        s
    }

    /// Pages of ASCII lines in Helvetica; an empty page list entry is a page without text.
    pub fn ascii(pages: &[&[&str]]) -> Vec<u8> {
        let n = pages.len();
        // 1 catalog, 2 pages, 3 font, then (page, content) pairs.
        let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
        let mut objs = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
        ];
        for (i, lines) in pages.iter().enumerate() {
            objs.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                    5 + 2 * i
                )
                .into_bytes(),
            );
            let mut content = String::new();
            if !lines.is_empty() {
                content.push_str("BT /F1 14 Tf 72 760 Td 18 TL\n");
                for l in lines.iter() {
                    content.push_str(&format!("({}) Tj T*\n", l.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)")));
                }
                content.push_str("ET");
            } else {
                content.push_str("0.9 g 72 72 200 200 re f");
            }
            objs.push(stream(content.as_bytes()));
        }
        assemble(&objs, "")
    }

    /// One page of Chinese lines: a Type0 font `MSung-Light` with the predefined CMap
    /// `UniCNS-UCS2-H` (Adobe-CNS1) and, when `to_unicode`, a ToUnicode CMap.
    pub fn cjk(lines: &[&str], to_unicode: bool) -> Vec<u8> {
        let mut content = String::from("BT /F1 16 Tf 60 780 Td\n");
        let mut chars: Vec<u16> = Vec::new();
        for l in lines {
            let units: Vec<u16> = l.encode_utf16().collect();
            let hex: String = units.iter().map(|u| format!("{u:04X}")).collect();
            chars.extend(&units);
            content.push_str(&format!("<{hex}> Tj 0 -24 Td\n"));
        }
        content.push_str("ET");
        chars.sort_unstable();
        chars.dedup();
        let mut cmap = String::from(
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n/CMapName /Adobe-CNS1-UCS2 def /CMapType 2 def\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n",
        );
        for chunk in chars.chunks(100) {
            cmap.push_str(&format!("{} beginbfchar\n", chunk.len()));
            for c in chunk {
                cmap.push_str(&format!("<{c:04X}> <{c:04X}>\n"));
            }
            cmap.push_str("endbfchar\n");
        }
        cmap.push_str("endcmap CMapName currentdict /CMap defineresource pop end end");
        let tu = if to_unicode { " /ToUnicode 7 0 R" } else { "" };
        let objs = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>".to_vec(),
            stream(content.as_bytes()),
            format!("<< /Type /Font /Subtype /Type0 /BaseFont /MSung-Light /Encoding /UniCNS-UCS2-H /DescendantFonts [6 0 R]{tu} >>").into_bytes(),
            b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /MSung-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (CNS1) /Supplement 0 >> /FontDescriptor 8 0 R /DW 1000 /W [1 95 500] >>".to_vec(),
            stream(cmap.as_bytes()),
            b"<< /Type /FontDescriptor /FontName /MSung-Light /Flags 6 /FontBBox [0 -200 1000 900] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>".to_vec(),
        ];
        assemble(&objs, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_text_layer_page_by_page_and_scanned_pages_are_empty() {
        let pdf = testpdf::ascii(&[&["Invoice AB-12345678", "Total: 952"], &[], &["Page three"]]);
        let pages = text_pages(&pdf).expect("readable");
        assert_eq!(pages.len(), 3);
        assert!(pages[0].contains("AB-12345678"), "{:?}", pages[0]);
        assert!(pages[0].contains("Total: 952"), "{:?}", pages[0]);
        assert_eq!(pages[1], "", "a page without text is empty");
        assert!(pages[2].contains("Page three"));
        assert_eq!(page_count(&pdf), Ok(3));
        let sized = super::pages(&pdf).unwrap();
        assert_eq!((sized[0].width_pt, sized[0].height_pt), (595.0, 842.0));
    }

    #[test]
    fn chinese_type0_with_predefined_cmap_and_to_unicode() {
        let lines = ["台灣電力公司 電費通知單", "電號: 07-12-3456-78-9", "計費度數: 1,234 度"];
        for to_unicode in [true, false] {
            let pdf = testpdf::cjk(&lines, to_unicode);
            let pages = text_pages(&pdf).expect("readable");
            assert_eq!(pages.len(), 1);
            let got: Vec<&str> = pages[0].lines().collect();
            assert_eq!(got, lines, "to_unicode={to_unicode}");
        }
    }

    #[test]
    fn to_unicode_ranges_and_arrays() {
        let cmap = b"1 begincodespacerange <00> <FF> endcodespacerange\n2 beginbfrange <41> <43> <0061> <30> <31> [<4E00> <4E8C>] endbfrange\n1 beginbfchar <20> <0020> endbfchar";
        let m = ToUnicode::parse(cmap);
        let mut s = String::new();
        m.decode(b"AB C01", &mut s);
        assert_eq!(s, "ab c一二");
        // Absurd ranges are capped, not expanded without limit.
        let mut hostile = String::from("1 begincodespacerange <0000> <FFFF> endcodespacerange\n100 beginbfrange\n");
        for _ in 0..100 {
            hostile.push_str("<0000> <FFFF> <0041>\n");
        }
        hostile.push_str("endbfrange");
        assert!(ToUnicode::parse(hostile.as_bytes()).map.len() <= MAX_CMAP_ENTRIES);
    }

    #[test]
    fn bad_pdfs_are_refused_with_reasons() {
        assert!(matches!(text_pages(b"%PDF-1.4\ngarbage\n%%EOF"), Err(PdfError::Unreadable(_))));
        assert!(matches!(text_pages(b""), Err(PdfError::Unreadable(_))));
        let noise: Vec<u8> = (0..2000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        assert!(text_pages(&noise).is_err());
        // Truncated in the middle.
        let pdf = testpdf::ascii(&[&["Hello"]]);
        assert!(text_pages(&pdf[..pdf.len() / 3]).is_err());
    }

    #[test]
    fn more_than_fifty_pages_is_refused() {
        let page: &[&str] = &["x"];
        let ok: Vec<&[&str]> = vec![page; MAX_PDF_PAGES];
        assert_eq!(text_pages(&testpdf::ascii(&ok)).map(|p| p.len()), Ok(MAX_PDF_PAGES));
        let too_many: Vec<&[&str]> = vec![page; MAX_PDF_PAGES + 1];
        match text_pages(&testpdf::ascii(&too_many)) {
            Err(PdfError::TooManyPages(r)) => assert!(r.contains("51"), "{r}"),
            other => panic!("{other:?}"),
        }
    }

    /// Hostile page trees (issue 13): each was enough to overflow the stack and abort the
    /// whole server. Now each is refused with a reason, and nothing else is hurt.
    #[test]
    fn looping_or_deep_page_trees_are_refused_not_followed() {
        let page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_vec();
        // A page whose /Parent chain loops (2 → 4 → 2) and has no /Resources of its own,
        // so a resource lookup climbs the chain.
        let parent_loop = testpdf::assemble(
            &[
                b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 4 0 R >>".to_vec(),
                page.clone(),
                b"<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>".to_vec(),
            ],
            "",
        );
        assert!(parent_loop.len() < 700, "a few hundred bytes: {}", parent_loop.len());
        // /Kids pointing back at an ancestor.
        let kids_loop = testpdf::assemble(
            &[b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 1 >>".to_vec(), page.clone()],
            "",
        );
        // 200 levels of /Pages nodes.
        let mut deep = vec![b"<< /Type /Catalog /Pages 2 0 R >>".to_vec()];
        for i in 0..200 {
            let parent = if i == 0 { String::new() } else { format!("/Parent {} 0 R ", i + 1) };
            deep.push(format!("<< /Type /Pages {parent}/Kids [{} 0 R] /Count 1 >>", i + 3).into_bytes());
        }
        deep.push(b"<< /Type /Page /Parent 201 0 R /MediaBox [0 0 595 842] >>".to_vec());
        let deep = testpdf::assemble(&deep, "");
        for (name, pdf) in [("parent loop", &parent_loop), ("kids loop", &kids_loop), ("deep", &deep)] {
            match text_pages(pdf) {
                Err(PdfError::Unreadable(r)) => assert!(r.contains("頁面結構損毀"), "{name}: {r}"),
                other => panic!("{name}: {other:?}"),
            }
            assert!(page_count(pdf).is_err(), "{name}");
        }
        // A normal file still reads.
        assert_eq!(text_pages(&testpdf::ascii(&[&["Hello"], &["World"]])).unwrap().len(), 2);
    }

    /// Issue 13: nesting that a recursive parser would follow until the stack runs out
    /// (arrays and dictionaries inside an object, and inside a page's content stream) is
    /// refused or read without overflowing, on an ordinary 2 MiB thread.
    #[test]
    fn deeply_nested_objects_do_not_overflow_the_stack() {
        let depth = 200_000;
        let arrays = format!("<< /Type /Catalog /Pages 2 0 R /Junk {}1{} >>", "[".repeat(depth), "]".repeat(depth));
        let dicts = format!("<< /Type /Catalog /Pages 2 0 R /Junk {}1{} >>", "<< /A ".repeat(depth), " >>".repeat(depth));
        let page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec();
        let tree = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec();
        let content = format!("BT {}1{} Tj ET", "[".repeat(depth), "]".repeat(depth));
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(content.as_bytes());
        stream.extend_from_slice(b"\nendstream");
        let cases = [
            ("arrays", testpdf::assemble(&[arrays.into_bytes(), tree.clone(), page.clone(), b"<< /Length 0 >>\nstream\n\nendstream".to_vec()], "")),
            ("dicts", testpdf::assemble(&[dicts.into_bytes(), tree.clone(), page.clone(), b"<< /Length 0 >>\nstream\n\nendstream".to_vec()], "")),
            ("content", testpdf::assemble(&[b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), tree, page, stream], "")),
        ];
        for (name, pdf) in cases {
            let handle = std::thread::Builder::new().stack_size(2 << 20).spawn(move || pages(&pdf).map(|p| p.len()));
            match handle.unwrap().join().unwrap() {
                Ok(n) => assert!(n <= 1, "{name}: {n}"),
                Err(PdfError::Unreadable(r)) => assert!(!r.is_empty(), "{name}"),
                Err(e) => panic!("{name}: {e:?}"),
            }
        }
    }

    /// Issue 13: a ~100 KB file whose content stream inflates to 200 MiB is refused
    /// without inflating it in memory.
    #[test]
    fn decompression_bombs_are_refused() {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..200 {
            z.write_all(&zeros).unwrap();
        }
        let bomb = z.finish().unwrap();
        assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
        let mut stream = format!("<< /Length {} /Filter /FlateDecode >>\nstream\n", bomb.len()).into_bytes();
        stream.extend_from_slice(&bomb);
        stream.extend_from_slice(b"\nendstream");
        let pdf = testpdf::assemble(
            &[
                b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec(),
                stream,
            ],
            "",
        );
        let t = std::time::Instant::now();
        match text_pages(&pdf) {
            Err(PdfError::Unreadable(r)) => assert!(r.contains("解壓縮後過大"), "{r}"),
            other => panic!("{other:?}"),
        }
        eprintln!("bomb of {} bytes refused in {:?}", pdf.len(), t.elapsed());
        // A normal compressed page is fine.
        assert!(check_inflated_sizes(&Document::load_mem(&testpdf::ascii(&[&["ok"]])).unwrap()).is_ok());
    }

    #[test]
    fn encrypted_pdfs_are_refused() {
        let objs = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_vec(),
            b"<< /Filter /Standard /V 1 /R 2 /O <0000000000000000000000000000000000000000000000000000000000000000> /U <0000000000000000000000000000000000000000000000000000000000000000> /P -4 >>".to_vec(),
        ];
        let pdf = testpdf::assemble(&objs, "/Encrypt 4 0 R /ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>]");
        assert!(matches!(text_pages(&pdf), Err(PdfError::Encrypted(_))), "{:?}", text_pages(&pdf));
    }
}
