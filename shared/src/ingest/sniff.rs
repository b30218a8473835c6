//! File typing by content: a dropped file is a PNG, a JPEG, a PDF or a CSV because of
//! its bytes, never because of its name. Everything else is refused with a zh-TW reason
//! before any decoder sees it: archives are never opened (no zip bomb can expand), and
//! image dimensions are read from the header (PNG IHDR, JPEG SOF) without decoding, so a
//! decompression bomb is refused before it allocates anything.

use crate::domain::FileType;

/// The largest file accepted (20 MiB).
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// The largest image accepted, in pixels (50 megapixels), as declared by its header.
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;

/// Why a file was refused: a stable `code` for logs and tests, and a zh-TW `reason`
/// for the person who dropped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub reason: String,
}

impl Refusal {
    fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Self { code, reason: reason.into() }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Refusal {}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Decides a file's type from its bytes.
pub fn sniff(bytes: &[u8]) -> Result<FileType, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::new("empty", "檔案是空的（0 位元組），請重新上傳"));
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Refusal::new(
            "too_large",
            format!(
                "檔案過大（{:.1} MB），上限為 {} MB，請縮小或分開上傳",
                bytes.len() as f64 / (1024.0 * 1024.0),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    if is_archive(bytes) {
        return Err(Refusal::new("archive", "壓縮檔或 Office 檔案不支援，請解壓縮或另存為 CSV/PDF"));
    }
    if bytes.starts_with(PNG_MAGIC) {
        return png(bytes);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return jpeg(bytes);
    }
    if find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some() {
        return pdf(bytes);
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(Refusal::new(
            "unsupported_encoding",
            "不支援 UTF-16（Unicode）編碼的文字檔，請另存為 UTF-8 編碼的 CSV",
        ));
    }
    if is_csv(bytes) {
        return Ok(FileType::Csv);
    }
    Err(unknown())
}

fn unknown() -> Refusal {
    Refusal::new("unknown_type", "無法辨識的檔案類型：請上傳 PDF、PNG、JPEG 圖片或 CSV 檔")
}

fn truncated() -> Refusal {
    Refusal::new("truncated", "圖片檔不完整（可能上傳中斷或檔案已損毀），請重新上傳")
}

/// ZIP (xlsx, docx, odt...), legacy Office (OLE2), 7z, RAR, gzip, bzip2, xz, zstd.
fn is_archive(b: &[u8]) -> bool {
    const MAGICS: &[&[u8]] = &[
        b"PK\x03\x04",
        b"PK\x05\x06",
        b"PK\x07\x08",
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
        b"7z\xBC\xAF\x27\x1C",
        b"Rar!\x1A\x07",
        b"\x1F\x8B",
        b"BZh",
        b"\xFD7zXZ\x00",
        b"\x28\xB5\x2F\xFD",
    ];
    MAGICS.iter().any(|m| b.starts_with(m))
}

fn check_dimensions(width: u64, height: u64) -> Result<(), Refusal> {
    if width == 0 || height == 0 {
        return Err(Refusal::new("image_empty", "圖片的寬或高為 0，檔案可能已損毀，請重新上傳"));
    }
    if width.saturating_mul(height) > MAX_IMAGE_PIXELS {
        return Err(Refusal::new(
            "image_too_large",
            format!(
                "圖片尺寸過大（{width}×{height} 像素），上限為 {} 百萬像素，請縮小後再上傳",
                MAX_IMAGE_PIXELS / 1_000_000
            ),
        ));
    }
    Ok(())
}

/// PNG: the IHDR chunk must come first (width, height at bytes 16..24) and the file
/// must end with the IEND chunk (a cut-off upload does not).
fn png(b: &[u8]) -> Result<FileType, Refusal> {
    if b.len() < 33 || &b[12..16] != b"IHDR" {
        return Err(truncated());
    }
    let width = u32::from_be_bytes([b[16], b[17], b[18], b[19]]) as u64;
    let height = u32::from_be_bytes([b[20], b[21], b[22], b[23]]) as u64;
    check_dimensions(width, height)?;
    let tail = &b[b.len().saturating_sub(1024)..];
    if find(tail, b"IEND").is_none() {
        return Err(truncated());
    }
    Ok(FileType::Png)
}

/// JPEG: walks the marker segments up to the first SOFn and reads its dimensions.
fn jpeg(b: &[u8]) -> Result<FileType, Refusal> {
    let mut i = 2;
    loop {
        // Markers start with 0xFF, possibly padded with more 0xFF.
        if i >= b.len() {
            return Err(truncated());
        }
        if b[i] != 0xFF {
            return Err(truncated());
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        let Some(&marker) = b.get(i) else {
            return Err(truncated());
        };
        i += 1;
        match marker {
            // Standalone markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            // End of image or start of scan before any frame header: no dimensions.
            0xD9 | 0xDA => return Err(truncated()),
            _ => {}
        }
        if i + 2 > b.len() {
            return Err(truncated());
        }
        let len = u16::from_be_bytes([b[i], b[i + 1]]) as usize;
        if len < 2 {
            return Err(truncated());
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            // length(2) precision(1) height(2) width(2)
            if i + 7 > b.len() || len < 7 {
                return Err(truncated());
            }
            let height = u16::from_be_bytes([b[i + 3], b[i + 4]]) as u64;
            let width = u16::from_be_bytes([b[i + 5], b[i + 6]]) as u64;
            check_dimensions(width, height)?;
            return Ok(FileType::Jpeg);
        }
        i += len;
    }
}

/// PDF: must be complete (`%%EOF` near the end) and not encrypted (`/Encrypt` key in a
/// trailer or cross-reference stream dictionary).
fn pdf(b: &[u8]) -> Result<FileType, Refusal> {
    let tail = &b[b.len().saturating_sub(4096)..];
    if find(tail, b"%%EOF").is_none() {
        return Err(Refusal::new("pdf_incomplete", "PDF 檔不完整（缺少檔案結尾），可能上傳中斷，請重新上傳"));
    }
    if has_encrypt_key(b) {
        return Err(Refusal::new(
            "pdf_encrypted",
            "PDF 檔有密碼保護或加密，無法讀取：請移除密碼後再上傳，或另存為未加密的 PDF",
        ));
    }
    Ok(FileType::Pdf)
}

/// True when the name `/Encrypt` (exactly, not `/EncryptMetadata`) occurs as a key.
/// Content streams are usually compressed, so a plain occurrence is the trailer's or the
/// cross-reference stream's key.
fn has_encrypt_key(b: &[u8]) -> bool {
    const KEY: &[u8] = b"/Encrypt";
    let mut from = 0;
    while let Some(pos) = find(&b[from..], KEY) {
        let end = from + pos + KEY.len();
        match b.get(end) {
            Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => {}
            _ => return true,
        }
        from = end;
    }
    false
}

/// Text (UTF-8 with or without BOM, or Big5) without NUL or other control bytes,
/// not markup, with a `,` or `|` separator on one of its first lines.
fn is_csv(b: &[u8]) -> bool {
    if b.contains(&0) {
        return false;
    }
    let body = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let text: std::borrow::Cow<'_, str> = match std::str::from_utf8(body) {
        Ok(s) => s.into(),
        Err(_) => match encoding_rs::BIG5.decode_without_bom_handling_and_without_replacement(body) {
            Some(s) => s,
            None => return false,
        },
    };
    if text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n' | '\x0C')) {
        return false;
    }
    let start = text.trim_start();
    if start.starts_with('<') || start.starts_with("#!") || start.starts_with('{') {
        return false;
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .any(|l| l.contains(',') || l.contains('|'))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_with(width: u32, height: u32, complete: bool) -> Vec<u8> {
        let mut b = PNG_MAGIC.to_vec();
        b.extend_from_slice(&13u32.to_be_bytes());
        b.extend_from_slice(b"IHDR");
        b.extend_from_slice(&width.to_be_bytes());
        b.extend_from_slice(&height.to_be_bytes());
        b.extend_from_slice(&[8, 2, 0, 0, 0]);
        b.extend_from_slice(&[0, 0, 0, 0]); // crc (not checked)
        b.extend_from_slice(&[0, 0, 0, 4, b'I', b'D', b'A', b'T', 1, 2, 3, 4, 0, 0, 0, 0]);
        if complete {
            b.extend_from_slice(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]);
        }
        b
    }

    fn jpeg_with(width: u16, height: u16) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        // APP0 JFIF segment (16 bytes long).
        b.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
        // DQT stub.
        b.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x04, 0x00, 0x01]);
        // SOF0: length 17, precision 8, height, width, 3 components.
        b.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
        b.extend_from_slice(&height.to_be_bytes());
        b.extend_from_slice(&width.to_be_bytes());
        b.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        b.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02, 0x12, 0x34, 0xFF, 0xD9]);
        b
    }

    fn code(bytes: &[u8]) -> &'static str {
        match sniff(bytes) {
            Ok(t) => panic!("expected a refusal, got {t:?}"),
            Err(r) => {
                assert!(!r.reason.is_empty());
                r.code
            }
        }
    }

    const PDF_OK: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R /Size 2 >>\n%%EOF\n";

    #[test]
    fn images_by_magic_and_header() {
        assert_eq!(sniff(&png_with(800, 600, true)), Ok(FileType::Png));
        assert_eq!(sniff(&jpeg_with(2480, 3508)), Ok(FileType::Jpeg));
        // Exactly 50 megapixels is allowed; one pixel row more is not.
        assert_eq!(sniff(&png_with(10_000, 5_000, true)), Ok(FileType::Png));
        assert_eq!(code(&png_with(10_000, 5_001, true)), "image_too_large");
    }

    #[test]
    fn decompression_bombs_and_zero_sizes_are_refused_from_the_header() {
        assert_eq!(code(&png_with(100_000, 100_000, true)), "image_too_large");
        assert_eq!(code(&png_with(0, 100, true)), "image_empty");
        assert_eq!(code(&png_with(100, 0, true)), "image_empty");
        assert_eq!(code(&jpeg_with(65_000, 65_000)), "image_too_large");
        assert_eq!(code(&jpeg_with(0, 10)), "image_empty");
        let r = sniff(&png_with(100_000, 100_000, true)).unwrap_err();
        assert!(r.reason.contains("100000×100000"), "{}", r.reason);
    }

    #[test]
    fn truncated_images_are_refused() {
        let full = png_with(800, 600, true);
        assert_eq!(code(&full[..20]), "truncated");
        assert_eq!(code(&png_with(800, 600, false)), "truncated");
        assert_eq!(code(PNG_MAGIC), "truncated");
        let jpg = jpeg_with(100, 100);
        // Cut inside the SOF segment, and right after the SOI marker.
        let sof = jpg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        assert_eq!(code(&jpg[..sof + 5]), "truncated");
        assert_eq!(code(&[0xFF, 0xD8, 0xFF]), "truncated");
        // Start of scan before any frame header.
        assert_eq!(code(&[0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9]), "truncated");
    }

    #[test]
    fn pdfs_must_be_complete_and_unencrypted() {
        assert_eq!(sniff(PDF_OK), Ok(FileType::Pdf));
        let no_eof = &PDF_OK[..PDF_OK.len() - 7];
        assert_eq!(code(no_eof), "pdf_incomplete");
        let enc = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n2 0 obj\n<< /Filter /Standard /V 1 /R 2 /O <00> /U <00> /P -4 >>\nendobj\ntrailer\n<< /Root 1 0 R /Encrypt 2 0 R /Size 3 >>\n%%EOF\n";
        assert_eq!(code(enc), "pdf_encrypted");
        // `/EncryptMetadata` alone is not the trailer key.
        let meta = b"%PDF-1.4\n<< /EncryptMetadata false >>\ntrailer\n<< /Root 1 0 R >>\n%%EOF";
        assert_eq!(sniff(meta), Ok(FileType::Pdf));
    }

    #[test]
    fn archives_and_office_files_are_refused_without_opening_them() {
        for magic in [
            &b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml"[..],
            b"PK\x05\x06\x00\x00\x00\x00",
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00",
            b"7z\xBC\xAF\x27\x1C\x00\x04",
            b"Rar!\x1A\x07\x01\x00",
            b"\x1F\x8B\x08\x00\x00\x00",
        ] {
            let r = sniff(magic).unwrap_err();
            assert_eq!(r.code, "archive");
            assert_eq!(r.reason, "壓縮檔或 Office 檔案不支援，請解壓縮或另存為 CSV/PDF");
        }
    }

    #[test]
    fn empty_oversized_and_unknown_files_are_refused() {
        assert_eq!(code(b""), "empty");
        let mut big = png_with(10, 10, true);
        big.resize(MAX_FILE_BYTES + 1, 0);
        assert_eq!(code(&big), "too_large");
        assert_eq!(code(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00"), "unknown_type");
        assert_eq!(code(b"MZ\x90\x00\x03\x00\x00\x00"), "unknown_type");
        assert_eq!(code(b"<!DOCTYPE html><html><body>a,b</body></html>"), "unknown_type");
        assert_eq!(code(b"just some words\nwithout separators\n"), "unknown_type");
        assert_eq!(code(b"\xFF\xFEa\x00,\x00b\x00"), "unsupported_encoding");
        // Deterministic pseudo-random bytes.
        let mut x: u32 = 12345;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .collect();
        assert_eq!(code(&noise), "unknown_type");
    }

    #[test]
    fn csv_in_utf8_with_or_without_bom_and_in_big5() {
        let utf8 = "日期,種類,數量\n2025-01-05,電力,1234\n";
        assert_eq!(sniff(utf8.as_bytes()), Ok(FileType::Csv));
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(utf8.as_bytes());
        assert_eq!(sniff(&bom), Ok(FileType::Csv));
        let (big5, _, bad) = encoding_rs::BIG5.encode("發票號碼|金額\nAB12345678|952\n");
        assert!(!bad);
        assert!(std::str::from_utf8(&big5).is_err(), "really Big5, not UTF-8");
        assert_eq!(sniff(&big5), Ok(FileType::Csv));
        // A NUL byte makes it binary.
        assert_eq!(code(b"a,b\n1,\x002\n"), "unknown_type");
    }

    #[test]
    fn the_name_is_never_consulted() {
        // The API takes bytes only; the same bytes give the same verdict whatever a
        // caller might call them, and a PDF-looking text without the magic is not a PDF.
        assert_eq!(sniff(b"name,file.pdf\n1,x.png\n"), Ok(FileType::Csv));
        assert_eq!(code(b"this is not a pdf %%EOF"), "unknown_type");
    }
}
