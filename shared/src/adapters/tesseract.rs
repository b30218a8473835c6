//! The local text extractor: Tesseract (`chi_tra+eng`) for images and scanned PDF pages,
//! the PDF text layer for everything else. `NoOcrTextExtractor` is the fallback when no
//! OCR engine is installed: PDFs with a text layer still work.
//!
//! The engines are separate processes run with `std::process::Command` on the blocking
//! pool, one thread each (`OMP_THREAD_LIMIT=1`), with a time limit per page, in a
//! private temporary directory that is removed afterwards.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::domain::{ExtractedDocument, ExtractedPage, ExtractionMethod, FileType, TextLine};
use crate::ingest::pdf::{self, PdfError, PdfPage};
use crate::ingest::sniff::sniff;
use crate::ports::{DocumentInput, ExtractError, TextExtractor};

/// The time one page may take (OCR or rasterisation).
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// The resolution scanned PDF pages are rasterised at.
pub const RASTER_DPI: f32 = 300.0;

/// The most pixels a rasterised page may have (the same cap as dropped images).
const MAX_RASTER_PIXELS: f32 = 50_000_000.0;

/// The reason given when an image or a scanned page needs OCR and none is installed.
pub const NO_OCR_REASON: &str =
    "未安裝文字辨識引擎（OCR），無法讀取圖片：請安裝 tesseract-ocr 與 tesseract-ocr-chi-tra，或改上傳含文字的 PDF／CSV";

const NO_PDFTOPPM_REASON: &str =
    "掃描的 PDF 需要先轉成圖片再辨識，但未安裝 pdftoppm（poppler-utils）：請安裝 poppler-utils，或改上傳圖片／含文字的 PDF";

/// Tesseract 5 with Traditional Chinese.
#[derive(Debug, Clone)]
pub struct TesseractTextExtractor {
    bin: PathBuf,
    langs: String,
    pdftoppm: Option<PathBuf>,
}

impl TesseractTextExtractor {
    /// Finds `tesseract` (or `$TESSERACT_BIN`) with the `chi_tra` language, and
    /// `pdftoppm` for scanned PDFs. `None` when tesseract or `chi_tra` is missing.
    pub fn detect() -> Option<Self> {
        let bin = std::env::var_os("TESSERACT_BIN")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("tesseract"));
        let out = Command::new(&bin).arg("--list-langs").stdin(Stdio::null()).output().ok()?;
        if !out.status.success() {
            return None;
        }
        // Tesseract 4 printed the list on stderr, 5 on stdout.
        let listing = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let langs = parse_langs(&listing)?;
        let pdftoppm = Command::new("pdftoppm")
            .arg("-v")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .map(|_| PathBuf::from("pdftoppm"));
        Some(Self { bin, langs, pdftoppm })
    }

    /// The same extractor with another `pdftoppm` (or none: scanned PDFs then fail with
    /// `NoEngine`).
    pub fn with_pdftoppm(mut self, pdftoppm: Option<PathBuf>) -> Self {
        self.pdftoppm = pdftoppm;
        self
    }

    /// The `-l` argument used (`chi_tra+eng`, or `chi_tra` without English data).
    pub fn languages(&self) -> &str {
        &self.langs
    }

    /// OCRs one image file into lines.
    fn ocr_file(&self, image: &Path, work: &Path) -> Result<Vec<TextLine>, ExtractError> {
        let out_path = work.join(format!("ocr-{}.tsv", next_id()));
        let err_path = work.join(format!("ocr-{}.err", next_id()));
        let mut cmd = Command::new(&self.bin);
        cmd.arg(image)
            .arg("stdout")
            .args(["-l", &self.langs, "--psm", "6", "tsv"])
            .env("OMP_THREAD_LIMIT", "1");
        let status = run_with_timeout(cmd, &out_path, &err_path, PAGE_TIMEOUT).map_err(|e| match e {
            RunError::Spawn => ExtractError::NoEngine(NO_OCR_REASON.into()),
            RunError::Timeout => ExtractError::Unreadable("文字辨識逾時（單頁超過 60 秒），請改上傳較清晰或較小的檔案".into()),
            RunError::Io => ExtractError::Retryable("文字辨識暫時失敗（暫存檔讀寫錯誤），請稍後再試".into()),
        })?;
        let tsv = std::fs::read(&out_path).unwrap_or_default();
        if !status {
            let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
            tracing::info!(engine = "tesseract", stderr = %stderr.trim(), "tesseract refused an image");
            return Err(unreadable_image());
        }
        Ok(tsv_lines(&String::from_utf8_lossy(&tsv)))
    }

    /// Rasterises page `number` of `pdf_path` and OCRs it.
    fn ocr_pdf_page(&self, pdf_path: &Path, page: &PdfPage, number: usize, work: &Path) -> Result<Vec<TextLine>, ExtractError> {
        let Some(pdftoppm) = &self.pdftoppm else {
            return Err(ExtractError::NoEngine(NO_PDFTOPPM_REASON.into()));
        };
        let prefix = work.join(format!("page-{number}-{}", next_id()));
        let dpi = raster_dpi(page.width_pt, page.height_pt);
        let mut cmd = Command::new(pdftoppm);
        cmd.args(["-r", &format!("{dpi}"), "-png", "-singlefile"])
            .args(["-f", &number.to_string(), "-l", &number.to_string()])
            .arg(pdf_path)
            .arg(&prefix);
        let log = work.join(format!("pdftoppm-{}.log", next_id()));
        let ok = run_with_timeout(cmd, &log, &log.with_extension("err"), PAGE_TIMEOUT).map_err(|e| match e {
            RunError::Spawn => ExtractError::NoEngine(NO_PDFTOPPM_REASON.into()),
            RunError::Timeout => ExtractError::Unreadable(format!("PDF 第 {number} 頁轉成圖片逾時，請改上傳較小的檔案")),
            RunError::Io => ExtractError::Retryable("PDF 轉圖片暫時失敗（暫存檔讀寫錯誤），請稍後再試".into()),
        })?;
        let png = prefix.with_extension("png");
        if !ok || !png.exists() {
            return Err(ExtractError::Unreadable(format!("PDF 第 {number} 頁無法轉成圖片，檔案可能已損毀")));
        }
        self.ocr_file(&png, work)
    }

    fn extract_blocking(&self, bytes: &[u8], file_type: FileType) -> Result<ExtractedDocument, ExtractError> {
        // Defence in depth: the same checks as at drop time (size, pixel bombs, truncation,
        // encryption) before any engine sees the bytes.
        sniff(bytes).map_err(|r| ExtractError::Unreadable(r.reason))?;
        let work = WorkDir::new().map_err(|_| ExtractError::Retryable("無法建立暫存資料夾，請稍後再試".into()))?;
        match file_type {
            FileType::Png | FileType::Jpeg => {
                let ext = if file_type == FileType::Png { "png" } else { "jpg" };
                let path = work.path().join(format!("input.{ext}"));
                std::fs::write(&path, bytes).map_err(|_| ExtractError::Retryable("無法寫入暫存檔，請稍後再試".into()))?;
                let lines = self.ocr_file(&path, work.path())?;
                Ok(ExtractedDocument {
                    method: ExtractionMethod::Tesseract,
                    pages: vec![ExtractedPage { page: 1, lines, fields: Vec::new() }],
                })
            }
            FileType::Pdf => {
                let pages = pdf::pages(bytes).map_err(pdf_error)?;
                let pdf_path = work.path().join("input.pdf");
                let mut written = false;
                let mut ocr_used = false;
                let mut out = Vec::with_capacity(pages.len());
                for (i, page) in pages.iter().enumerate() {
                    let number = i + 1;
                    let lines = if has_text(page) {
                        text_lines(&page.text)
                    } else {
                        if !written {
                            std::fs::write(&pdf_path, bytes)
                                .map_err(|_| ExtractError::Retryable("無法寫入暫存檔，請稍後再試".into()))?;
                            written = true;
                        }
                        ocr_used = true;
                        self.ocr_pdf_page(&pdf_path, page, number, work.path())?
                    };
                    out.push(ExtractedPage { page: number as u32, lines, fields: Vec::new() });
                }
                let method = if ocr_used { ExtractionMethod::Tesseract } else { ExtractionMethod::PdfText };
                Ok(ExtractedDocument { method, pages: out })
            }
            FileType::Csv => Err(not_a_document()),
        }
    }
}

#[async_trait]
impl TextExtractor for TesseractTextExtractor {
    fn name(&self) -> &'static str {
        "tesseract"
    }

    async fn extract(&self, doc: &DocumentInput<'_>) -> Result<ExtractedDocument, ExtractError> {
        let this = self.clone();
        let bytes = doc.bytes.to_vec();
        let file_type = doc.file_type;
        bounded(move || this.extract_blocking(&bytes, file_type)).await
    }
}

/// No OCR engine: PDFs with a text layer on every page are read; images and scanned
/// pages fail with `NoEngine`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOcrTextExtractor;

impl NoOcrTextExtractor {
    fn extract_blocking(bytes: &[u8], file_type: FileType) -> Result<ExtractedDocument, ExtractError> {
        match file_type {
            FileType::Png | FileType::Jpeg => Err(ExtractError::NoEngine(NO_OCR_REASON.into())),
            FileType::Csv => Err(not_a_document()),
            FileType::Pdf => {
                sniff(bytes).map_err(|r| ExtractError::Unreadable(r.reason))?;
                let pages = pdf::pages(bytes).map_err(pdf_error)?;
                if !pages.iter().all(has_text) {
                    return Err(ExtractError::NoEngine(NO_OCR_REASON.into()));
                }
                Ok(ExtractedDocument {
                    method: ExtractionMethod::PdfText,
                    pages: pages
                        .iter()
                        .enumerate()
                        .map(|(i, p)| ExtractedPage { page: i as u32 + 1, lines: text_lines(&p.text), fields: Vec::new() })
                        .collect(),
                })
            }
        }
    }
}

#[async_trait]
impl TextExtractor for NoOcrTextExtractor {
    fn name(&self) -> &'static str {
        "none"
    }

    async fn extract(&self, doc: &DocumentInput<'_>) -> Result<ExtractedDocument, ExtractError> {
        let bytes = doc.bytes.to_vec();
        let file_type = doc.file_type;
        bounded(move || Self::extract_blocking(&bytes, file_type)).await
    }
}

/// How long reading one file may take (50 pages of OCR at ~1.5 s fit well inside).
pub const EXTRACT_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(180);

/// Runs the reading of one untrusted file on the blocking pool, off the server's
/// workers, with a time limit; a panic or an overrun fails that file with a reason (never
/// a retry that would panic again), and the server and the other files go on.
async fn bounded<F>(f: F) -> Result<ExtractedDocument, ExtractError>
where
    F: FnOnce() -> Result<ExtractedDocument, ExtractError> + Send + 'static,
{
    bounded_for(EXTRACT_TIME_LIMIT, f).await
}

async fn bounded_for<F>(limit: std::time::Duration, f: F) -> Result<ExtractedDocument, ExtractError>
where
    F: FnOnce() -> Result<ExtractedDocument, ExtractError> + Send + 'static,
{
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) if join.is_panic() => {
            tracing::error!("reading a file panicked; the file is failed");
            Err(ExtractError::Unreadable("檔案內容異常，無法讀取（可能已損毀），請重新掃描或另存後再上傳".into()))
        }
        Ok(Err(_)) => Err(ExtractError::Retryable("文字讀取工作中斷，請稍後再試".into())),
        Err(_) => {
            tracing::error!(limit_s = limit.as_secs(), "reading a file took too long; the file is failed");
            Err(ExtractError::Unreadable(format!("檔案處理逾時（超過 {} 秒），請分成較小的檔案後再上傳", limit.as_secs())))
        }
    }
}

fn has_text(page: &PdfPage) -> bool {
    !page.text.trim().is_empty()
}

fn text_lines(text: &str) -> Vec<TextLine> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| TextLine { text: l.to_string(), confidence: 1.0 })
        .collect()
}

fn pdf_error(e: PdfError) -> ExtractError {
    ExtractError::Unreadable(e.to_string())
}

fn not_a_document() -> ExtractError {
    ExtractError::Unreadable("CSV 檔不需文字辨識，請以 CSV 匯入".into())
}

fn unreadable_image() -> ExtractError {
    ExtractError::Unreadable("圖片無法讀取（檔案可能已損毀或格式不正確），請重新拍照或掃描後上傳".into())
}

/// The `-l` value from a `--list-langs` listing: `chi_tra+eng`, `chi_tra` without
/// English, `None` without Traditional Chinese.
fn parse_langs(listing: &str) -> Option<String> {
    let has = |l: &str| listing.lines().any(|x| x.trim() == l);
    if !has("chi_tra") {
        return None;
    }
    Some(if has("eng") { "chi_tra+eng".into() } else { "chi_tra".into() })
}

/// The DPI for a page so that it stays under the pixel cap (at most `RASTER_DPI`).
fn raster_dpi(width_pt: f32, height_pt: f32) -> u32 {
    let (w_in, h_in) = (width_pt.max(1.0) / 72.0, height_pt.max(1.0) / 72.0);
    let cap = (MAX_RASTER_PIXELS / (w_in * h_in)).sqrt();
    RASTER_DPI.min(cap).max(1.0).floor() as u32
}

/// True for characters written without spaces between them (Han, kana, Hangul, CJK
/// punctuation and full-width forms).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FDF | 0x3000..=0x303F | 0x3040..=0x30FF | 0x3100..=0x312F | 0x31A0..=0x31BF
        | 0x3200..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFFEF | 0x20000..=0x2FA1F)
}

/// Builds lines from Tesseract's TSV output: words (level 5) grouped by
/// page/block/paragraph/line in reading order; CJK joined without spaces, a space
/// between two non-CJK tokens; line confidence = the lowest word confidence / 100.
pub fn tsv_lines(tsv: &str) -> Vec<TextLine> {
    let mut lines: Vec<TextLine> = Vec::new();
    let mut key: Option<[&str; 4]> = None;
    let mut text = String::new();
    let mut conf = f32::INFINITY;
    let flush = |text: &mut String, conf: &mut f32, lines: &mut Vec<TextLine>| {
        if !text.is_empty() {
            let c = if conf.is_finite() { (*conf / 100.0).clamp(0.0, 1.0) } else { 0.0 };
            lines.push(TextLine { text: std::mem::take(text), confidence: c });
        }
        *conf = f32::INFINITY;
    };
    for row in tsv.lines() {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let word = cols[11..].join("\t");
        let word = word.trim();
        let Ok(word_conf) = cols[10].trim().parse::<f32>() else { continue };
        if word.is_empty() || word_conf < 0.0 {
            continue;
        }
        let k = [cols[1], cols[2], cols[3], cols[4]];
        if key != Some(k) {
            flush(&mut text, &mut conf, &mut lines);
            key = Some(k);
        }
        if let (Some(prev), Some(next)) = (text.chars().last(), word.chars().next()) {
            if !is_cjk(prev) && !is_cjk(next) {
                text.push(' ');
            }
        }
        text.push_str(word);
        conf = conf.min(word_conf);
    }
    flush(&mut text, &mut conf, &mut lines);
    lines
}

enum RunError {
    /// The program could not be started (not installed).
    Spawn,
    Timeout,
    Io,
}

/// Runs `cmd` with stdout and stderr in files, killing it after `timeout`.
/// `Ok(success)`.
fn run_with_timeout(mut cmd: Command, stdout: &Path, stderr: &Path, timeout: Duration) -> Result<bool, RunError> {
    let out = File::create(stdout).map_err(|_| RunError::Io)?;
    let err = File::create(stderr).map_err(|_| RunError::Io)?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .map_err(|_| RunError::Spawn)?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status.success()),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::Timeout);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::Io);
            }
        }
    }
}

fn next_id() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A private temporary directory, removed on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("ecosphere-ocr-{}-{nanos}-{}", std::process::id(), next_id()));
        std::fs::create_dir(&dir)?;
        Ok(Self(dir))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::pdf::testpdf;

    #[tokio::test]
    async fn a_panic_or_an_overrun_fails_the_file_not_the_server() {
        let panicked = bounded_for(std::time::Duration::from_secs(5), || panic!("hostile file")).await;
        assert!(matches!(panicked, Err(ExtractError::Unreadable(ref r)) if r.contains("內容異常")), "{panicked:?}");
        let slow = bounded_for(std::time::Duration::from_millis(50), || {
            std::thread::sleep(std::time::Duration::from_millis(500));
            Ok(ExtractedDocument { method: crate::domain::ExtractionMethod::PdfText, pages: vec![] })
        })
        .await;
        assert!(matches!(slow, Err(ExtractError::Unreadable(ref r)) if r.contains("逾時")), "{slow:?}");
    }
    use crate::ports::BlobKey;

    const TSV: &str = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext
1\t1\t0\t0\t0\t0\t0\t0\t1200\t800\t-1\t
2\t1\t1\t0\t0\t0\t40\t30\t900\t300\t-1\t
3\t1\t1\t1\t0\t0\t40\t30\t900\t300\t-1\t
4\t1\t1\t1\t1\t0\t40\t30\t700\t40\t-1\t
5\t1\t1\t1\t1\t1\t40\t30\t200\t40\t96.5\t台灣電力公司
5\t1\t1\t1\t1\t2\t260\t30\t160\t40\t91.0\t電費通知單
4\t1\t1\t1\t2\t0\t40\t90\t700\t40\t-1\t
5\t1\t1\t1\t2\t1\t40\t90\t150\t40\t88.25\t計費度數:
5\t1\t1\t1\t2\t2\t200\t90\t100\t40\t93.0\t1,234
5\t1\t1\t1\t2\t3\t310\t90\t40\t40\t95.0\t度
5\t1\t1\t1\t2\t4\t360\t90\t40\t40\t-1\t 
4\t1\t1\t1\t3\t0\t40\t150\t700\t40\t-1\t
5\t1\t1\t1\t3\t1\t40\t150\t90\t40\t90\t95無鉛汽油
5\t1\t1\t1\t3\t2\t140\t150\t90\t40\t71.5\t30.50公升
5\t1\t1\t1\t3\t3\t240\t150\t20\t40\t97\tx
5\t1\t1\t1\t3\t4\t270\t150\t60\t40\t97\t31.20
2\t1\t2\t0\t0\t0\t40\t300\t900\t40\t-1\t
5\t1\t2\t1\t1\t1\t40\t300\t100\t40\t80\tAB-12345678
5\t1\t2\t1\t1\t2\t150\t300\t100\t40\t85\tTotal
";

    #[test]
    fn tsv_words_are_grouped_into_lines_with_the_lowest_confidence() {
        let lines = tsv_lines(TSV);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            ["台灣電力公司電費通知單", "計費度數: 1,234度", "95無鉛汽油30.50公升x 31.20", "AB-12345678 Total"]
        );
        let confs: Vec<f32> = lines.iter().map(|l| l.confidence).collect();
        assert_eq!(confs, [0.91, 0.8825, 0.715, 0.80]);
        assert!(tsv_lines("").is_empty());
        assert!(tsv_lines("garbage\nmore garbage\n5\tx").is_empty());
    }

    #[test]
    fn languages_and_raster_resolution() {
        assert_eq!(parse_langs("List of available languages (3):\nchi_tra\neng\nosd\n").as_deref(), Some("chi_tra+eng"));
        assert_eq!(parse_langs("List:\nchi_tra\nosd").as_deref(), Some("chi_tra"));
        assert_eq!(parse_langs("List:\nchi_sim\neng"), None);
        assert_eq!(raster_dpi(595.0, 842.0), 300); // A4: 2480×3508 px
        let big = raster_dpi(72.0 * 100.0, 72.0 * 100.0); // a 100-inch square page
        assert!(big < 300 && (big * 100) as f32 * (big * 100) as f32 <= MAX_RASTER_PIXELS, "{big}");
    }

    /// A PNG with a valid 256×256 IHDR, `data` as its only IDAT (not checked) and IEND.
    fn header_only_png(data: &[u8]) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x02\x00\x00\x00\x00\x00\x00\x00".to_vec();
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        b.extend_from_slice(b"IDAT");
        b.extend_from_slice(data);
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]);
        b
    }

    fn input<'a>(key: &'a BlobKey, bytes: &'a [u8], file_type: FileType) -> DocumentInput<'a> {
        DocumentInput { key, version: "v1", bytes, file_type }
    }

    #[tokio::test]
    async fn without_ocr_text_pdfs_work_and_images_and_scans_need_an_engine() {
        let key = BlobKey::parse("drop/test/bill.pdf").unwrap();
        let none = NoOcrTextExtractor;
        assert_eq!(none.name(), "none");
        let text_pdf = testpdf::cjk(&["台灣電力公司 電費通知單", "計費度數: 1,234 度"], true);
        let doc = none.extract(&input(&key, &text_pdf, FileType::Pdf)).await.expect("text layer");
        assert_eq!(doc.method, ExtractionMethod::PdfText);
        assert_eq!(doc.pages.len(), 1);
        assert_eq!(doc.pages[0].lines[1], TextLine { text: "計費度數: 1,234 度".into(), confidence: 1.0 });
        let scanned = testpdf::ascii(&[&["page one"], &[]]);
        assert_eq!(none.extract(&input(&key, &scanned, FileType::Pdf)).await, Err(ExtractError::NoEngine(NO_OCR_REASON.into())));
        let png = b"\x89PNG\r\n\x1a\n";
        assert_eq!(none.extract(&input(&key, png, FileType::Png)).await, Err(ExtractError::NoEngine(NO_OCR_REASON.into())));
        assert!(matches!(none.extract(&input(&key, b"%PDF-1.4 junk", FileType::Pdf)).await, Err(ExtractError::Unreadable(_))));
    }

    #[test]
    fn a_missing_binary_is_no_engine() {
        let t = TesseractTextExtractor {
            bin: PathBuf::from("/nonexistent/tesseract"),
            langs: "chi_tra".into(),
            pdftoppm: Some(PathBuf::from("/nonexistent/pdftoppm")),
        };
        assert!(matches!(t.extract_blocking(&header_only_png(b"\x55\x55"), FileType::Png), Err(ExtractError::NoEngine(_))));
        // Bombs are refused before any engine is looked for.
        let mut bomb = header_only_png(b"");
        bomb[16..24].copy_from_slice(&[0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0]); // 100000×100000
        match t.extract_blocking(&bomb, FileType::Png) {
            Err(ExtractError::Unreadable(r)) => assert!(r.contains("100000×100000"), "{r}"),
            other => panic!("{other:?}"),
        }
        let scanned = testpdf::ascii(&[&[]]);
        assert!(matches!(t.extract_blocking(&scanned, FileType::Pdf), Err(ExtractError::NoEngine(_))));
        // A text layer needs no engine at all.
        let text = testpdf::ascii(&[&["Total: 952"]]);
        let doc = t.extract_blocking(&text, FileType::Pdf).expect("text layer");
        assert_eq!(doc.method, ExtractionMethod::PdfText);
        assert_eq!(doc.pages[0].lines[0].text, "Total: 952");
    }

    fn detect_or_skip(test: &str) -> Option<TesseractTextExtractor> {
        let t = TesseractTextExtractor::detect();
        if t.is_none() {
            eprintln!("note: {test} skipped: tesseract with chi_tra is not installed");
        }
        t
    }

    #[test]
    fn tesseract_refuses_a_corrupt_image_and_needs_pdftoppm_for_scans() {
        let Some(t) = detect_or_skip("tesseract_refuses_a_corrupt_image") else { return };
        assert_eq!(t.name(), "tesseract");
        // Passes the header checks, but the image data is garbage.
        let bad = header_only_png(&[0x55; 64]);
        match t.extract_blocking(&bad, FileType::Png) {
            Err(ExtractError::Unreadable(r)) => assert!(r.contains("圖片無法讀取"), "{r}"),
            other => panic!("{other:?}"),
        }
        let scanned = testpdf::ascii(&[&[]]);
        let without = t.clone().with_pdftoppm(None);
        assert_eq!(
            without.extract_blocking(&scanned, FileType::Pdf),
            Err(ExtractError::NoEngine(NO_PDFTOPPM_REASON.into()))
        );
    }

    fn venv_python() -> Option<PathBuf> {
        let home = std::env::var_os("HOME")?;
        let py = PathBuf::from(home).join(".cache/ecosphere/venv/bin/python");
        let ok = Command::new(&py).args(["-c", "import PIL"]).stdout(Stdio::null()).stderr(Stdio::null()).status().ok()?;
        ok.success().then_some(py)
    }

    /// Renders the test bills with tests/fixtures/make_bills.py, checks the bad files are
    /// refused by `sniff`, the text-layer PDF reads exactly, and Tesseract reads the
    /// clean electricity bill's kWh digits exactly.
    #[test]
    fn generated_bills_are_typed_and_read() {
        let Some(py) = venv_python() else {
            eprintln!("note: generated_bills_are_typed_and_read skipped: no venv python with Pillow");
            return;
        };
        let work = WorkDir::new().expect("temp dir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/make_bills.py");
        let status = Command::new(&py).arg(&script).arg(work.path()).args(["--seed", "7"]).status().expect("python runs");
        assert!(status.success(), "make_bills.py failed");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(work.path().join("manifest.json")).expect("manifest")).expect("json");
        let entries = manifest.as_array().expect("a list");
        let find = |file: &str| -> &serde_json::Value {
            entries.iter().find(|e| e["file"] == file).unwrap_or_else(|| panic!("{file} in manifest"))
        };
        let read = |file: &str| std::fs::read(work.path().join(file)).expect("fixture file");

        for (file, code) in [
            ("bad_truncated.png", "truncated"),
            ("bad_encrypted.pdf", "pdf_encrypted"),
            ("bad_archive.zip", "archive"),
            ("bad_bomb.png", "image_too_large"),
            ("bad_random.bin", "unknown_type"),
        ] {
            find(file);
            assert_eq!(sniff(&read(file)).map_err(|r| r.code), Err(code), "{file}");
        }
        for e in entries.iter().filter(|e| !e["file"].as_str().unwrap_or("").starts_with("bad_")) {
            let file = e["file"].as_str().unwrap_or_default();
            assert!(sniff(&read(file)).is_ok(), "{file} should be accepted");
        }

        // The text-layer PDF reads exactly, with no OCR.
        let elec = find("electricity_text.pdf");
        let kwh = elec["expected"]["kwh_text"].as_str().expect("kwh_text").to_string();
        let pages = pdf::text_pages(&read("electricity_text.pdf")).expect("text layer");
        assert!(pages[0].lines().any(|l| l == format!("計費度數: {kwh} 度")), "{pages:?}");
        let meter = elec["expected"]["meter_id"].as_str().expect("meter_id");
        assert!(pages[0].contains(&format!("電號: {meter}")));

        let Some(t) = detect_or_skip("generated_bills_are_typed_and_read (OCR part)") else { return };
        let clean = find("electricity_clean.png");
        let kwh = clean["expected"]["kwh_text"].as_str().expect("kwh_text");
        let started = Instant::now();
        let doc = t.extract_blocking(&read("electricity_clean.png"), FileType::Png).expect("OCR");
        eprintln!("note: OCR of one page (electricity_clean.png) took {:?}", started.elapsed());
        assert_eq!(doc.method, ExtractionMethod::Tesseract);
        let lines = &doc.pages[0].lines;
        let line = lines
            .iter()
            .find(|l| l.text.contains("度數"))
            .unwrap_or_else(|| panic!("no 計費度數 line in {lines:#?}"));
        assert!(line.text.contains(kwh), "kWh {kwh} not read exactly: {line:?}");
        assert!(line.confidence > 0.0 && line.confidence <= 1.0);
        // Degraded variants: reported, not asserted (OCR quality varies across
        // Tesseract versions; the parser's review rules handle misreads).
        for file in ["electricity_rotated.png", "electricity_blur.png", "electricity_jpeg35.jpg"] {
            let file_type = if file.ends_with(".jpg") { FileType::Jpeg } else { FileType::Png };
            let read_ok = t
                .extract_blocking(&read(file), file_type)
                .map(|d| d.pages[0].lines.iter().any(|l| l.text.contains("度數") && l.text.contains(kwh)));
            eprintln!("note: {file}: kWh digits read exactly: {read_ok:?}");
        }

        // A scanned PDF goes through pdftoppm and Tesseract.
        if t.pdftoppm.is_some() {
            let started = Instant::now();
            let doc = t.extract_blocking(&read("electricity_scan.pdf"), FileType::Pdf).expect("scanned PDF");
            eprintln!("note: rasterise + OCR of one scanned PDF page took {:?}", started.elapsed());
            assert_eq!(doc.method, ExtractionMethod::Tesseract);
            assert!(doc.pages[0].lines.iter().any(|l| l.text.contains(kwh)), "{:#?}", doc.pages[0].lines);
        }
    }
}
