//! Upload from the browser (the batch page's form): the files are checked together, and
//! only when every one of them is acceptable are they stored for ingest, exactly as a drop
//! of `drop/{統一編號}/{批次}/{檔名}` would be. Too large, a type the reader does not take,
//! a name that cannot be a drop path, or a form naming another firm → 4xx, nothing stored.

use std::path::Path;

use crate::adapters::drop::MAX_NAME_BYTES;
use crate::domain::TaxId;
use crate::error::AppError;
use crate::ingest::sniff::{sniff, MAX_FILE_BYTES};
use crate::ports::BlobKey;

/// Most files in one upload.
pub const MAX_UPLOAD_FILES: usize = 50;
/// Most bytes in one upload (all files together).
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

/// The refusal of an upload over [`MAX_UPLOAD_BYTES`] in all.
pub fn too_large() -> AppError {
    AppError::PayloadTooLarge(format!("一次上傳的檔案合計過大（上限 {} MB），請分批上傳。", MAX_UPLOAD_BYTES / 1024 / 1024))
}

/// The refusal of an upload of more than [`MAX_UPLOAD_FILES`] files.
pub fn too_many_files() -> AppError {
    AppError::PayloadTooLarge(format!("一次最多上傳 {MAX_UPLOAD_FILES} 個檔案，請分批上傳。"))
}

/// One file of the form.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A checked upload: where each file goes.
#[derive(Debug)]
pub struct CheckedUpload {
    pub batch: String,
    /// (`drop/{tax}/{batch}/{name}`, bytes)
    pub files: Vec<(BlobKey, Vec<u8>)>,
}

/// The batch name when the form leaves it empty: the upload's Taipei date and time.
pub fn default_batch(now: chrono::DateTime<chrono::Utc>) -> String {
    let t = now.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset"));
    format!("上傳-{}", t.format("%Y%m%d-%H%M%S"))
}

fn check_segment(what: &str, s: &str) -> Result<(), AppError> {
    let bad = |m: String| Err(AppError::BadRequest(m));
    if s.is_empty() || s == "." || s == ".." {
        return bad(format!("{what}不可為空白或「.」「..」"));
    }
    if s.len() > MAX_NAME_BYTES {
        return bad(format!("{what}過長（上限 {MAX_NAME_BYTES} 位元組，約 {} 個中文字）：{}", MAX_NAME_BYTES / 3, s.chars().take(30).collect::<String>()));
    }
    if s.contains(['/', '\\']) || s.chars().any(char::is_control) || crate::domain::text::text_problem(s, false).is_some() {
        return bad(format!("{what}含有不允許的字元（斜線、控制字元或不可見字元）：{}", s.chars().filter(|c| !c.is_control()).take(30).collect::<String>()));
    }
    Ok(())
}

/// Checks every file of an upload for firm `tax`. `form_tax`, when the form carries one,
/// must be the session's firm.
pub fn check(tax: &TaxId, form_tax: Option<&str>, batch: &str, files: Vec<UploadedFile>) -> Result<CheckedUpload, AppError> {
    if let Some(t) = form_tax.filter(|t| !t.trim().is_empty()) {
        if TaxId::parse(t).map(|t| &t != tax).unwrap_or(true) {
            return Err(AppError::Forbidden("只能上傳到您目前登入的公司；請從該公司的碳星雲服務平台上傳。".into()));
        }
    }
    let batch = batch.trim().to_string();
    check_segment("批次名稱", &batch)?;
    let files: Vec<UploadedFile> = files.into_iter().filter(|f| !(f.name.is_empty() && f.bytes.is_empty())).collect();
    if files.is_empty() {
        return Err(AppError::BadRequest("請選擇至少一個檔案（PDF、PNG、JPEG 或 CSV）。".into()));
    }
    if files.len() > MAX_UPLOAD_FILES {
        return Err(too_many_files());
    }
    let total: usize = files.iter().map(|f| f.bytes.len()).sum();
    if total > MAX_UPLOAD_BYTES {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(files.len());
    let mut names: Vec<String> = Vec::new();
    for f in files {
        // Browsers send a bare file name; some old ones a whole Windows path.
        let name = f.name.rsplit(['/', '\\']).next().unwrap_or_default().trim().to_string();
        check_segment("檔名", &name)?;
        if names.contains(&name) {
            return Err(AppError::BadRequest(format!("同一批次中有兩個同名檔案：{name}")));
        }
        if f.bytes.len() > MAX_FILE_BYTES {
            return Err(AppError::PayloadTooLarge(format!(
                "{name}：檔案過大（{:.1} MB），上限為 {} MB。",
                f.bytes.len() as f64 / 1024.0 / 1024.0,
                MAX_FILE_BYTES / 1024 / 1024
            )));
        }
        if let Err(refusal) = sniff(&f.bytes) {
            return Err(AppError::UnsupportedMediaType(format!("{name}：{}", refusal.reason)));
        }
        let key = BlobKey::parse(&format!("drop/{tax}/{batch}/{name}")).ok_or_else(|| AppError::BadRequest(format!("檔名含有不允許的字元：{name}")))?;
        names.push(name);
        out.push((key, f.bytes));
    }
    Ok(CheckedUpload { batch, files: out })
}

/// Stores a checked upload into the local drop folder, each file written beside its place
/// under a dot-name the drop watcher skips, then renamed into it, so the watcher never sees
/// half a file. All files are written before any is renamed; if a write or a rename fails,
/// the staged and the already renamed files are removed again (the watcher takes a file only
/// once it has seen it unchanged on two scans), so a failed upload leaves none of them.
pub fn store_in_drop_folder(drop_dir: &Path, upload: &CheckedUpload) -> Result<usize, AppError> {
    let mut staged = Vec::with_capacity(upload.files.len());
    let mut placed = Vec::with_capacity(upload.files.len());
    let result = (|| {
        for (key, bytes) in &upload.files {
            let rel = key.as_str().strip_prefix("drop/").ok_or_else(|| AppError::internal("upload key outside drop/"))?;
            let target = drop_dir.join(rel);
            let dir = target.parent().ok_or_else(|| AppError::internal("upload path without a folder"))?;
            std::fs::create_dir_all(dir).map_err(|e| AppError::internal(format!("create {}: {e}", dir.display())))?;
            let tmp = dir.join(format!(".upload-{}.part", uuid::Uuid::new_v4()));
            staged.push(tmp.clone());
            std::fs::write(&tmp, bytes).map_err(|e| AppError::internal(format!("write {}: {e}", tmp.display())))?;
            placed.push((tmp, target));
        }
        let mut n = 0;
        for (tmp, target) in &placed {
            std::fs::rename(tmp, target).map_err(|e| AppError::internal(format!("rename into {}: {e}", target.display())))?;
            n += 1;
        }
        Ok(n)
    })();
    if result.is_err() {
        for path in staged.iter().chain(placed.iter().map(|(_, target)| target)) {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tax() -> TaxId {
        TaxId::parse("22099131").unwrap()
    }
    fn csv(name: &str) -> UploadedFile {
        UploadedFile { name: name.into(), bytes: "日期,項目,數量,單位\n2025-01-05,電費,1200,度\n".as_bytes().to_vec() }
    }

    #[test]
    fn good_files_get_their_drop_keys() {
        let u = check(&tax(), None, " 2025-Q1 ", vec![csv("帳冊.csv"), csv(r"C:\fakepath\電費.csv")]).unwrap();
        assert_eq!(u.batch, "2025-Q1");
        let keys: Vec<&str> = u.files.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["drop/22099131/2025-Q1/帳冊.csv", "drop/22099131/2025-Q1/電費.csv"]);
    }

    #[test]
    fn one_bad_file_refuses_the_whole_upload() {
        let exe = UploadedFile { name: "setup.exe".into(), bytes: b"MZ\x90\x00\x03\x00\x00\x00binary".to_vec() };
        assert!(matches!(check(&tax(), None, "b", vec![csv("a.csv"), exe]), Err(AppError::UnsupportedMediaType(m)) if m.starts_with("setup.exe")));
        let zip = UploadedFile { name: "x.zip".into(), bytes: b"PK\x03\x04rest".to_vec() };
        assert!(matches!(check(&tax(), None, "b", vec![zip]), Err(AppError::UnsupportedMediaType(_))));
        let big = UploadedFile { name: "big.csv".into(), bytes: vec![b'a'; MAX_FILE_BYTES + 1] };
        assert!(matches!(check(&tax(), None, "b", vec![big]), Err(AppError::PayloadTooLarge(_))));
        let empty = UploadedFile { name: "empty.csv".into(), bytes: Vec::new() };
        assert!(matches!(check(&tax(), None, "b", vec![empty]), Err(AppError::UnsupportedMediaType(m)) if m.contains("空的")));
        assert!(matches!(check(&tax(), None, "b", vec![csv("a.csv"), csv("a.csv")]), Err(AppError::BadRequest(m)) if m.contains("同名")));
        assert!(matches!(check(&tax(), None, "b", vec![]), Err(AppError::BadRequest(_))));
    }

    #[test]
    fn names_and_batches_that_are_not_drop_paths_are_refused() {
        for batch in ["", "..", "a/b", "a\\b", "x\u{202e}y", &"批".repeat(80)] {
            assert!(check(&tax(), None, batch, vec![csv("a.csv")]).is_err(), "{batch:?}");
        }
        for name in ["..", "a\u{0}.csv", "a\u{200b}.csv", &format!("{}.csv", "長".repeat(70))] {
            assert!(check(&tax(), None, "b", vec![csv(name)]).is_err(), "{name:?}");
        }
    }

    #[test]
    fn another_firm_is_forbidden() {
        assert!(matches!(check(&tax(), Some("04595257"), "b", vec![csv("a.csv")]), Err(AppError::Forbidden(_))));
        assert!(matches!(check(&tax(), Some("not-a-tax-id"), "b", vec![csv("a.csv")]), Err(AppError::Forbidden(_))));
        assert!(check(&tax(), Some("22099131"), "b", vec![csv("a.csv")]).is_ok());
    }

    #[test]
    fn a_failed_store_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let u = check(&tax(), None, "b1", vec![csv("a.csv"), csv("b.csv")]).unwrap();
        // b.csv's place is taken by a folder: the second rename fails after the first worked.
        std::fs::create_dir_all(dir.path().join("22099131/b1/b.csv/inside")).unwrap();
        assert!(store_in_drop_folder(dir.path(), &u).is_err());
        let left: Vec<String> = std::fs::read_dir(dir.path().join("22099131/b1")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
        assert_eq!(left, ["b.csv"], "only the folder that was there before");
    }

    #[test]
    fn stored_files_land_whole_in_the_drop_folder() {
        let dir = tempfile::tempdir().unwrap();
        let u = check(&tax(), None, "b1", vec![csv("a.csv"), csv("b.csv")]).unwrap();
        assert_eq!(store_in_drop_folder(dir.path(), &u).unwrap(), 2);
        let folder = dir.path().join("22099131/b1");
        let mut names: Vec<String> = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
        names.sort();
        assert_eq!(names, ["a.csv", "b.csv"], "no .part file left behind");
        assert_eq!(std::fs::read(folder.join("a.csv")).unwrap(), csv("a.csv").bytes);
    }
}
