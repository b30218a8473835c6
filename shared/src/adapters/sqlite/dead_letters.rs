//! What the local system has given up on for now, for the operators' page
//! (`GET /staff/dead-letters`): the change feed's dead letters (`feed_dead_letters`) and
//! the drop-folder events whose quick retries ran out (`drop_events` not delivered with
//! `attempts ≥ max_attempts`). Both are redriven every minute by the running system.
//!
//! Only bookkeeping is read: never the stored event body (`event`), which holds the
//! record's images or the object's metadata and may carry personal data.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{db_err, SqliteDb};
use crate::error::AppResult;

/// Which pipeline an item is stuck in, with what identifies it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DeadLetterKind {
    /// A change-feed record a stream consumer gave up on.
    Stream { consumer: String, seq: i64 },
    /// A drop-folder object event the object consumer (ingest) kept failing.
    File {
        /// The object key (`drop/{tax_id}/{batch}/{file}`).
        key: String,
        /// The key's last segment.
        file_name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetterItem {
    #[serde(flatten)]
    pub kind: DeadLetterKind,
    /// Deliveries so far (including redrives).
    pub attempts: u32,
    /// The last failure's reason (empty when none was recorded).
    pub error: String,
    /// Stream: when the record became a dead letter; file: when the file was taken
    /// from the drop folder (its event queued).
    pub created_at: DateTime<Utc>,
}

impl DeadLetterItem {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            DeadLetterKind::Stream { .. } => "stream",
            DeadLetterKind::File { .. } => "file",
        }
    }
}

#[derive(Clone)]
pub struct SqliteDeadLetters {
    db: SqliteDb,
}

fn parse_time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_default()
}

impl SqliteDeadLetters {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }

    /// Every stream dead letter (oldest first), then every drop event with
    /// `attempts ≥ max_attempts` not yet delivered (oldest first). `max_attempts` is the
    /// drop watcher's (`config.feed.max_attempts`).
    pub async fn list(&self, max_attempts: u32) -> AppResult<Vec<DeadLetterItem>> {
        let max = i64::from(max_attempts);
        self.db
            .call(move |conn| {
                let mut out = Vec::new();
                let mut st = conn
                    .prepare("SELECT consumer, seq, attempts, error, created_at FROM feed_dead_letters ORDER BY created_at, id")
                    .map_err(db_err)?;
                let rows = st
                    .query_map([], |r| {
                        Ok(DeadLetterItem {
                            kind: DeadLetterKind::Stream { consumer: r.get(0)?, seq: r.get(1)? },
                            attempts: r.get(2)?,
                            error: r.get(3)?,
                            created_at: parse_time(&r.get::<_, String>(4)?),
                        })
                    })
                    .map_err(db_err)?;
                for row in rows {
                    out.push(row.map_err(db_err)?);
                }
                let mut st = conn
                    .prepare(
                        "SELECT key, attempts, last_error, created_at FROM drop_events
                         WHERE delivered_at IS NULL AND attempts >= ?1 ORDER BY id",
                    )
                    .map_err(db_err)?;
                let rows = st
                    .query_map([max], |r| {
                        let key: String = r.get(0)?;
                        let file_name = key.rsplit('/').next().unwrap_or_default().to_string();
                        Ok(DeadLetterItem {
                            kind: DeadLetterKind::File { key, file_name },
                            attempts: r.get(1)?,
                            error: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                            created_at: parse_time(&r.get::<_, String>(3)?),
                        })
                    })
                    .map_err(db_err)?;
                for row in rows {
                    out.push(row.map_err(db_err)?);
                }
                Ok(out)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;
    use rusqlite::params;

    use super::*;
    use crate::adapters::sqlite::feed::ChangeFeed;
    use crate::config::FeedConfig;
    use crate::error::AppError;
    use crate::ports::ManualClock;
    use crate::stream::{DynamoDbEventResponse, StreamConsumer, StreamEvent};

    struct AlwaysFails;
    #[async_trait]
    impl StreamConsumer for AlwaysFails {
        fn name(&self) -> &str {
            "always-fails"
        }
        async fn handle(&self, _: StreamEvent) -> Result<DynamoDbEventResponse, AppError> {
            Err(AppError::Unavailable("mail server down".into()))
        }
    }

    #[tokio::test]
    async fn lists_stream_dead_letters_and_exhausted_drop_events_without_their_bodies() {
        let db = SqliteDb::open_in_memory().unwrap();
        let secret = "王小明 0912-345-678";
        db.call(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let img = serde_json::json!({"pk": "APP#1", "sk": "APP", "contact_name": secret});
            super::super::log_change(&tx, "t", "INSERT", &serde_json::json!({"pk": "APP#1", "sk": "APP"}), None, Some(&img), "2026-01-01T00:00:00Z")?;
            let body = serde_json::json!({"Records": [{"note": secret}]}).to_string();
            for (key, attempts, error, delivered) in [
                ("drop/22099131/b/exhausted.pdf", 3, Some("claimed by another worker"), None),
                ("drop/22099131/b/retrying.pdf", 2, Some("still retrying"), None),
                ("drop/22099131/b/delivered.pdf", 4, Some("was failing"), Some("2026-01-01T00:10:00+00:00")),
            ] {
                tx.execute(
                    "INSERT INTO drop_events (key, version_id, size, event, created_at, attempts, last_error, delivered_at)
                     VALUES (?1, 'v1', 10, ?2, '2026-01-01T01:02:03+00:00', ?3, ?4, ?5)",
                    params![key, body, attempts, error, delivered],
                )
                .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)
        })
        .await
        .unwrap();
        let store = SqliteDeadLetters::new(db.clone());
        assert!(store.list(3).await.unwrap().iter().all(|i| i.kind_name() == "file"), "no stream dead letter yet");

        // A consumer that fails every delivery: its record becomes a dead letter.
        let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
        let cfg = FeedConfig { max_attempts: 3, base_backoff: Duration::from_secs(1), ..FeedConfig::default() };
        let feed = ChangeFeed::new(db, cfg, Arc::new(clock.clone()));
        for _ in 0..3 {
            feed.poll(&AlwaysFails).await.unwrap();
            clock.advance(chrono::Duration::seconds(60));
        }
        assert_eq!(feed.dead_letters("always-fails").await.unwrap().len(), 1);

        let items = store.list(3).await.unwrap();
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(items[0].kind, DeadLetterKind::Stream { consumer: "always-fails".into(), seq: 1 });
        assert_eq!(items[0].attempts, 3);
        assert!(items[0].error.contains("mail server down"), "{}", items[0].error);
        assert_eq!(items[0].created_at, "2026-01-01T00:02:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(
            items[1].kind,
            DeadLetterKind::File { key: "drop/22099131/b/exhausted.pdf".into(), file_name: "exhausted.pdf".into() }
        );
        assert_eq!((items[1].attempts, items[1].error.as_str()), (3, "claimed by another worker"));
        assert_eq!(items[1].created_at, "2026-01-01T01:02:03Z".parse::<DateTime<Utc>>().unwrap());
        // With more quick retries allowed, the file is not a dead letter yet.
        assert_eq!(store.list(4).await.unwrap().len(), 1);

        let json = serde_json::to_value(&items).unwrap();
        assert_eq!(json[0]["kind"], "stream");
        assert_eq!(json[0]["consumer"], "always-fails");
        assert_eq!(json[1]["kind"], "file");
        assert_eq!(json[1]["key"], "drop/22099131/b/exhausted.pdf");
        assert_eq!(json[1]["created_at"], "2026-01-01T01:02:03Z");
        assert!(!json.to_string().contains(secret), "never the event body: {json}");
        assert!(json[0].get("event").is_none());
    }
}
