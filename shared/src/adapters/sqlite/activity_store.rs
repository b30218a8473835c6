//! `ActivityStore` on SQLite: files claimed by (key, version), activities with a partial
//! UNIQUE index so a bill is counted once, emission lines replaced per activity, and
//! every activity change written to the change log in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{db_err, log_change, SqliteDb};
use crate::domain::inventory::{Activity, ActivityStatus, EmissionRecord, FileRecord, FileStatus, Restatement};
use crate::domain::TaxId;
use crate::error::{AppError, AppResult};
use crate::ports::{ActivityStore, FileClaim};
use crate::records::{timestamp, ActivityItem};

pub struct SqliteActivityStore {
    db: SqliteDb,
}

impl SqliteActivityStore {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(AppError::internal)
}
fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> AppResult<T> {
    serde_json::from_str(s).map_err(AppError::internal)
}

fn image(a: &Activity) -> AppResult<serde_json::Value> {
    serde_json::to_value(ActivityItem::from(a)).map_err(AppError::internal)
}

fn keys(a: &Activity) -> serde_json::Value {
    let item = ActivityItem::from(a);
    serde_json::json!({ "pk": item.pk, "sk": item.sk })
}

fn load_activity(conn: &rusqlite::Connection, id: &str) -> AppResult<Option<Activity>> {
    conn.query_row("SELECT item FROM activities WHERE id = ?1", [id], |r| r.get::<_, String>(0))
        .optional()
        .map_err(db_err)?
        .map(|s| from_json(&s))
        .transpose()
}

/// Applies dedupe: if a counted activity of the company holds the key, this one is its
/// duplicate (a waiting one keeps waiting, with a hint); a former duplicate whose
/// original is gone is freed. A waiting bill never blocks a clean copy from counting.
fn apply_dedupe(tx: &rusqlite::Transaction<'_>, a: &mut Activity) -> AppResult<()> {
    if a.status == ActivityStatus::Rejected {
        return Ok(());
    }
    let holder: Option<String> = match &a.dedupe_key {
        Some(k) => tx
            .query_row(
                "SELECT id FROM activities WHERE tax_id = ?1 AND dedupe_key = ?2 AND id <> ?3
                   AND status = 'accepted' ORDER BY id LIMIT 1",
                params![a.tax_id, k, a.id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?,
        None => None,
    };
    a.apply_dedupe(holder);
    Ok(())
}

fn write_activity(tx: &rusqlite::Transaction<'_>, a: &Activity, old: Option<&Activity>, at: &str) -> AppResult<()> {
    tx.execute(
        "INSERT INTO activities (id, tax_id, status, dedupe_key, item) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, dedupe_key = excluded.dedupe_key, item = excluded.item",
        params![a.id, a.tax_id, a.status.as_str(), a.dedupe_key, to_json(a)?],
    )
    .map_err(|e| {
        if super::is_unique_violation(&e, "activities.") {
            AppError::Conflict("此單據已登錄過（同一電號與計費期間或同一發票號碼），只會計算一次".into())
        } else {
            db_err(e)
        }
    })?;
    let old_img = old.map(image).transpose()?;
    let event = if old.is_some() { "MODIFY" } else { "INSERT" };
    log_change(tx, "activities", event, &keys(a), old_img.as_ref(), Some(&image(a)?), at)
}

#[async_trait]
impl ActivityStore for SqliteActivityStore {
    async fn claim_file(&self, file: &FileRecord, now: DateTime<Utc>, lease: chrono::Duration) -> AppResult<FileClaim> {
        let file = file.clone();
        self.db
            .call(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let existing: Option<(String, String, String, u32)> = tx
                    .query_row(
                        "SELECT status, claimed_at, item, reads FROM ingest_files WHERE key = ?1 AND version = ?2",
                        params![file.key, file.version],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()
                    .map_err(db_err)?;
                let mut claim = FileClaim::Claimed;
                if let Some((status, claimed_at, item, reads)) = existing {
                    if status != FileStatus::Processing.as_str() {
                        return Ok(FileClaim::AlreadyDone(from_json(&item)?));
                    }
                    let claimed = DateTime::parse_from_rfc3339(&claimed_at).map(|d| d.with_timezone(&Utc)).unwrap_or(now);
                    if now - claimed < lease {
                        return Ok(FileClaim::InProgress);
                    }
                    claim = FileClaim::TakenOver { previous_reads: reads };
                }
                tx.execute(
                    "INSERT INTO ingest_files (key, version, tax_id, status, claimed_at, item, reads) VALUES (?1, ?2, ?3, 'processing', ?4, ?5, 1)
                     ON CONFLICT (key, version) DO UPDATE SET status = 'processing', claimed_at = excluded.claimed_at, item = excluded.item, reads = reads + 1",
                    params![file.key, file.version, file.tax_id, timestamp(now), to_json(&file)?],
                )
                .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
                Ok(claim)
            })
            .await
    }

    async fn finish_file(&self, file: &FileRecord, activities: Vec<Activity>) -> AppResult<Vec<Activity>> {
        let mut file = file.clone();
        self.db
            .call(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let mut stored = Vec::with_capacity(activities.len());
                for mut a in activities {
                    let old = load_activity(&tx, &a.id)?;
                    if let Some(o) = &old {
                        // Redelivery of the same file version: keep a person's work.
                        if o.confirmed_by.is_some() {
                            stored.push(o.clone());
                            continue;
                        }
                        a.version = o.version + 1;
                    }
                    apply_dedupe(&tx, &mut a)?;
                    write_activity(&tx, &a, old.as_ref(), &file.updated_at)?;
                    stored.push(a);
                }
                file.activities = stored.len() as u32;
                file.needs_review = stored.iter().filter(|a| a.status == ActivityStatus::NeedsReview).count() as u32;
                file.duplicates = stored.iter().filter(|a| a.status == ActivityStatus::Duplicate).count() as u32;
                if file.status != FileStatus::Failed {
                    file.status = if file.needs_review > 0 { FileStatus::NeedsReview } else { FileStatus::Done };
                }
                tx.execute(
                    "INSERT INTO ingest_files (key, version, tax_id, status, claimed_at, item) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (key, version) DO UPDATE SET status = excluded.status, item = excluded.item",
                    params![file.key, file.version, file.tax_id, file.status.as_str(), file.updated_at, to_json(&file)?],
                )
                .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
                Ok(stored)
            })
            .await
    }

    async fn list_files(&self, tax_id: &TaxId) -> AppResult<Vec<FileRecord>> {
        let tax = tax_id.to_string();
        self.db
            .call(move |conn| {
                let mut stmt = conn.prepare("SELECT item FROM ingest_files WHERE tax_id = ?1").map_err(db_err)?;
                let rows = stmt.query_map([tax], |r| r.get::<_, String>(0)).map_err(db_err)?;
                let mut out: Vec<FileRecord> = Vec::new();
                for r in rows {
                    out.push(from_json(&r.map_err(db_err)?)?);
                }
                // The file status tracks the review queue (refresh counts from activities).
                for f in &mut out {
                    let (review, dup): (i64, i64) = conn
                        .query_row(
                            "SELECT COALESCE(SUM(status = 'needs_review'), 0), COALESCE(SUM(status = 'duplicate'), 0)
                             FROM activities WHERE tax_id = ?1 AND json_extract(item, '$.document') = ?2",
                            params![f.tax_id, f.blob_key],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .map_err(db_err)?;
                    f.needs_review = review as u32;
                    f.duplicates = dup as u32;
                    if matches!(f.status, FileStatus::NeedsReview | FileStatus::Done) {
                        f.status = if review > 0 { FileStatus::NeedsReview } else { FileStatus::Done };
                    }
                }
                out.sort_by(|a, b| (&a.batch_id, &a.name, &a.received_at).cmp(&(&b.batch_id, &b.name, &b.received_at)));
                Ok(out)
            })
            .await
    }

    async fn list_activities(&self, tax_id: &TaxId, year: Option<i32>) -> AppResult<Vec<Activity>> {
        let tax = tax_id.to_string();
        self.db
            .call(move |conn| {
                let mut stmt = conn.prepare("SELECT item FROM activities WHERE tax_id = ?1 ORDER BY id").map_err(db_err)?;
                let rows = stmt.query_map([tax], |r| r.get::<_, String>(0)).map_err(db_err)?;
                let mut out: Vec<Activity> = Vec::new();
                for r in rows {
                    let a: Activity = from_json(&r.map_err(db_err)?)?;
                    if let Some(y) = year {
                        use chrono::Datelike;
                        let touches = match (a.period_start, a.period_end) {
                            (Some(s), Some(e)) => s.year() <= y && e.year() >= y,
                            (Some(d), None) | (None, Some(d)) => d.year() == y,
                            // Undated items waiting for a person are shown in every year.
                            (None, None) => true,
                        };
                        if !touches {
                            continue;
                        }
                    }
                    out.push(a);
                }
                out.sort_by(|a, b| (a.period_start, &a.document, a.page, &a.id).cmp(&(b.period_start, &b.document, b.page, &b.id)));
                Ok(out)
            })
            .await
    }

    async fn get_activity(&self, tax_id: &TaxId, id: &str) -> AppResult<Option<Activity>> {
        let (tax, id) = (tax_id.to_string(), id.to_string());
        self.db
            .call(move |conn| Ok(load_activity(conn, &id)?.filter(|a| a.tax_id == tax)))
            .await
    }

    async fn update_activity(&self, activity: &Activity, expected_version: u32) -> AppResult<Activity> {
        let mut a = activity.clone();
        self.db
            .call(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let old = load_activity(&tx, &a.id)?
                    .filter(|o| o.tax_id == a.tax_id)
                    .ok_or_else(|| AppError::NotFound("找不到這筆活動數據".into()))?;
                if old.version != expected_version {
                    return Err(AppError::Conflict("這筆資料已被其他人更新，請重新整理後再修改".into()));
                }
                a.version = old.version + 1;
                apply_dedupe(&tx, &mut a)?;
                write_activity(&tx, &a, Some(&old), &a.updated_at.clone())?;
                // A duplicate waiting on this one is freed when this one no longer counts.
                if !a.counts() && old.dedupe_key.is_some() {
                    let waiting: Vec<String> = {
                        let mut stmt = tx
                            .prepare("SELECT item FROM activities WHERE tax_id = ?1 AND status = 'duplicate' AND json_extract(item, '$.duplicate_of') = ?2")
                            .map_err(db_err)?;
                        let rows = stmt.query_map(params![a.tax_id, a.id], |r| r.get::<_, String>(0)).map_err(db_err)?;
                        rows.collect::<Result<_, _>>().map_err(db_err)?
                    };
                    for w in waiting.iter().take(1) {
                        let before: Activity = from_json(w)?;
                        let mut freed = before.clone();
                        freed.version += 1;
                        freed.status = ActivityStatus::Accepted;
                        freed.duplicate_of = None;
                        freed.refresh();
                        apply_dedupe(&tx, &mut freed)?;
                        write_activity(&tx, &freed, Some(&before), &a.updated_at.clone())?;
                    }
                }
                tx.commit().map_err(db_err)?;
                Ok(a)
            })
            .await
    }

    async fn replace_emissions(&self, tax_id: &TaxId, activity_id: &str, lines: Vec<EmissionRecord>, now: DateTime<Utc>) -> AppResult<()> {
        let (tax, id) = (tax_id.to_string(), activity_id.to_string());
        self.db
            .call(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let old: Vec<EmissionRecord> = {
                    let mut stmt = tx.prepare("SELECT item FROM emissions WHERE activity_id = ?1").map_err(db_err)?;
                    let rows = stmt.query_map([&id], |r| r.get::<_, String>(0)).map_err(db_err)?;
                    let mut v = Vec::new();
                    for r in rows {
                        v.push(from_json::<EmissionRecord>(&r.map_err(db_err)?)?);
                    }
                    v
                };
                let old_total: f64 = old.iter().map(|l| l.kg_co2e).sum();
                let new_total: f64 = lines.iter().map(|l| l.kg_co2e).sum();
                if let (Some(o), Some(n)) = (old.first(), lines.first()) {
                    if o.library != n.library && (old_total - new_total).abs() > 1e-9 {
                        let r = Restatement {
                            tax_id: tax.clone(),
                            activity_id: id.clone(),
                            old_kg_co2e: old_total,
                            new_kg_co2e: new_total,
                            old_library: o.library.clone(),
                            new_library: n.library.clone(),
                            at: timestamp(now),
                        };
                        tx.execute("INSERT INTO restatements (tax_id, item) VALUES (?1, ?2)", params![tax, to_json(&r)?]).map_err(db_err)?;
                    }
                }
                tx.execute("DELETE FROM emissions WHERE activity_id = ?1", [&id]).map_err(db_err)?;
                for l in &lines {
                    tx.execute(
                        "INSERT INTO emissions (activity_id, month, tax_id, year, item) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![id, l.month, tax, l.year, to_json(l)?],
                    )
                    .map_err(db_err)?;
                }
                tx.commit().map_err(db_err)?;
                Ok(())
            })
            .await
    }

    async fn list_emissions(&self, tax_id: &TaxId, year: Option<i32>) -> AppResult<Vec<EmissionRecord>> {
        let tax = tax_id.to_string();
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare("SELECT item FROM emissions WHERE tax_id = ?1 AND (?2 IS NULL OR year = ?2) ORDER BY month, activity_id")
                    .map_err(db_err)?;
                let rows = stmt.query_map(params![tax, year], |r| r.get::<_, String>(0)).map_err(db_err)?;
                let mut out = Vec::new();
                for r in rows {
                    out.push(from_json(&r.map_err(db_err)?)?);
                }
                Ok(out)
            })
            .await
    }

    async fn list_restatements(&self, tax_id: &TaxId) -> AppResult<Vec<Restatement>> {
        let tax = tax_id.to_string();
        self.db
            .call(move |conn| {
                let mut stmt = conn.prepare("SELECT item FROM restatements WHERE tax_id = ?1 ORDER BY seq").map_err(db_err)?;
                let rows = stmt.query_map([tax], |r| r.get::<_, String>(0)).map_err(db_err)?;
                let mut out = Vec::new();
                for r in rows {
                    out.push(from_json(&r.map_err(db_err)?)?);
                }
                Ok(out)
            })
            .await
    }

    async fn companies(&self) -> AppResult<Vec<TaxId>> {
        self.db
            .call(|conn| {
                let mut stmt = conn.prepare("SELECT DISTINCT tax_id FROM activities ORDER BY tax_id").map_err(db_err)?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db_err)?;
                let mut out = Vec::new();
                for r in rows {
                    if let Ok(t) = TaxId::parse(&r.map_err(db_err)?) {
                        out.push(t);
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn stale_files(&self, claimed_before: DateTime<Utc>) -> AppResult<Vec<FileRecord>> {
        let before = timestamp(claimed_before);
        self.db
            .call(move |conn| {
                // claimed_at is RFC 3339 in UTC with milliseconds: text order is time order.
                let mut stmt = conn
                    .prepare("SELECT item FROM ingest_files WHERE status = 'processing' AND claimed_at <= ?1 ORDER BY claimed_at")
                    .map_err(db_err)?;
                let rows = stmt.query_map([before], |r| r.get::<_, String>(0)).map_err(db_err)?;
                let mut out = Vec::new();
                for r in rows {
                    out.push(from_json(&r.map_err(db_err)?)?);
                }
                Ok(out)
            })
            .await
    }
}
