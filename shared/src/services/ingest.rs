//! Receipt ingest: a dropped object (`drop/{tax_id}/{batch_id}/{file}`) is typed by its
//! bytes, read into text (Textract on AWS, Tesseract / the PDF text layer locally),
//! parsed into activity records and stored with its outcome — once per key and version.
//! A file's failure never stops its batch; nothing unread becomes a zero.

use std::sync::Arc;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::domain::inventory::{Activity, ActivityStatus, FileRecord, FileStatus};
use crate::domain::{ActivityKind, ExtractionMethod, FileType, TaxId, Unit};
use crate::error::{AppError, AppResult};
use crate::ingest::parse;
use crate::ingest::sniff;
use crate::ports::{ActivityStore, BlobKey, BlobStore, Clock, DocumentInput, ExtractError, FileClaim, TextExtractor};
use crate::records::timestamp;

/// A claim older than this is taken over (a crashed reader).
const CLAIM_LEASE_MINUTES: i64 = 5;

/// After this many reads of one file that never finished, the next takeover fails the
/// file instead of reading it again.
pub const MAX_INTERRUPTED_READS: u32 = 3;

/// An object-created notification, as S3 or the drop-folder watcher sends it.
#[derive(Debug, Clone)]
pub struct DroppedObject {
    pub key: String,
    pub version: String,
    pub size: u64,
}

/// `drop/{tax_id}/{batch_id}/{name}`, with a valid 統一編號.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropPath {
    pub tax_id: TaxId,
    pub batch_id: String,
    pub name: String,
}

impl DropPath {
    pub fn parse(key: &str) -> Result<Self, String> {
        let parts: Vec<&str> = key.splitn(4, '/').collect();
        match parts.as_slice() {
            ["drop", tax, batch, name] if !batch.is_empty() && !name.is_empty() => {
                let tax_id = TaxId::parse(tax).map_err(|e| format!("統一編號有誤：{e}"))?;
                Ok(Self { tax_id, batch_id: batch.to_string(), name: name.to_string() })
            }
            _ => Err("檔案路徑須為 drop/統一編號/批次/檔名".into()),
        }
    }
}

pub struct IngestService {
    activities: Arc<dyn ActivityStore>,
    blobs: Arc<dyn BlobStore>,
    extractor: Arc<dyn TextExtractor>,
    clock: Arc<dyn Clock>,
}

fn activity_id(key: &str, version: &str, index: usize) -> String {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update([0]);
    h.update(version.as_bytes());
    h.update([0]);
    h.update(index.to_le_bytes());
    let d = h.finalize();
    d.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

impl IngestService {
    pub fn new(activities: Arc<dyn ActivityStore>, blobs: Arc<dyn BlobStore>, extractor: Arc<dyn TextExtractor>, clock: Arc<dyn Clock>) -> Self {
        Self { activities, blobs, extractor, clock }
    }

    pub fn extractor_name(&self) -> &'static str {
        self.extractor.name()
    }

    /// Handles one dropped object. `Ok(None)`: not ours (bad path), nothing to retry.
    /// `Err(Unavailable)`: try again later (a reader busy or throttled).
    pub async fn handle_object(&self, obj: &DroppedObject) -> AppResult<Option<FileRecord>> {
        let path = match DropPath::parse(&obj.key) {
            Ok(p) => p,
            Err(reason) => {
                tracing::warn!(reason = %reason, "dropped object with a bad path ignored");
                return Ok(None);
            }
        };
        let now = self.clock.now();
        let at = timestamp(now);
        let mut file = FileRecord {
            tax_id: path.tax_id.to_string(),
            batch_id: path.batch_id.clone(),
            key: obj.key.clone(),
            blob_key: obj.key.clone(),
            name: path.name.clone(),
            version: obj.version.clone(),
            size: obj.size,
            status: FileStatus::Processing,
            file_type: None,
            method: None,
            reason: None,
            activities: 0,
            needs_review: 0,
            duplicates: 0,
            received_at: at.clone(),
            updated_at: at.clone(),
        };
        let mut interrupted = 0;
        match self.activities.claim_file(&file, now, chrono::Duration::minutes(CLAIM_LEASE_MINUTES)).await? {
            FileClaim::Claimed => {}
            FileClaim::TakenOver { previous_reads } => {
                tracing::warn!(batch = %file.batch_id, previous_reads, "took over an abandoned read of a file");
                interrupted = previous_reads;
            }
            FileClaim::AlreadyDone(done) => {
                tracing::info!(batch = %done.batch_id, status = done.status.as_str(), "object already processed: nothing to do");
                return Ok(Some(done));
            }
            FileClaim::InProgress => return Err(AppError::Unavailable("file is being processed by another delivery".into())),
        }
        let span = tracing::info_span!("ingest_file", batch = %file.batch_id, size = obj.size);
        let _guard = span.enter();
        let read = if interrupted >= MAX_INTERRUPTED_READS {
            // This file stopped its reader every time (a crash or kill that no limit
            // caught): it is failed with a reason instead of being taken over for ever.
            Err(Failure::Refused(format!(
                "讀取此檔案時處理程序中斷了 {interrupted} 次（檔案可能損毀或格式異常），請重新掃描或另存後再上傳"
            )))
        } else {
            self.read(&mut file).await
        };
        let activities = match read {
            Ok(a) => a,
            Err(Failure::Retry(e)) => return Err(AppError::Unavailable(e)),
            Err(Failure::Refused(reason)) => {
                tracing::info!(reason = %reason, "file refused");
                file.status = FileStatus::Failed;
                file.reason = Some(reason);
                Vec::new()
            }
        };
        file.updated_at = timestamp(self.clock.now());
        let stored = self.activities.finish_file(&file, activities).await?;
        file.activities = stored.len() as u32;
        file.needs_review = stored.iter().filter(|a| a.status == ActivityStatus::NeedsReview).count() as u32;
        file.duplicates = stored.iter().filter(|a| a.status == ActivityStatus::Duplicate).count() as u32;
        if file.status != FileStatus::Failed {
            file.status = if file.needs_review > 0 { FileStatus::NeedsReview } else { FileStatus::Done };
        }
        tracing::info!(status = file.status.as_str(), activities = file.activities, needs_review = file.needs_review, "file processed");
        Ok(Some(file))
    }

    /// The sweeper's half for files: every file whose claim is older than the lease (a
    /// reader that crashed, was killed or timed out) is read again from its stored object,
    /// taking the claim over. Idempotent: a file finished meanwhile is left alone, and the
    /// activities' ids follow from key + version, so nothing is counted twice. Returns how
    /// many files were driven again and how many of those are still not final.
    pub async fn sweep(&self) -> AppResult<crate::services::Sweep> {
        let lease = chrono::Duration::minutes(CLAIM_LEASE_MINUTES);
        let stale = self.activities.stale_files(self.clock.now() - lease).await?;
        let mut sweep = crate::services::Sweep::default();
        for file in stale {
            sweep.found += 1;
            let obj = DroppedObject { key: file.key.clone(), version: file.version.clone(), size: file.size };
            match self.handle_object(&obj).await {
                Ok(_) => sweep.finished += 1,
                Err(e) => {
                    tracing::warn!(batch = %file.batch_id, error = %e, "abandoned file still not final; the next sweep tries again");
                    sweep.failed += 1;
                }
            }
        }
        if sweep.found > 0 {
            tracing::info!(found = sweep.found, finished = sweep.finished, failed = sweep.failed, "swept abandoned files");
        }
        Ok(sweep)
    }

    async fn read(&self, file: &mut FileRecord) -> Result<Vec<Activity>, Failure> {
        if file.size as usize > sniff::MAX_FILE_BYTES {
            return Err(Failure::Refused(format!("檔案過大（上限 {} MB）", sniff::MAX_FILE_BYTES / 1024 / 1024)));
        }
        let key = BlobKey::parse(&file.blob_key).ok_or_else(|| Failure::Refused("檔案路徑不合法".into()))?;
        let blob = match self.blobs.get(&key).await {
            Ok(Some(b)) => b,
            Ok(None) => return Err(Failure::Refused("找不到檔案（可能已被刪除）".into())),
            Err(AppError::Unavailable(e)) => return Err(Failure::Retry(e)),
            Err(e) => return Err(Failure::Retry(e.to_string())),
        };
        let file_type = sniff::sniff(&blob.bytes).map_err(|r| Failure::Refused(r.reason))?;
        file.file_type = Some(file_type);
        let now = timestamp(self.clock.now());
        let (tax, batch, doc) = (file.tax_id.clone(), file.batch_id.clone(), file.blob_key.clone());
        let make = |i: usize, c: &crate::domain::ActivityCandidate, method: ExtractionMethod| {
            Activity::from_candidate(c, activity_id(&file.key, &file.version, i), &tax, &batch, &doc, method, &now)
        };
        if file_type == FileType::Csv {
            let import = parse::parse_csv(&blob.bytes).map_err(|e| Failure::Refused(e.to_string()))?;
            let method = import.layout.method();
            file.method = Some(method);
            if import.candidates.is_empty() && import.rejected.is_empty() {
                return Err(Failure::Refused(format!("CSV 內沒有可匯入的資料（略過 {} 筆非燃料或空白列）", import.skipped)));
            }
            if import.skipped > 0 {
                file.reason = Some(format!("略過 {} 筆非能源發票或空白列", import.skipped));
            }
            let mut out: Vec<Activity> = import.candidates.iter().enumerate().map(|(i, c)| make(i, c, method)).collect();
            // Rows whose kind could not be read wait for a person: never dropped silently.
            for (j, r) in import.rejected.iter().enumerate() {
                out.push(unrecognised(make(import.candidates.len() + j, &placeholder(r.row), method), &r.reason));
            }
            return Ok(out);
        }
        let input = DocumentInput { key: &key, version: &file.version, bytes: &blob.bytes, file_type };
        let extracted = match self.extractor.extract(&input).await {
            Ok(d) => d,
            Err(ExtractError::NoEngine(r)) | Err(ExtractError::Unreadable(r)) => return Err(Failure::Refused(r)),
            Err(ExtractError::Retryable(r)) => return Err(Failure::Retry(r)),
        };
        file.method = Some(extracted.method);
        let parsed = parse::parse_document(&extracted);
        let mut out: Vec<Activity> = parsed.candidates.iter().enumerate().map(|(i, c)| make(i, c, extracted.method)).collect();
        for (j, page) in parsed.unrecognised_pages.iter().enumerate() {
            let a = make(parsed.candidates.len() + j, &placeholder(*page), extracted.method);
            out.push(unrecognised(a, "無法辨識此頁的單據內容，請對照影像輸入或排除"));
        }
        if out.is_empty() {
            return Err(Failure::Refused("檔案中沒有可辨識的內容".into()));
        }
        Ok(out)
    }
}

/// A candidate standing for a page or row that could not be read (its kind is cleared).
fn placeholder(page: u32) -> crate::domain::ActivityCandidate {
    crate::domain::ActivityCandidate::new(ActivityKind::Electricity, Unit::Kwh, page)
}

/// An activity a person must fill in: no kind, no values, the reason why.
fn unrecognised(mut a: Activity, reason: &str) -> Activity {
    a.kind = None;
    a.unit = None;
    a.confidence = 0.0;
    a.issues = vec![reason.to_string()];
    a.refresh();
    a
}

enum Failure {
    Refused(String),
    Retry(String),
}

/// A person's correction of an activity in the review queue (form values, zh-TW errors).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Correction {
    pub kind: String,
    #[serde(default)]
    pub detail: String,
    pub quantity: String,
    pub unit: String,
    pub period_start: String,
    pub period_end: String,
    #[serde(default)]
    pub meter_id: String,
    #[serde(default)]
    pub amount_ntd: String,
    #[serde(default)]
    pub version: String,
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(s, "%Y/%m/%d")).ok()
}

impl Correction {
    /// Applies the correction to `a` (validating every field); the person's values are
    /// taken as confirmed: issues cleared, method `Manual` when a value changed.
    pub fn apply(&self, a: &mut Activity, actor: &str, now: &str) -> AppResult<()> {
        let mut errors = crate::domain::FieldErrors::default();
        let kind = ActivityKind::parse(self.kind.trim());
        if kind.is_none() {
            errors.add("kind", "請選擇類別");
        }
        let unit = Unit::parse(self.unit.trim());
        match (kind, unit) {
            (Some(k), Some(u)) if !k.units().contains(&u) => errors.add("unit", "此類別不能使用這個單位"),
            (_, None) => errors.add("unit", "請選擇單位"),
            _ => {}
        }
        let quantity = self.quantity.trim().replace(',', "").parse::<f64>().ok().filter(|q| q.is_finite() && *q >= 0.0);
        if quantity.is_none() {
            errors.add("quantity", "用量須為 0 以上的數字");
        }
        let start = parse_date(&self.period_start);
        let end = parse_date(&self.period_end);
        if start.is_none() {
            errors.add("period_start", "起日格式須為 YYYY-MM-DD");
        }
        if end.is_none() {
            errors.add("period_end", "迄日格式須為 YYYY-MM-DD");
        }
        if let (Some(s), Some(e)) = (start, end) {
            if e < s {
                errors.add("period_end", "迄日不可早於起日");
            } else if (e - s).num_days() > 366 {
                errors.add("period_end", "計費期間不可超過一年");
            }
        }
        let amount = if self.amount_ntd.trim().is_empty() {
            None
        } else {
            match self.amount_ntd.trim().replace(',', "").parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                _ => {
                    errors.add("amount_ntd", "金額須為 0 以上的數字");
                    None
                }
            }
        };
        for (field, v, max) in [("detail", &self.detail, 60usize), ("meter_id", &self.meter_id, 40)] {
            if v.chars().count() > max || crate::domain::text::text_problem(v, false).is_some() {
                errors.add(field, "內容過長或含有不允許的字元");
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let before = (a.kind, a.quantity, a.unit, a.period_start, a.period_end);
        a.kind = kind;
        a.unit = unit;
        a.quantity = quantity;
        a.period_start = start;
        a.period_end = end;
        a.detail = opt(&self.detail);
        a.meter_id = opt(&self.meter_id);
        a.amount_ntd = amount;
        if before != (a.kind, a.quantity, a.unit, a.period_start, a.period_end) {
            a.method = ExtractionMethod::Manual;
        }
        a.issues.clear();
        a.confidence = 1.0;
        a.confirmed_by = Some(actor.to_string());
        a.updated_at = now.to_string();
        if a.status != ActivityStatus::Duplicate {
            a.status = ActivityStatus::Accepted;
        }
        a.refresh();
        Ok(())
    }
}
