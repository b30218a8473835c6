use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{db_err, is_unique_violation, log_change, SqliteDb};
use crate::domain::{Application, ApplicationId, ApplicationStatus, Decision, IdempotencyKey, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::{ApplicationStore, Submission};
use crate::records::ApplicationItem;
use crate::services::apply::{conflict_error, idempotency_mismatch_error};
use crate::services::review::already_decided_error;

/// Applications in SQLite. One active application per company is a partial UNIQUE
/// index; the idempotency key is a PRIMARY KEY; both are written with the change-log
/// entry in one transaction.
#[derive(Clone)]
pub struct SqliteApplicationStore {
    db: SqliteDb,
}

impl SqliteApplicationStore {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

fn load(conn: &rusqlite::Connection, id: &str) -> AppResult<Option<Application>> {
    let item: Option<String> = conn
        .query_row("SELECT item FROM applications WHERE id = ?1", [id], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    item.map(|json| {
        serde_json::from_str::<ApplicationItem>(&json)
            .map(|i| i.application)
            .map_err(|e| AppError::internal(format!("stored application {id}: {e}")))
    })
    .transpose()
}

#[async_trait]
impl ApplicationStore for SqliteApplicationStore {
    async fn submit(&self, application: &Application, key: Option<&IdempotencyKey>) -> AppResult<Submission> {
        let app = application.clone();
        let key = key.cloned();
        self.db
            .call(move |conn| {
                let item = serde_json::to_value(ApplicationItem::from(&app)).map_err(AppError::internal)?;
                let fingerprint = app.form.fingerprint();
                let at = app.submitted_at.to_rfc3339();
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
                let inserted = tx.execute(
                    "INSERT INTO applications (id, tax_id, status, version, submitted_at, item) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![app.id.as_str(), app.form.tax_id.as_str(), app.status.code(), app.version, at, item.to_string()],
                );
                if let Err(e) = inserted {
                    if is_unique_violation(&e, "applications.tax_id") {
                        // A resubmission of a form that was stored is a replay, not a conflict.
                        if let Some(k) = &key {
                            if let Some(first) = replay(&tx, k, &fingerprint)? {
                                return first;
                            }
                        }
                        let existing: Option<String> = tx
                            .query_row(
                                "SELECT status FROM applications WHERE tax_id = ?1 AND status IN ('pending','approved')",
                                [app.form.tax_id.as_str()],
                                |r| r.get(0),
                            )
                            .optional()
                            .map_err(db_err)?;
                        let status = existing.as_deref().and_then(ApplicationStatus::from_code).unwrap_or(ApplicationStatus::Pending);
                        return Err(conflict_error(status));
                    }
                    return Err(db_err(e));
                }
                if let Some(k) = &key {
                    let r = tx.execute(
                        "INSERT INTO idempotency_keys (key, application_id, fingerprint, created_at) VALUES (?1, ?2, ?3, ?4)",
                        params![k.as_str(), app.id.as_str(), fingerprint, at],
                    );
                    if let Err(e) = r {
                        if is_unique_violation(&e, "idempotency_keys.key") {
                            // Rolls back the application insert above (tx dropped).
                            return replay(&tx, k, &fingerprint)?.unwrap_or_else(|| Err(idempotency_mismatch_error()));
                        }
                        return Err(db_err(e));
                    }
                }
                let keys = serde_json::json!({ "pk": item["pk"], "sk": item["sk"] });
                log_change(&tx, "applications", "INSERT", &keys, None, Some(&item), &at)?;
                tx.commit().map_err(db_err)?;
                Ok(Submission::Created(app))
            })
            .await
    }

    async fn get(&self, id: &ApplicationId) -> AppResult<Option<Application>> {
        let id = id.as_str().to_string();
        self.db.call(move |conn| load(conn, &id)).await
    }

    async fn decide(&self, id: &ApplicationId, expected_version: u32, decision: &Decision) -> AppResult<Application> {
        let (id, decision) = (id.as_str().to_string(), decision.clone());
        self.db.call(move |conn| decide_tx(conn, &id, expected_version, &decision)).await
    }

    async fn list_for_company(&self, tax_id: &TaxId) -> AppResult<Vec<Application>> {
        let tax_id = tax_id.as_str().to_string();
        self.db
            .call(move |conn| {
                query_items(conn, "SELECT item FROM applications WHERE tax_id = ?1 ORDER BY submitted_at DESC, id DESC", [&tax_id])
            })
            .await
    }

    async fn list_approved(&self) -> AppResult<Vec<Application>> {
        self.db
            .call(|conn| query_items(conn, "SELECT item FROM applications WHERE status = 'approved' ORDER BY submitted_at, id", []))
            .await
    }

    async fn list_rejected_since(&self, since: chrono::DateTime<chrono::Utc>) -> AppResult<Vec<Application>> {
        let all = self
            .db
            .call(|conn| query_items(conn, "SELECT item FROM applications WHERE status = 'rejected' ORDER BY submitted_at, id", []))
            .await?;
        Ok(all.into_iter().filter(|a| a.decision.as_ref().is_some_and(|d| d.decided_at >= since)).collect())
    }

    async fn list_pending(&self) -> AppResult<Vec<Application>> {
        self.db
            .call(|conn| query_items(conn, "SELECT item FROM applications WHERE status = 'pending' ORDER BY submitted_at, id", []))
            .await
    }
}

fn query_items(conn: &rusqlite::Connection, sql: &str, params: impl rusqlite::Params) -> AppResult<Vec<Application>> {
    let mut stmt = conn.prepare(sql).map_err(db_err)?;
    let rows = stmt.query_map(params, |r| r.get::<_, String>(0)).map_err(db_err)?;
    let mut out = Vec::new();
    for json in rows {
        let item: ApplicationItem = serde_json::from_str(&json.map_err(db_err)?).map_err(AppError::internal)?;
        out.push(item.application);
    }
    Ok(out)
}

fn decide_tx(conn: &mut rusqlite::Connection, id: &str, expected_version: u32, decision: &Decision) -> AppResult<Application> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
    let current = load(&tx, id)?.ok_or_else(|| AppError::NotFound("查無此申請。".into()))?;
    let mut next = current.clone();
    next.status = decision.status;
    next.version = expected_version + 1;
    next.decision = Some(decision.clone());
    let new_item = serde_json::to_value(ApplicationItem::from(&next)).map_err(AppError::internal)?;
    // The condition is in the UPDATE itself: only a pending application at the expected version changes.
    let changed = tx
        .execute(
            "UPDATE applications SET status = ?2, version = ?3, item = ?4 WHERE id = ?1 AND status = 'pending' AND version = ?5",
            params![id, next.status.code(), next.version, new_item.to_string(), expected_version],
        )
        .map_err(db_err)?;
    if changed != 1 {
        return Err(already_decided_error(&current));
    }
    tx.execute(
        "INSERT INTO application_decisions (application_id, version, status, reviewer, reason, decided_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, next.version, decision.status.code(), decision.reviewer, decision.reason, decision.decided_at.to_rfc3339()],
    )
    .map_err(db_err)?;
    if decision.status == ApplicationStatus::Approved {
        // The applicant becomes the company's first member (admin, carbon login) in the same transaction.
        super::member_store::insert_member(&tx, &crate::services::members::first_member(&next, decision.decided_at), "system")?;
    }
    let old_item = serde_json::to_value(ApplicationItem::from(&current)).map_err(AppError::internal)?;
    let keys = serde_json::json!({ "pk": new_item["pk"], "sk": new_item["sk"] });
    log_change(&tx, "applications", "MODIFY", &keys, Some(&old_item), Some(&new_item), &decision.decided_at.to_rfc3339())?;
    tx.commit().map_err(db_err)?;
    Ok(next)
}

/// The first result for an idempotency key: `None` if the key is unused, the stored
/// application if the content matches, a validation error if it does not.
fn replay(conn: &rusqlite::Connection, key: &IdempotencyKey, fingerprint: &str) -> AppResult<Option<AppResult<Submission>>> {
    let row: Option<(String, String)> = conn
        .query_row("SELECT application_id, fingerprint FROM idempotency_keys WHERE key = ?1", [key.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(db_err)?;
    let Some((app_id, fp)) = row else { return Ok(None) };
    if fp != fingerprint {
        return Ok(Some(Err(idempotency_mismatch_error())));
    }
    let app = load(conn, &app_id)?.ok_or_else(|| AppError::internal("idempotency key points to a missing application"))?;
    Ok(Some(Ok(Submission::Replayed(app))))
}
