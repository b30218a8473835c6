use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{db_err, SqliteDb};
use crate::error::AppResult;
use crate::ports::{Claim, NotificationLog};

/// The notification log in SQLite: the key is the PRIMARY KEY, so a claim is one
/// conditional insert.
#[derive(Clone)]
pub struct SqliteNotificationLog {
    db: SqliteDb,
}

impl SqliteNotificationLog {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

#[async_trait]
impl NotificationLog for SqliteNotificationLog {
    async fn claim(&self, key: &str, now: DateTime<Utc>, lease: chrono::Duration) -> AppResult<Claim> {
        let key = key.to_string();
        self.db
            .call(move |conn| {
                let inserted = conn
                    .execute(
                        "INSERT OR IGNORE INTO notifications (key, state, claimed_at) VALUES (?1, 'sending', ?2)",
                        params![key, crate::records::timestamp(now)],
                    )
                    .map_err(db_err)?;
                if inserted == 1 {
                    return Ok(Claim::Claimed);
                }
                let stale = crate::records::timestamp(now - lease);
                // Take over a claim whose sender died, in one conditional update.
                let taken = conn
                    .execute(
                        "UPDATE notifications SET claimed_at = ?2 WHERE key = ?1 AND state = 'sending' AND claimed_at < ?3",
                        params![key, crate::records::timestamp(now), stale],
                    )
                    .map_err(db_err)?;
                if taken == 1 {
                    return Ok(Claim::Claimed);
                }
                let state: Option<String> =
                    conn.query_row("SELECT state FROM notifications WHERE key = ?1", [&key], |r| r.get(0)).optional().map_err(db_err)?;
                Ok(match state.as_deref() {
                    Some("sent") => Claim::AlreadySent,
                    _ => Claim::InProgress,
                })
            })
            .await
    }

    async fn mark_sent(&self, key: &str, message_id: &str, now: DateTime<Utc>) -> AppResult<()> {
        let (key, message_id) = (key.to_string(), message_id.to_string());
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE notifications SET state = 'sent', message_id = ?2, sent_at = ?3 WHERE key = ?1",
                    params![key, message_id, crate::records::timestamp(now)],
                )
                .map_err(db_err)?;
                Ok(())
            })
            .await
    }

    async fn release(&self, key: &str) -> AppResult<()> {
        let key = key.to_string();
        self.db
            .call(move |conn| {
                conn.execute("DELETE FROM notifications WHERE key = ?1 AND state = 'sending'", [&key]).map_err(db_err)?;
                Ok(())
            })
            .await
    }
}
