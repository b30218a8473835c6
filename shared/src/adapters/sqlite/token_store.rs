use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{db_err, is_unique_violation, SqliteDb};
use crate::error::{AppError, AppResult};
use crate::ports::TokenStore;
use crate::records::timestamp;

#[derive(Clone)]
pub struct SqliteTokenStore {
    db: SqliteDb,
}

impl SqliteTokenStore {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

#[async_trait]
impl TokenStore for SqliteTokenStore {
    async fn insert(&self, kind: &str, key: &str, data: &str, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> AppResult<()> {
        let (kind, key, data) = (kind.to_string(), key.to_string(), data.to_string());
        self.db
            .call(move |c| {
                c.execute("DELETE FROM tokens WHERE expires_at <= ?1", [timestamp(now)]).map_err(db_err)?;
                match c.execute(
                    "INSERT INTO tokens (kind, key, data, expires_at) VALUES (?1, ?2, ?3, ?4)",
                    params![kind, key, data, timestamp(expires_at)],
                ) {
                    Ok(_) => Ok(()),
                    Err(e) if is_unique_violation(&e, "tokens.") => Err(AppError::Conflict("token exists".into())),
                    Err(e) => Err(db_err(e)),
                }
            })
            .await
    }

    async fn get(&self, kind: &str, key: &str, now: DateTime<Utc>) -> AppResult<Option<String>> {
        let (kind, key) = (kind.to_string(), key.to_string());
        self.db
            .call(move |c| {
                c.query_row(
                    "SELECT data FROM tokens WHERE kind = ?1 AND key = ?2 AND expires_at > ?3",
                    params![kind, key, timestamp(now)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)
            })
            .await
    }

    async fn take(&self, kind: &str, key: &str, now: DateTime<Utc>) -> AppResult<Option<String>> {
        let (kind, key) = (kind.to_string(), key.to_string());
        self.db
            .call(move |c| {
                let row: Option<(String, String)> = c
                    .query_row("DELETE FROM tokens WHERE kind = ?1 AND key = ?2 RETURNING data, expires_at", params![kind, key], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()
                    .map_err(db_err)?;
                Ok(row.filter(|(_, exp)| exp.as_str() > timestamp(now).as_str()).map(|(d, _)| d))
            })
            .await
    }
}
