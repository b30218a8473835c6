//! Issuing and checking carbon statements (碳排放查核參考憑證).
//!
//! - `issue`: refused (409) while any activity of the year waits in review; otherwise the
//!   statement is built from the stored lines and activities, every counted document is
//!   hashed, and it is signed and stored. Asking again with the same figures returns the
//!   same statement; with changed figures (a correction or a restatement) a new one is
//!   issued and the earlier ones are marked superseded by it.
//! - `status`: valid, superseded (by a newer statement, or because the figures have been
//!   restated since and no newer one was asked for yet) or revoked.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::inventory::ActivityStatus;
use crate::domain::TaxId;
use crate::error::{AppError, AppResult};
use crate::factors::FactorLibrary;
use crate::ports::{ActivityStore, BlobKey, BlobStore, Clock, StatementStore};
use crate::statement::sign::{jwks, StatementKey};
use crate::statement::{self, hex, DocumentHash, Inputs, Preparer, StatementRecord};

/// Where a statement stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Valid,
    /// Replaced: `by` names the newer statement when one was issued.
    Superseded { by: Option<String> },
    Revoked { reason: String },
}

impl Status {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Superseded { .. } => "superseded",
            Self::Revoked { .. } => "revoked",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::Valid => "有效",
            Self::Superseded { .. } => "已被取代",
            Self::Revoked { .. } => "已撤銷",
        }
    }
}

#[derive(Clone)]
pub struct StatementService {
    keys: Vec<StatementKey>,
    store: Arc<dyn StatementStore>,
    activities: Arc<dyn ActivityStore>,
    blobs: Arc<dyn BlobStore>,
    library: Arc<FactorLibrary>,
    clock: Arc<dyn Clock>,
    public_url: String,
}

/// The firm a statement is issued for.
pub struct Firm {
    pub tax_id: TaxId,
    pub name: String,
    pub industry: Option<String>,
    pub county: Option<String>,
}

impl StatementService {
    pub fn new(
        keys: Vec<StatementKey>,
        store: Arc<dyn StatementStore>,
        activities: Arc<dyn ActivityStore>,
        blobs: Arc<dyn BlobStore>,
        library: Arc<FactorLibrary>,
        clock: Arc<dyn Clock>,
        public_url: &str,
    ) -> Self {
        Self { keys, store, activities, blobs, library, clock, public_url: public_url.trim_end_matches('/').to_string() }
    }

    /// The published keys (every configured key, also those past their last day, so older
    /// statements still verify).
    pub fn jwks(&self) -> Value {
        jwks(&self.keys)
    }

    pub fn verify_url(&self, id: &str) -> String {
        format!("{}/verify/{id}", self.public_url)
    }

    fn factor_sources(&self) -> BTreeMap<String, String> {
        self.library
            .entries()
            .into_iter()
            .map(|e| {
                let r = e.source.reference.as_deref().map(|r| format!("（{r}）")).unwrap_or_default();
                (e.reference.clone(), format!("{} {}{r}", e.source.publisher, e.source.title))
            })
            .collect()
    }

    /// The figures the stored inventory gives now (its `inventory_sha256`).
    async fn current_digest(&self, tax: &TaxId, year: i32) -> AppResult<String> {
        let lines = self.activities.list_emissions(tax, Some(year)).await?;
        let activities = self.activities.list_activities(tax, Some(year)).await?;
        Ok(statement::figures(&lines, &activities).digest())
    }

    /// Issues (or returns the current) statement of a firm-year.
    pub async fn issue(&self, firm: &Firm, year: i32, preparer: Preparer) -> AppResult<StatementRecord> {
        let now = self.clock.now();
        let key = self
            .keys
            .iter()
            .find(|k| k.can_sign_at(now))
            .ok_or_else(|| AppError::Unavailable("no statement signing key is valid now".into()))?;
        let tax = &firm.tax_id;
        let activities = self.activities.list_activities(tax, Some(year)).await?;
        let waiting: Vec<_> = activities.iter().filter(|a| a.status == ActivityStatus::NeedsReview).collect();
        if !waiting.is_empty() {
            let list: Vec<String> = waiting
                .iter()
                .take(20)
                .map(|a| format!("{}（{}）", a.kind.map(|k| k.label()).unwrap_or("未辨識單據"), a.id))
                .collect();
            return Err(AppError::Conflict(format!(
                "{year} 年度尚有 {} 筆資料待確認，確認後才能簽發憑證：{}{}",
                waiting.len(),
                list.join("、"),
                if waiting.len() > 20 { "…" } else { "" }
            )));
        }
        let lines = self.activities.list_emissions(tax, Some(year)).await?;
        if lines.is_empty() {
            return Err(AppError::Conflict(format!("{year} 年度尚無排放數據，無法簽發憑證。請先上傳單據。")));
        }
        // Hash every counted document.
        let mut documents = BTreeMap::new();
        for l in &lines {
            if documents.contains_key(&l.document) {
                continue;
            }
            let Some(k) = BlobKey::parse(&l.document) else { continue };
            if let Some(blob) = self.blobs.get(&k).await? {
                let content_type = crate::ingest::sniff::sniff(&blob.bytes).map(|t| t.content_type().to_string()).unwrap_or_else(|_| blob.content_type.clone());
                documents.insert(
                    l.document.clone(),
                    DocumentHash { sha256: hex(&Sha256::digest(&blob.bytes)), size: blob.bytes.len() as u64, content_type },
                );
            }
        }
        let id = format!("cs-{}", uuid::Uuid::now_v7().simple());
        let sources = self.factor_sources();
        let unsigned = statement::build(&Inputs {
            id: id.clone(),
            tax_id: tax.to_string(),
            company_name: firm.name.clone(),
            industry: firm.industry.clone(),
            county: firm.county.clone(),
            year,
            issued_at: now,
            lines: &lines,
            activities: &activities,
            documents: &documents,
            factor_sources: &sources,
            preparer,
            verify_url: self.verify_url(&id),
        });
        let digest = unsigned["inventory_sha256"].as_str().unwrap_or_default().to_string();
        let earlier = self.store.list_for(tax, year).await?;
        if let Some(same) = earlier.iter().rev().find(|r| r.superseded_by.is_none() && r.revoked.is_none() && r.inventory_sha256 == digest) {
            return Ok(same.clone());
        }
        let doc = statement::signed(&unsigned, key).map_err(AppError::internal)?;
        let record = StatementRecord {
            id: id.clone(),
            tax_id: tax.to_string(),
            year,
            issued_at: doc["issued_at"].as_str().unwrap_or_default().to_string(),
            inventory_sha256: digest,
            document: serde_json::to_string(&doc).map_err(AppError::internal)?,
            superseded_by: None,
            revoked: None,
        };
        self.store.insert(&record).await?;
        for old in earlier.iter().filter(|r| r.superseded_by.is_none()) {
            self.store.supersede(tax, year, &old.id, &id).await?;
        }
        tracing::info!(statement = %id, year, "carbon statement issued");
        Ok(record)
    }

    pub async fn get(&self, id: &str) -> AppResult<Option<StatementRecord>> {
        if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Ok(None);
        }
        self.store.get(id).await
    }

    /// Where the statement stands now.
    pub async fn status(&self, r: &StatementRecord) -> AppResult<Status> {
        if let Some(reason) = &r.revoked {
            return Ok(Status::Revoked { reason: reason.clone() });
        }
        if let Some(by) = &r.superseded_by {
            return Ok(Status::Superseded { by: Some(by.clone()) });
        }
        let tax = TaxId::parse(&r.tax_id).map_err(|e| AppError::internal(format!("stored statement tax id: {e}")))?;
        if self.current_digest(&tax, r.year).await? != r.inventory_sha256 {
            return Ok(Status::Superseded { by: None });
        }
        Ok(Status::Valid)
    }

    /// Revokes a statement (staff or the firm's admin: the caller checks who may).
    pub async fn revoke(&self, r: &StatementRecord, reason: &str) -> AppResult<()> {
        let tax = TaxId::parse(&r.tax_id).map_err(AppError::internal)?;
        if self.store.revoke(&tax, r.year, &r.id, reason).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("找不到此憑證".into()))
        }
    }
}
