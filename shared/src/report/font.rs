//! The font every PDF of the product is written with: Noto Sans CJK TC (SIL Open Font
//! License), embedded and subset by the PDF writer, so the Traditional Chinese text renders
//! and extracts in any reader with no font pack installed.
//!
//! Where the font comes from (the first that exists wins):
//! 1. `APP_PDF_FONT` (and `APP_PDF_FONT_BOLD`): a path to an `.otf`/`.ttf` or a `.ttc`
//!    collection, optionally `path#index`;
//! 2. `/opt/fonts/` — the Lambda layer `PdfFontLayer` (see `infra/template.yaml`), given only
//!    to the functions that write PDFs;
//! 3. the Debian/Ubuntu package `fonts-noto-cjk` (`/usr/share/fonts/opentype/noto/`).
//!
//! In a collection the face named "Noto Sans CJK TC" is picked, so the Traditional Chinese
//! glyph forms are used. The font is read once per process (once per Lambda container) and
//! kept; a missing font is an error the caller turns into a zh-TW message, never a PDF with
//! blank text.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The family picked from a collection.
pub const FAMILY: &str = "Noto Sans CJK TC";

const SEARCH_REGULAR: &[&str] = &[
    "/opt/fonts/NotoSansCJK-Regular.ttc",
    "/opt/fonts/NotoSansCJKtc-Regular.otf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
];
const SEARCH_BOLD: &[&str] = &[
    "/opt/fonts/NotoSansCJK-Bold.ttc",
    "/opt/fonts/NotoSansCJKtc-Bold.otf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
];

/// Why no PDF can be written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FontError {
    #[error("PDF font not found (set APP_PDF_FONT or install fonts-noto-cjk); looked in: {0}")]
    NotFound(String),
    #[error("PDF font {path}: {reason}")]
    Unusable { path: String, reason: String },
}

/// One loaded face: its bytes (shared with the PDF writer) and its horizontal metrics.
pub struct Face {
    pub path: PathBuf,
    pub index: u32,
    data: Arc<Vec<u8>>,
    units_per_em: f64,
    /// Advance widths of the BMP, in em (0 where the font has no glyph).
    advances: Vec<f32>,
    has_glyph: Vec<bool>,
}

impl Face {
    /// Reads a face from `path` (a `.ttc` picks `index`, or the "Noto Sans CJK TC" face
    /// when `index` is None).
    pub fn load(path: &Path, index: Option<u32>) -> Result<Self, FontError> {
        let unusable = |reason: String| FontError::Unusable { path: path.display().to_string(), reason };
        let data = std::fs::read(path).map_err(|e| unusable(e.to_string()))?;
        let count = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
        let index = match index {
            Some(i) => i,
            None => (0..count)
                .find(|i| ttf_parser::Face::parse(&data, *i).map(|f| family_of(&f).as_deref() == Some(FAMILY)).unwrap_or(false))
                .unwrap_or(0),
        };
        let face = ttf_parser::Face::parse(&data, index).map_err(|e| unusable(format!("face {index}: {e}")))?;
        let units_per_em = f64::from(face.units_per_em());
        let mut advances = vec![0.0f32; 0x10000];
        let mut has_glyph = vec![false; 0x10000];
        for code in 0x20u32..0x10000 {
            let Some(c) = char::from_u32(code) else { continue };
            if let Some(g) = face.glyph_index(c) {
                has_glyph[code as usize] = true;
                advances[code as usize] = face.glyph_hor_advance(g).map(|a| (f64::from(a) / units_per_em) as f32).unwrap_or(1.0);
            }
        }
        if !has_glyph['統' as usize] || !has_glyph['A' as usize] {
            return Err(unusable("the face has no Traditional Chinese or Latin glyphs".into()));
        }
        Ok(Self { path: path.to_path_buf(), index, data: Arc::new(data), units_per_em, advances, has_glyph })
    }

    /// The font file's bytes (the whole collection for a `.ttc`).
    pub fn data(&self) -> Arc<Vec<u8>> {
        self.data.clone()
    }

    pub fn units_per_em(&self) -> f64 {
        self.units_per_em
    }

    /// Whether the face draws `c`.
    pub fn has(&self, c: char) -> bool {
        let code = u32::from(c) as usize;
        code < self.has_glyph.len() && self.has_glyph[code]
    }

    /// Advance of `c` in em.
    pub fn advance(&self, c: char) -> f64 {
        let code = u32::from(c) as usize;
        if code < self.advances.len() && self.has_glyph[code] {
            f64::from(self.advances[code])
        } else {
            1.0
        }
    }
}

fn family_of(face: &ttf_parser::Face) -> Option<String> {
    let names = face.names();
    (0..names.len())
        .filter_map(|i| names.get(i))
        .filter(|n| n.name_id == ttf_parser::name_id::FAMILY)
        .find_map(|n| n.to_string())
}

/// Regular and bold faces.
pub struct Fonts {
    pub regular: Face,
    pub bold: Face,
}

fn parse_spec(spec: &str) -> (PathBuf, Option<u32>) {
    match spec.rsplit_once('#') {
        Some((p, i)) if i.parse::<u32>().is_ok() => (PathBuf::from(p), i.parse().ok()),
        _ => (PathBuf::from(spec), None),
    }
}

fn find(env: Option<String>, search: &[&str]) -> Result<Face, FontError> {
    if let Some(spec) = env.filter(|s| !s.trim().is_empty()) {
        let (path, index) = parse_spec(spec.trim());
        return Face::load(&path, index);
    }
    for p in search {
        let path = Path::new(p);
        if path.exists() {
            return Face::load(path, None);
        }
    }
    Err(FontError::NotFound(search.join(", ")))
}

impl Fonts {
    /// Loads the fonts from the places named in the module docs. Without a bold face the
    /// regular one is used for both.
    pub fn discover() -> Result<Self, FontError> {
        let regular = find(std::env::var("APP_PDF_FONT").ok(), SEARCH_REGULAR)?;
        let bold = match find(std::env::var("APP_PDF_FONT_BOLD").ok(), SEARCH_BOLD) {
            Ok(b) => b,
            Err(_) => Face::load(&regular.path, Some(regular.index))?,
        };
        Ok(Self { regular, bold })
    }
}

static FONTS: OnceLock<Result<Fonts, FontError>> = OnceLock::new();

/// The process's fonts, loaded on first use.
pub fn fonts() -> Result<&'static Fonts, FontError> {
    FONTS.get_or_init(Fonts::discover).as_ref().map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traditional_chinese_face_is_picked_from_the_collection() {
        let Ok(f) = fonts() else {
            panic!("the PDF font is needed by the tests: install fonts-noto-cjk (tests/run.sh does)");
        };
        assert!(f.regular.has('碳') && f.regular.has('臺') && f.regular.has('1'));
        assert!((f.regular.advance('統') - 1.0).abs() < 1e-6, "CJK is full width");
        assert!(f.regular.advance('1') < 0.7 && f.regular.advance('1') > 0.3, "digits are proportional");
        let data = f.regular.data();
        let face = ttf_parser::Face::parse(&data, f.regular.index).expect("face");
        assert_eq!(family_of(&face).as_deref(), Some(FAMILY));
    }

    #[test]
    fn a_bad_path_is_a_clear_error() {
        let e = find(Some("/nonexistent/font.ttc".into()), SEARCH_REGULAR).err().expect("error");
        assert!(e.to_string().contains("/nonexistent/font.ttc"), "{e}");
        assert_eq!(parse_spec("/a/b.ttc#3"), (PathBuf::from("/a/b.ttc"), Some(3)));
        assert_eq!(parse_spec("/a/b#c.otf"), (PathBuf::from("/a/b#c.otf"), None));
    }
}
