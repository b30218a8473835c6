use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{db_err, SqliteDb};
use crate::domain::{FirmProfile, ProfileAudit, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::FirmProfileStore;
use crate::services::firms::stale_profile_error;

/// Firm profiles in SQLite: one row per (company, year); the version check, the write
/// and the audit entry are one IMMEDIATE transaction.
#[derive(Clone)]
pub struct SqliteFirmProfileStore {
    db: SqliteDb,
}

impl SqliteFirmProfileStore {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

fn decode<T: serde::de::DeserializeOwned>(json: String) -> AppResult<T> {
    serde_json::from_str(&json).map_err(|e| AppError::internal(format!("stored firm profile: {e}")))
}

fn query<T: serde::de::DeserializeOwned>(c: &rusqlite::Connection, sql: &str, p: impl rusqlite::Params) -> AppResult<Vec<T>> {
    let mut stmt = c.prepare(sql).map_err(db_err)?;
    let rows = stmt.query_map(p, |r| r.get::<_, String>(0)).map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(decode)).collect()
}

#[async_trait]
impl FirmProfileStore for SqliteFirmProfileStore {
    async fn get(&self, tax_id: &TaxId, year: i32) -> AppResult<Option<FirmProfile>> {
        let t = tax_id.as_str().to_string();
        self.db
            .call(move |c| {
                c.query_row("SELECT item FROM firm_profiles WHERE tax_id = ?1 AND year = ?2", params![t, year], |r| r.get::<_, String>(0))
                    .optional()
                    .map_err(db_err)?
                    .map(decode)
                    .transpose()
            })
            .await
    }

    async fn history(&self, tax_id: &TaxId) -> AppResult<Vec<FirmProfile>> {
        let t = tax_id.as_str().to_string();
        self.db.call(move |c| query(c, "SELECT item FROM firm_profiles WHERE tax_id = ?1 ORDER BY year", [t])).await
    }

    async fn save(&self, profile: &FirmProfile, audit: &ProfileAudit) -> AppResult<()> {
        let item = serde_json::to_string(profile).map_err(AppError::internal)?;
        let entry = serde_json::to_string(audit).map_err(AppError::internal)?;
        let (t, year, version) = (profile.tax_id.as_str().to_string(), profile.year, profile.version);
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
                let stored: Option<u32> = tx
                    .query_row("SELECT version FROM firm_profiles WHERE tax_id = ?1 AND year = ?2", params![t, year], |r| r.get(0))
                    .optional()
                    .map_err(db_err)?;
                if stored.unwrap_or(0) + 1 != version {
                    return Err(stale_profile_error());
                }
                tx.execute(
                    "INSERT INTO firm_profiles (tax_id, year, version, item) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (tax_id, year) DO UPDATE SET version = excluded.version, item = excluded.item",
                    params![t, year, version, item],
                )
                .map_err(db_err)?;
                tx.execute("INSERT INTO firm_profile_audit (tax_id, entry) VALUES (?1, ?2)", params![t, entry]).map_err(db_err)?;
                tx.commit().map_err(db_err)
            })
            .await
    }

    async fn list_year(&self, year: i32) -> AppResult<Vec<FirmProfile>> {
        self.db.call(move |c| query(c, "SELECT item FROM firm_profiles WHERE year = ?1 ORDER BY tax_id", [year])).await
    }

    async fn audit(&self, tax_id: &TaxId) -> AppResult<Vec<ProfileAudit>> {
        let t = tax_id.as_str().to_string();
        self.db.call(move |c| query(c, "SELECT entry FROM firm_profile_audit WHERE tax_id = ?1 ORDER BY seq", [t])).await
    }
}
