//! SQLite (bundled): the local stand-in for DynamoDB. Every change to an entity is
//! written to `change_log` in the same transaction, and `feed` turns that log into
//! DynamoDB-stream events for the stream consumers.

mod activity_store;
mod application_store;
pub mod dead_letters;
mod firm_profile_store;
pub mod feed;
mod member_store;
mod notification_log;
mod statement_store;
mod totals_store;
mod token_store;

pub use activity_store::SqliteActivityStore;
pub use application_store::SqliteApplicationStore;
pub use firm_profile_store::SqliteFirmProfileStore;
pub use member_store::SqliteMemberStore;
pub use notification_log::SqliteNotificationLog;
pub use statement_store::SqliteStatementStore;
pub use totals_store::SqliteTotalsStore;
pub use token_store::SqliteTokenStore;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::error::{AppError, AppResult};

const MIGRATIONS: &[&str] = &[
    // 1: applications, idempotency keys, the change log and the feed's bookkeeping.
    r#"
    CREATE TABLE applications (
        id            TEXT PRIMARY KEY,
        tax_id        TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
        version       INTEGER NOT NULL,
        submitted_at  TEXT NOT NULL,
        item          TEXT NOT NULL
    ) STRICT;
    -- One account per company: at most one pending or approved application per 統一編號.
    CREATE UNIQUE INDEX applications_one_active_per_company
        ON applications (tax_id) WHERE status IN ('pending', 'approved');
    CREATE INDEX applications_by_company ON applications (tax_id, submitted_at);

    CREATE TABLE idempotency_keys (
        key             TEXT PRIMARY KEY,
        application_id  TEXT NOT NULL REFERENCES applications (id),
        fingerprint     TEXT NOT NULL,
        created_at      TEXT NOT NULL
    ) STRICT;

    -- The local twin of a DynamoDB stream (NEW_AND_OLD_IMAGES).
    CREATE TABLE change_log (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        table_name   TEXT NOT NULL,
        event_name   TEXT NOT NULL CHECK (event_name IN ('INSERT', 'MODIFY', 'REMOVE')),
        keys         TEXT NOT NULL,
        old_image    TEXT,
        new_image    TEXT,
        created_at   TEXT NOT NULL
    ) STRICT;

    -- Per consumer: how far it has got, and the record it is retrying.
    CREATE TABLE feed_checkpoints (
        consumer         TEXT PRIMARY KEY,
        checkpoint       INTEGER NOT NULL DEFAULT 0,
        failing_seq      INTEGER,
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT,
        last_error       TEXT
    ) STRICT;

    CREATE TABLE feed_dead_letters (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        consumer    TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        attempts    INTEGER NOT NULL,
        error       TEXT NOT NULL,
        event       TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        UNIQUE (consumer, seq)
    ) STRICT;
    "#,
    // 2: object-created events from the drop folder (the local twin of S3 notifications).
    r#"
    CREATE TABLE drop_events (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        key           TEXT NOT NULL,
        version_id    TEXT NOT NULL,
        size          INTEGER NOT NULL,
        event         TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        delivered_at  TEXT,
        UNIQUE (key, version_id)
    ) STRICT;
    "#,
    // 3: the decisions' audit trail (append-only) and the notification log.
    r#"
    CREATE TABLE application_decisions (
        application_id  TEXT NOT NULL REFERENCES applications (id),
        version         INTEGER NOT NULL,
        status          TEXT NOT NULL,
        reviewer        TEXT NOT NULL,
        reason          TEXT,
        decided_at      TEXT NOT NULL,
        PRIMARY KEY (application_id, version)
    ) STRICT;
    CREATE TRIGGER application_decisions_append_only_u BEFORE UPDATE ON application_decisions
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER application_decisions_append_only_d BEFORE DELETE ON application_decisions
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;

    CREATE TABLE notifications (
        key         TEXT PRIMARY KEY,
        state       TEXT NOT NULL CHECK (state IN ('sending', 'sent')),
        claimed_at  TEXT NOT NULL,
        message_id  TEXT,
        sent_at     TEXT
    ) STRICT;
    "#,
    // 4: members and their append-only audit trail.
    r#"
    CREATE TABLE members (
        id          TEXT PRIMARY KEY,
        tax_id      TEXT NOT NULL,
        email_key   TEXT NOT NULL,
        is_admin    INTEGER NOT NULL,
        item        TEXT NOT NULL,
        UNIQUE (tax_id, email_key)
    ) STRICT;
    CREATE INDEX members_by_email ON members (email_key);
    CREATE TABLE member_audit (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        tax_id     TEXT NOT NULL,
        entry      TEXT NOT NULL
    ) STRICT;
    CREATE TRIGGER member_audit_append_only_u BEFORE UPDATE ON member_audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER member_audit_append_only_d BEFORE DELETE ON member_audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    "#,
    // 5: short-lived secrets (sign-in links, sessions), by hash.
    r#"
    CREATE TABLE tokens (
        kind        TEXT NOT NULL,
        key         TEXT NOT NULL,
        data        TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    ) STRICT;
    "#,
    // 6: the inventory: dropped files, activity records, emission lines, restatements.
    r#"
    CREATE TABLE ingest_files (
        key         TEXT NOT NULL,
        version     TEXT NOT NULL,
        tax_id      TEXT NOT NULL,
        status      TEXT NOT NULL,
        claimed_at  TEXT NOT NULL,
        item        TEXT NOT NULL,
        PRIMARY KEY (key, version)
    ) STRICT;
    CREATE INDEX ingest_files_by_company ON ingest_files (tax_id);
    CREATE TABLE activities (
        id          TEXT PRIMARY KEY,
        tax_id      TEXT NOT NULL,
        status      TEXT NOT NULL,
        dedupe_key  TEXT,
        item        TEXT NOT NULL
    ) STRICT;
    CREATE INDEX activities_by_company ON activities (tax_id);
    -- The same bill counts once: at most one counted activity per company and dedupe key.
    CREATE UNIQUE INDEX activities_counted_once ON activities (tax_id, dedupe_key)
        WHERE status = 'accepted' AND dedupe_key IS NOT NULL;
    CREATE TABLE emissions (
        activity_id  TEXT NOT NULL,
        month        TEXT NOT NULL,
        tax_id       TEXT NOT NULL,
        year         INTEGER NOT NULL,
        item         TEXT NOT NULL,
        PRIMARY KEY (activity_id, month)
    ) STRICT;
    CREATE INDEX emissions_by_company ON emissions (tax_id, year);
    CREATE TABLE restatements (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        tax_id  TEXT NOT NULL,
        item    TEXT NOT NULL
    ) STRICT;
    "#,
    // 7: carbon statements.
    r#"
    CREATE TABLE statements (
        id               TEXT PRIMARY KEY,
        tax_id           TEXT NOT NULL,
        year             INTEGER NOT NULL,
        issued_at        TEXT NOT NULL,
        inventory_sha256 TEXT NOT NULL,
        document         TEXT NOT NULL,
        superseded_by    TEXT,
        revoked          TEXT
    ) STRICT;
    CREATE INDEX statements_by_firm_year ON statements (tax_id, year, issued_at);
    "#,
    // 8: firm profiles per inventory year, and their append-only audit trail.
    r#"
    CREATE TABLE firm_profiles (
        tax_id   TEXT NOT NULL,
        year     INTEGER NOT NULL,
        version  INTEGER NOT NULL,
        item     TEXT NOT NULL,
        PRIMARY KEY (tax_id, year)
    ) STRICT;
    CREATE INDEX firm_profiles_by_year ON firm_profiles (year, tax_id);
    CREATE TABLE firm_profile_audit (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        tax_id  TEXT NOT NULL,
        entry   TEXT NOT NULL
    ) STRICT;
    CREATE INDEX firm_profile_audit_by_firm ON firm_profile_audit (tax_id, seq);
    "#,
    // 9: firm-year totals (the aggregate national figures and benchmarks read).
    r#"
    CREATE TABLE firm_year_totals (
        tax_id  TEXT NOT NULL,
        year    INTEGER NOT NULL,
        grams   INTEGER NOT NULL,
        item    TEXT NOT NULL,
        PRIMARY KEY (tax_id, year)
    ) STRICT;
    CREATE INDEX firm_year_totals_by_year ON firm_year_totals (year, tax_id);
    "#,
    // 10: how many times reading a file was started (a takeover counts), so a file that
    // keeps killing its reader is failed instead of taken over for ever.
    r#"
    ALTER TABLE ingest_files ADD COLUMN reads INTEGER NOT NULL DEFAULT 1;
    "#,
];

/// A SQLite database shared by the local adapters. Calls run on the blocking pool.
#[derive(Clone)]
pub struct SqliteDb {
    conn: Arc<Mutex<Connection>>,
    /// The fault-injection suite's crash points (never set in production).
    faults: Option<Arc<crate::faults::Faults>>,
}

impl SqliteDb {
    pub fn open(path: &Path) -> AppResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| AppError::internal(format!("create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(db_err)?;
        Self::init(conn)
    }

    pub fn open_in_memory() -> AppResult<Self> {
        Self::init(Connection::open_in_memory().map_err(db_err)?)
    }

    fn init(mut conn: Connection) -> AppResult<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db_err)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(db_err)?;
        let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db_err)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = conn.transaction().map_err(db_err)?;
            tx.execute_batch(sql).map_err(db_err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(db_err)?;
            tx.commit().map_err(db_err)?;
        }
        Ok(Self { conn: Arc::new(Mutex::new(conn)), faults: None })
    }

    /// The same database with calls going through a fault plan.
    pub fn with_faults(&self, faults: Option<Arc<crate::faults::Faults>>) -> Self {
        Self { conn: self.conn.clone(), faults }
    }

    /// Runs `f` with the connection on the blocking pool. Each call is one transaction
    /// at most (or none), so a crash between calls leaves whole calls only.
    pub async fn call<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> AppResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let run = async move {
            tokio::task::spawn_blocking(move || {
                // A panic inside an earlier call rolled its transaction back (the
                // Transaction's drop): the connection is sound, whatever the poison says.
                let mut guard = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                f(&mut guard)
            })
            .await
            .map_err(|e| AppError::internal(format!("sqlite task: {e}")))?
        };
        crate::faults::guarded(self.faults.as_deref(), "sqlite", run).await
    }
}

pub fn db_err(e: rusqlite::Error) -> AppError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            AppError::Unavailable(format!("sqlite: {e}"))
        }
        _ => AppError::internal(format!("sqlite: {e}")),
    }
}

/// True when `e` is a UNIQUE violation naming `column` (e.g. `applications.tax_id`).
pub(crate) fn is_unique_violation(e: &rusqlite::Error, column: &str) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, Some(msg))
        if f.code == rusqlite::ErrorCode::ConstraintViolation && msg.contains("UNIQUE") && msg.contains(column))
}

/// Appends one change to the change log; call inside the transaction that made it.
pub(crate) fn log_change(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    event_name: &str,
    keys: &serde_json::Value,
    old_image: Option<&serde_json::Value>,
    new_image: Option<&serde_json::Value>,
    at: &str,
) -> AppResult<()> {
    tx.execute(
        "INSERT INTO change_log (table_name, event_name, keys, old_image, new_image, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            table,
            event_name,
            keys.to_string(),
            old_image.map(|v| v.to_string()),
            new_image.map(|v| v.to_string()),
            at
        ],
    )
    .map_err(db_err)?;
    Ok(())
}
