//! Ports: what the services need from the outside world, named by what they do.
//! Adapters (`adapters::*`) implement them for AWS and for one machine.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::inventory::{Activity, EmissionRecord, FileRecord, Restatement};
use crate::domain::{ExtractedDocument, FileType};
use crate::domain::{Application, ApplicationId, Decision, EmailAddress, IdempotencyKey, Member, MemberAudit, MemberId, MemberProfile, TaxId};
use crate::error::AppResult;

/// What happened to a submitted application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// Stored now, as given.
    Created(Application),
    /// The same idempotency key was used before with the same content: the first result.
    Replayed(Application),
}

impl Submission {
    pub fn application(&self) -> &Application {
        match self {
            Self::Created(a) | Self::Replayed(a) => a,
        }
    }
}

/// Stores applications. Implementations enforce, atomically and in the store itself,
/// that a company has at most one pending or approved application, and that an
/// idempotency key is used for one content only.
#[async_trait]
pub trait ApplicationStore: Send + Sync {
    /// Stores a new pending application.
    /// Errors: `Conflict` when the company already has a pending or approved application,
    /// `Validation` when the idempotency key was used with different content.
    async fn submit(&self, application: &Application, key: Option<&IdempotencyKey>) -> AppResult<Submission>;

    async fn get(&self, id: &ApplicationId) -> AppResult<Option<Application>>;

    /// Every application of a company, newest first.
    async fn list_for_company(&self, tax_id: &TaxId) -> AppResult<Vec<Application>>;

    /// Every pending application, oldest first.
    async fn list_pending(&self) -> AppResult<Vec<Application>>;

    /// Every approved application (one per approved company), oldest first.
    async fn list_approved(&self) -> AppResult<Vec<Application>>;

    /// Rejected applications decided at or after `since` (the sweeper checks their
    /// decision e-mails went out).
    async fn list_rejected_since(&self, since: DateTime<Utc>) -> AppResult<Vec<Application>>;

    /// Records a reviewer's decision on a pending application, atomically and only if
    /// the application is still pending at `expected_version` (a conditional write,
    /// never read-then-write). The decision is kept in an append-only audit trail.
    /// Errors: `NotFound`; `Conflict` naming the decision that won.
    async fn decide(&self, id: &ApplicationId, expected_version: u32, decision: &Decision) -> AppResult<Application>;
}

/// A company's members. Every change is audited in the same atomic write; a company
/// always keeps at least one admin (removing or demoting the last one is `Conflict`),
/// and an e-mail is a member of a company at most once. Everything is scoped by the
/// company's 統一編號, so a member id of another company is simply not found.
#[async_trait]
pub trait MemberStore: Send + Sync {
    async fn list(&self, tax_id: &TaxId) -> AppResult<Vec<Member>>;
    async fn get(&self, tax_id: &TaxId, id: &MemberId) -> AppResult<Option<Member>>;
    /// Every membership of an e-mail (a bookkeeper may belong to several companies).
    async fn find_by_email(&self, email: &EmailAddress) -> AppResult<Vec<Member>>;
    async fn add(&self, member: &Member, actor: &str) -> AppResult<()>;
    async fn update(&self, tax_id: &TaxId, id: &MemberId, profile: &MemberProfile, actor: &str, now: DateTime<Utc>) -> AppResult<Member>;
    async fn remove(&self, tax_id: &TaxId, id: &MemberId, actor: &str, now: DateTime<Utc>) -> AppResult<()>;
    /// The audit trail, oldest first.
    async fn audit(&self, tax_id: &TaxId) -> AppResult<Vec<MemberAudit>>;
}

/// Short-lived secrets: sign-in links, sessions. Stored under a hash of the secret
/// (never the secret itself), with an expiry.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores `data` under (`kind`, `key`); `Conflict` when the key exists and has not
    /// expired at `now` (an expired one is replaced).
    async fn insert(&self, kind: &str, key: &str, data: &str, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> AppResult<()>;
    /// The data, if present and not expired at `now`.
    async fn get(&self, kind: &str, key: &str, now: DateTime<Utc>) -> AppResult<Option<String>>;
    /// Removes and returns the data: of concurrent callers exactly one gets it
    /// (single-use links). Expired data is removed and not returned.
    async fn take(&self, kind: &str, key: &str, now: DateTime<Utc>) -> AppResult<Option<String>>;
}

/// The outcome of claiming a notification before sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This caller sends it.
    Claimed,
    /// It was sent before: send nothing.
    AlreadySent,
    /// Another delivery is sending it right now: try later.
    InProgress,
}

/// Remembers which notifications were sent, so each is sent once however often its
/// stream record is delivered. Claims are conditional writes; a claim left by a crashed
/// sender can be taken over after `lease`.
#[async_trait]
pub trait NotificationLog: Send + Sync {
    async fn claim(&self, key: &str, now: DateTime<Utc>, lease: chrono::Duration) -> AppResult<Claim>;
    async fn mark_sent(&self, key: &str, message_id: &str, now: DateTime<Utc>) -> AppResult<()>;
    /// Gives a claim back after a failed send, so a retry can send.
    async fn release(&self, key: &str) -> AppResult<()>;
}

/// How a dropped file was claimed for processing.
#[derive(Debug, Clone, PartialEq)]
pub enum FileClaim {
    /// This caller processes it.
    Claimed,
    /// This key and version was processed before: do nothing (a redelivered event).
    AlreadyDone(FileRecord),
    /// Another delivery is processing it right now.
    InProgress,
    /// This caller processes it, taking over a claim older than the lease: earlier reads
    /// were started `previous_reads` times and never finished (a crash, a kill, a power cut).
    TakenOver { previous_reads: u32 },
}

/// Stores the inventory: dropped files, activity records and emission lines, all scoped
/// by the company's 統一編號. Every change to an activity is a change on the table's
/// stream (the calculate function listens).
#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Claims `file` (key + version) for processing; a claim older than `lease` is taken over.
    async fn claim_file(&self, file: &FileRecord, now: DateTime<Utc>, lease: chrono::Duration) -> AppResult<FileClaim>;
    /// Stores a file's outcome and its activities in one atomic write. An activity whose
    /// dedupe key is already held by another counted activity of the company is stored as
    /// a `Duplicate` of it. Returns the activities as stored.
    async fn finish_file(&self, file: &FileRecord, activities: Vec<Activity>) -> AppResult<Vec<Activity>>;
    async fn list_files(&self, tax_id: &TaxId) -> AppResult<Vec<FileRecord>>;
    /// A company's activities, optionally only those whose period touches `year`.
    async fn list_activities(&self, tax_id: &TaxId, year: Option<i32>) -> AppResult<Vec<Activity>>;
    async fn get_activity(&self, tax_id: &TaxId, id: &str) -> AppResult<Option<Activity>>;
    /// A person's correction or confirmation, only if the stored version is still
    /// `expected_version` (`Conflict` otherwise). Dedupe is applied again.
    async fn update_activity(&self, activity: &Activity, expected_version: u32) -> AppResult<Activity>;
    /// Replaces an activity's emission lines (recalculation never adds), recording a
    /// restatement when the total changed under a different factor library.
    async fn replace_emissions(&self, tax_id: &TaxId, activity_id: &str, lines: Vec<EmissionRecord>, now: DateTime<Utc>) -> AppResult<()>;
    async fn list_emissions(&self, tax_id: &TaxId, year: Option<i32>) -> AppResult<Vec<EmissionRecord>>;
    async fn list_restatements(&self, tax_id: &TaxId) -> AppResult<Vec<Restatement>>;
    /// Companies with activities (for restating after a factor change).
    async fn companies(&self) -> AppResult<Vec<TaxId>>;
    /// Files still `Processing` whose claim was taken at or before `claimed_before`
    /// (a reader that crashed or was cut off): the sweeper drives them again.
    async fn stale_files(&self, claimed_before: DateTime<Utc>) -> AppResult<Vec<FileRecord>>;
}

/// A stored file to read into text.
#[derive(Debug, Clone, Copy)]
pub struct DocumentInput<'a> {
    /// Where the file is in the blob store (the S3 key on AWS).
    pub key: &'a BlobKey,
    /// The object's version (S3 version id or etag; a content hash locally): with the
    /// key it makes retries idempotent (Textract `ClientRequestToken`).
    pub version: &'a str,
    pub bytes: &'a [u8],
    pub file_type: FileType,
}

/// Why a file could not be read into text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// No OCR engine is installed or configured for this kind of file (zh-TW reason).
    #[error("{0}")]
    NoEngine(String),
    /// This file cannot be read (corrupt, encrypted, refused by the engine): a
    /// per-file failure with a zh-TW reason; retrying will not help.
    #[error("{0}")]
    Unreadable(String),
    /// The engine may work on retry (throttling, network, job still running).
    #[error("{0}")]
    Retryable(String),
}

/// Reads a document (image or PDF) into lines of text with confidences: Amazon Textract
/// on AWS, Tesseract and the PDF text layer on one machine.
#[async_trait]
pub trait TextExtractor: Send + Sync {
    /// A short name for status pages and logs (`textract`, `tesseract`).
    fn name(&self) -> &'static str;
    async fn extract(&self, doc: &DocumentInput<'_>) -> Result<ExtractedDocument, ExtractError>;
}

/// Stores files (bills, evidence images, reports) by key.
#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, content_type: &str) -> AppResult<()>;
    async fn get(&self, key: &BlobKey) -> AppResult<Option<Blob>>;
    /// Keys under a prefix, sorted.
    async fn list(&self, prefix: &str) -> AppResult<Vec<BlobKey>>;
    async fn delete(&self, key: &BlobKey) -> AppResult<()>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// A blob key: `/`-separated segments of printable characters, no `.`/`..` segment, no
/// leading `/`, at most 1024 bytes. Safe to use as a relative path and as an S3 key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

impl BlobKey {
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= 1024
            && !s.starts_with('/')
            && !s.ends_with('/')
            && s.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
            && !s.chars().any(|c| c.is_control() || c == '\\');
        ok.then(|| Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail to send: plain text and HTML alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: Vec<EmailAddress>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    pub message_id: String,
}

/// Sends e-mail. `Unavailable` means "try again later" (throttling, network).
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &Email) -> AppResult<SentEmail>;

    /// Sends the e-mail known by `key` (a notification's key). A mailer that can tell
    /// it has already sent it (the local outbox) answers with the first send's id
    /// instead of sending twice; SES and SMTP cannot, and send again.
    async fn send_once(&self, key: &str, email: &Email) -> AppResult<SentEmail> {
        let _ = key;
        self.send(email).await
    }
}

/// The time. A port so tests can move it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests can set and advance.
#[derive(Clone)]
pub struct ManualClock(Arc<std::sync::Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(std::sync::Mutex::new(at)))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = at;
    }
    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

#[cfg(test)]
mod tests {
    use super::BlobKey;

    #[test]
    fn blob_keys_cannot_escape() {
        assert!(BlobKey::parse("drop/22099131/b1/電費單.pdf").is_some());
        for bad in ["", "/etc/passwd", "a/../b", "a/./b", "a//b", "a/", "..", "a\\b", "a\nb"] {
            assert!(BlobKey::parse(bad).is_none(), "{bad:?}");
        }
    }
}

/// Issued carbon statements (碳排放查核參考憑證).
#[async_trait]
pub trait StatementStore: Send + Sync {
    /// Stores a new statement; `Conflict` when the id exists.
    async fn insert(&self, record: &crate::statement::StatementRecord) -> AppResult<()>;
    async fn get(&self, id: &str) -> AppResult<Option<crate::statement::StatementRecord>>;
    /// A firm-year's statements, oldest first.
    async fn list_for(&self, tax_id: &TaxId, year: i32) -> AppResult<Vec<crate::statement::StatementRecord>>;
    /// Marks `id` superseded by `by`; false when it was already superseded (the first wins).
    async fn supersede(&self, tax_id: &TaxId, year: i32, id: &str, by: &str) -> AppResult<bool>;
    /// Revokes `id` with a reason; false when it does not exist.
    async fn revoke(&self, tax_id: &TaxId, year: i32, id: &str, reason: &str) -> AppResult<bool>;
}

/// Firm profiles, one per company and inventory year, each change with its audit entry.
#[async_trait]
pub trait FirmProfileStore: Send + Sync {
    async fn get(&self, tax_id: &TaxId, year: i32) -> AppResult<Option<crate::domain::FirmProfile>>;
    /// Every year's profile of one company, oldest year first.
    async fn history(&self, tax_id: &TaxId) -> AppResult<Vec<crate::domain::FirmProfile>>;
    /// Writes `profile` and `audit` together, when the stored version is
    /// `profile.version - 1` (none stored for version 1); otherwise a conflict and
    /// nothing written.
    async fn save(&self, profile: &crate::domain::FirmProfile, audit: &crate::domain::ProfileAudit) -> AppResult<()>;
    /// Every company's profile for one year, by 統一編號.
    async fn list_year(&self, year: i32) -> AppResult<Vec<crate::domain::FirmProfile>>;
    /// One company's audit trail, oldest first.
    async fn audit(&self, tax_id: &TaxId) -> AppResult<Vec<crate::domain::ProfileAudit>>;
}

/// Firm-year totals (the aggregate behind national figures and benchmarks), each
/// replaced whole when the firm's lines of that year change.
#[async_trait]
pub trait TotalsStore: Send + Sync {
    /// Replaces the firm-year's totals; a total with no lines removes it.
    async fn put(&self, total: &crate::domain::FirmYearTotal) -> AppResult<()>;
    async fn get(&self, tax_id: &TaxId, year: i32) -> AppResult<Option<crate::domain::FirmYearTotal>>;
    /// Every firm's totals for one year, by 統一編號.
    async fn list_year(&self, year: i32) -> AppResult<Vec<crate::domain::FirmYearTotal>>;
    /// The years a firm has totals for, ascending.
    async fn years(&self, tax_id: &TaxId) -> AppResult<Vec<i32>>;
}
