use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

use super::{db_err, is_unique_violation, SqliteDb};
use crate::domain::TaxId;
use crate::error::{AppError, AppResult};
use crate::ports::StatementStore;
use crate::statement::StatementRecord;

#[derive(Clone)]
pub struct SqliteStatementStore {
    db: SqliteDb,
}

impl SqliteStatementStore {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

const COLUMNS: &str = "id, tax_id, year, issued_at, inventory_sha256, document, superseded_by, revoked";

fn record(r: &Row) -> rusqlite::Result<StatementRecord> {
    Ok(StatementRecord {
        id: r.get(0)?,
        tax_id: r.get(1)?,
        year: r.get(2)?,
        issued_at: r.get(3)?,
        inventory_sha256: r.get(4)?,
        document: r.get(5)?,
        superseded_by: r.get(6)?,
        revoked: r.get(7)?,
    })
}

#[async_trait]
impl StatementStore for SqliteStatementStore {
    async fn insert(&self, rec: &StatementRecord) -> AppResult<()> {
        let rec = rec.clone();
        self.db
            .call(move |c| {
                match c.execute(
                    &format!("INSERT INTO statements ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                    params![rec.id, rec.tax_id, rec.year, rec.issued_at, rec.inventory_sha256, rec.document, rec.superseded_by, rec.revoked],
                ) {
                    Ok(_) => Ok(()),
                    Err(e) if is_unique_violation(&e, "statements.") => Err(AppError::Conflict("statement exists".into())),
                    Err(e) => Err(db_err(e)),
                }
            })
            .await
    }

    async fn get(&self, id: &str) -> AppResult<Option<StatementRecord>> {
        let id = id.to_string();
        self.db
            .call(move |c| c.query_row(&format!("SELECT {COLUMNS} FROM statements WHERE id = ?1"), [id], record).optional().map_err(db_err))
            .await
    }

    async fn list_for(&self, tax_id: &TaxId, year: i32) -> AppResult<Vec<StatementRecord>> {
        let tax = tax_id.to_string();
        self.db
            .call(move |c| {
                let mut st = c.prepare(&format!("SELECT {COLUMNS} FROM statements WHERE tax_id = ?1 AND year = ?2 ORDER BY issued_at, id")).map_err(db_err)?;
                let rows = st.query_map(params![tax, year], record).map_err(db_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
            })
            .await
    }

    async fn supersede(&self, tax_id: &TaxId, year: i32, id: &str, by: &str) -> AppResult<bool> {
        let (tax, id, by) = (tax_id.to_string(), id.to_string(), by.to_string());
        self.db
            .call(move |c| {
                let n = c
                    .execute(
                        "UPDATE statements SET superseded_by = ?1 WHERE id = ?2 AND tax_id = ?3 AND year = ?4 AND superseded_by IS NULL",
                        params![by, id, tax, year],
                    )
                    .map_err(db_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn revoke(&self, tax_id: &TaxId, year: i32, id: &str, reason: &str) -> AppResult<bool> {
        let (tax, id, reason) = (tax_id.to_string(), id.to_string(), reason.to_string());
        self.db
            .call(move |c| {
                let n = c
                    .execute("UPDATE statements SET revoked = ?1 WHERE id = ?2 AND tax_id = ?3 AND year = ?4", params![reason, id, tax, year])
                    .map_err(db_err)?;
                Ok(n == 1)
            })
            .await
    }
}
