//! The stored inventory: dropped files and what became of them, activity records
//! (accepted, waiting for a person, or duplicates), and the emission lines computed
//! from accepted activities.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::activity::{ActivityCandidate, ActivityKind, ExtractionMethod, FileType, Unit};

/// The review hint on a waiting activity whose bill is already counted (both stores).
pub const DUPLICATE_HINT: &str = "與另一張已登錄的單據相同（同一電號與計費期間或同一發票號碼）：確認後標示為重複單據，只計一次";

/// What became of one dropped file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Being read now (or a reader crashed: taken over after the lease).
    Processing,
    /// Every value read passed the checks.
    Done,
    /// Read, but at least one value waits for a person.
    NeedsReview,
    /// Refused or unreadable; `reason` says why.
    Failed,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Done => "done",
            Self::NeedsReview => "needs_review",
            Self::Failed => "failed",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Processing => "處理中",
            Self::Done => "完成",
            Self::NeedsReview => "待人工確認",
            Self::Failed => "失敗",
        }
    }
}

/// A dropped file: `drop/{tax_id}/{batch_id}/{name}`, once per key and version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub tax_id: String,
    pub batch_id: String,
    /// The object key (S3 key / path under the drop folder).
    pub key: String,
    /// The blob key where the file is kept as evidence.
    pub blob_key: String,
    pub name: String,
    pub version: String,
    pub size: u64,
    pub status: FileStatus,
    pub file_type: Option<FileType>,
    pub method: Option<ExtractionMethod>,
    /// zh-TW: why it failed, or a summary.
    pub reason: Option<String>,
    pub activities: u32,
    pub needs_review: u32,
    pub duplicates: u32,
    pub received_at: String,
    pub updated_at: String,
}

/// The state of an activity record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityStatus {
    /// Counted in the inventory.
    Accepted,
    /// Waiting for a person (low confidence, a failed check, a missing value).
    NeedsReview,
    /// The same bill was recorded before: kept for the record, counted once.
    Duplicate,
    /// A person decided it is not an activity (not a bill, a test page...).
    Rejected,
}

impl ActivityStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::NeedsReview => "needs_review",
            Self::Duplicate => "duplicate",
            Self::Rejected => "rejected",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Accepted => "已採用",
            Self::NeedsReview => "待人工確認",
            Self::Duplicate => "重複單據（只計一次）",
            Self::Rejected => "已排除",
        }
    }
}

/// One activity record: a bill (or a CSV row) read into a quantity, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Deterministic: the same file version and position always give the same id, so a
    /// redelivered event rewrites rather than adds.
    pub id: String,
    pub tax_id: String,
    pub batch_id: String,
    /// The evidence: blob key and page (or CSV row).
    pub document: String,
    pub page: u32,
    /// `None` for an unrecognised page waiting for a person to say what it is.
    pub kind: Option<ActivityKind>,
    pub detail: Option<String>,
    pub quantity: Option<f64>,
    pub unit: Option<Unit>,
    pub period_start: Option<NaiveDate>,
    pub period_end: Option<NaiveDate>,
    pub meter_id: Option<String>,
    pub invoice_number: Option<String>,
    pub amount_ntd: Option<f64>,
    pub unit_price: Option<f64>,
    pub confidence: f32,
    pub method: ExtractionMethod,
    pub status: ActivityStatus,
    /// zh-TW reasons it needs review.
    pub issues: Vec<String>,
    /// The key that makes the same bill count once (`invoice:…`, `bill:…` or `content:…`).
    pub dedupe_key: Option<String>,
    /// For a duplicate: the activity that is counted.
    pub duplicate_of: Option<String>,
    pub version: u32,
    pub updated_at: String,
    /// Who confirmed or corrected it (a member's e-mail), if a person did.
    pub confirmed_by: Option<String>,
}

impl Activity {
    pub fn from_candidate(c: &ActivityCandidate, id: String, tax_id: &str, batch_id: &str, document: &str, method: ExtractionMethod, now: &str) -> Self {
        let mut a = Self {
            id,
            tax_id: tax_id.to_string(),
            batch_id: batch_id.to_string(),
            document: document.to_string(),
            page: c.page,
            kind: Some(c.kind),
            detail: c.detail.clone(),
            quantity: c.quantity,
            unit: Some(c.unit),
            period_start: c.period_start,
            period_end: c.period_end,
            meter_id: c.meter_id.clone(),
            invoice_number: c.invoice_number.clone(),
            amount_ntd: c.amount_ntd,
            unit_price: c.unit_price,
            confidence: c.confidence,
            method,
            status: ActivityStatus::Accepted,
            issues: c.issues.clone(),
            dedupe_key: None,
            duplicate_of: None,
            version: 1,
            updated_at: now.to_string(),
            confirmed_by: None,
        };
        a.refresh();
        a
    }

    /// Re-derives the status and dedupe key from the values: a missing quantity or
    /// period, or any issue, means a person must look (never a zero).
    pub fn refresh(&mut self) {
        let mut issues: Vec<String> = self.issues.clone();
        if self.kind.is_none() {
            push_once(&mut issues, "無法辨識單據種類，請指定類別並輸入數值");
        }
        if self.quantity.is_none() {
            push_once(&mut issues, "缺少用量，請依單據輸入");
        }
        if self.period_start.is_none() || self.period_end.is_none() {
            push_once(&mut issues, "缺少計費期間或日期，請依單據輸入");
        }
        self.issues = issues;
        self.dedupe_key = self.compute_dedupe_key();
        if self.status != ActivityStatus::Rejected && self.status != ActivityStatus::Duplicate {
            self.status = if self.issues.is_empty() { ActivityStatus::Accepted } else { ActivityStatus::NeedsReview };
        }
    }

    fn compute_dedupe_key(&self) -> Option<String> {
        if let Some(inv) = &self.invoice_number {
            return Some(format!("invoice:{inv}"));
        }
        // A metered bill is its kind, billing period and quantity (the meter number is
        // left out: an OCR slip in it must not let the same bill count twice). Without
        // a meter, the same values on the same dates are taken to be the same bill
        // (a re-imported spreadsheet row): flagged and counted once.
        match (self.kind, &self.meter_id, self.period_start, self.period_end, self.quantity) {
            (Some(k), Some(_), Some(s), Some(e), Some(q)) => Some(format!("bill:{}:{s}:{e}:{q}", k.as_str())),
            (Some(k), _, Some(s), Some(e), _) => Some(format!(
                "content:{}:{}:{}:{}:{s}:{e}:{}",
                k.as_str(),
                self.detail.as_deref().unwrap_or(""),
                self.quantity.map(|q| q.to_string()).unwrap_or_default(),
                self.unit.map(|u| u.as_str()).unwrap_or(""),
                self.amount_ntd.map(|q| q.to_string()).unwrap_or_default()
            )),
            _ => None,
        }
    }

    /// Applies dedupe given the counted activity (if any) that holds this one's key:
    /// a copy of a counted bill becomes its `Duplicate`; a copy waiting for a person
    /// keeps waiting with a hint (a confirmation then flags it); a former duplicate
    /// whose original no longer holds the key is freed. Rejected ones are left alone.
    pub fn apply_dedupe(&mut self, holder: Option<String>) {
        if self.status == ActivityStatus::Rejected {
            return;
        }
        match holder {
            Some(h) if self.status == ActivityStatus::NeedsReview => {
                self.duplicate_of = Some(h);
                if !self.issues.iter().any(|i| i == DUPLICATE_HINT) {
                    self.issues.push(DUPLICATE_HINT.into());
                }
            }
            Some(h) => {
                self.status = ActivityStatus::Duplicate;
                self.duplicate_of = Some(h);
            }
            None => {
                if self.status == ActivityStatus::Duplicate {
                    self.status = ActivityStatus::Accepted;
                    self.duplicate_of = None;
                    self.refresh();
                }
            }
        }
    }

    /// True when it counts in the inventory.
    pub fn counts(&self) -> bool {
        self.status == ActivityStatus::Accepted
    }
}

fn push_once(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// One emission line: an accepted activity's share in one calendar month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmissionRecord {
    pub tax_id: String,
    pub activity_id: String,
    pub kind: ActivityKind,
    pub detail: Option<String>,
    pub document: String,
    pub month: String,
    pub year: i32,
    pub quantity: f64,
    pub unit: Unit,
    pub co2_kg: f64,
    pub ch4_kg: f64,
    pub n2o_kg: f64,
    pub other_kg_co2e: f64,
    pub kg_co2e: f64,
    pub excluded_kg_co2e: f64,
    pub scope: u8,
    pub category: u8,
    pub ghg_protocol: String,
    pub source_label: String,
    pub factor_refs: Vec<String>,
    pub provisional: bool,
    pub unverified: bool,
    pub notes: Vec<String>,
    pub formula: String,
    /// The factor library's fingerprint when this was computed (restatement finds stale lines).
    pub library: String,
    pub computed_at: String,
}

/// A recomputation that changed an activity's total (a factor was published or corrected).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restatement {
    pub tax_id: String,
    pub activity_id: String,
    pub old_kg_co2e: f64,
    pub new_kg_co2e: f64,
    pub old_library: String,
    pub new_library: String,
    pub at: String,
}
