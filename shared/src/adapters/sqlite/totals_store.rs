use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{db_err, SqliteDb};
use crate::domain::{FirmYearTotal, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::TotalsStore;

/// Firm-year totals in SQLite: one row per (company, year), replaced whole.
#[derive(Clone)]
pub struct SqliteTotalsStore {
    db: SqliteDb,
}

impl SqliteTotalsStore {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

fn decode(json: String) -> AppResult<FirmYearTotal> {
    serde_json::from_str(&json).map_err(|e| AppError::internal(format!("stored firm-year total: {e}")))
}

#[async_trait]
impl TotalsStore for SqliteTotalsStore {
    async fn put(&self, t: &FirmYearTotal) -> AppResult<()> {
        let item = serde_json::to_string(t).map_err(AppError::internal)?;
        let (tax, year, grams, lines) = (t.tax_id.clone(), t.year, t.grams_co2e, t.lines);
        self.db
            .call(move |c| {
                if lines == 0 {
                    c.execute("DELETE FROM firm_year_totals WHERE tax_id = ?1 AND year = ?2", params![tax, year]).map_err(db_err)?;
                } else {
                    c.execute(
                        "INSERT INTO firm_year_totals (tax_id, year, grams, item) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (tax_id, year) DO UPDATE SET grams = excluded.grams, item = excluded.item",
                        params![tax, year, grams, item],
                    )
                    .map_err(db_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn get(&self, tax_id: &TaxId, year: i32) -> AppResult<Option<FirmYearTotal>> {
        let t = tax_id.as_str().to_string();
        self.db
            .call(move |c| {
                c.query_row("SELECT item FROM firm_year_totals WHERE tax_id = ?1 AND year = ?2", params![t, year], |r| r.get::<_, String>(0))
                    .optional()
                    .map_err(db_err)?
                    .map(decode)
                    .transpose()
            })
            .await
    }

    async fn list_year(&self, year: i32) -> AppResult<Vec<FirmYearTotal>> {
        self.db
            .call(move |c| {
                let mut stmt = c.prepare("SELECT item FROM firm_year_totals WHERE year = ?1 ORDER BY tax_id").map_err(db_err)?;
                let rows = stmt.query_map([year], |r| r.get::<_, String>(0)).map_err(db_err)?;
                rows.map(|r| r.map_err(db_err).and_then(decode)).collect()
            })
            .await
    }

    async fn years(&self, tax_id: &TaxId) -> AppResult<Vec<i32>> {
        let t = tax_id.as_str().to_string();
        self.db
            .call(move |c| {
                let mut stmt = c.prepare("SELECT year FROM firm_year_totals WHERE tax_id = ?1 ORDER BY year").map_err(db_err)?;
                let rows = stmt.query_map([t], |r| r.get::<_, i32>(0)).map_err(db_err)?;
                rows.map(|r| r.map_err(db_err)).collect()
            })
            .await
    }
}
