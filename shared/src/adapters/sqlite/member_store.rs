use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::{db_err, is_unique_violation, SqliteDb};
use crate::domain::{EmailAddress, Member, MemberAudit, MemberId, MemberProfile, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::MemberStore;
use crate::services::members::{duplicate_email_error, email_key, last_admin_error, member_not_found};

/// Members in SQLite: UNIQUE (company, e-mail); the last-admin guard and the audit
/// entry run inside the write transaction (IMMEDIATE: writers are serialised).
#[derive(Clone)]
pub struct SqliteMemberStore {
    db: SqliteDb,
}

impl SqliteMemberStore {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

fn decode(json: String) -> AppResult<Member> {
    serde_json::from_str(&json).map_err(|e| AppError::internal(format!("stored member: {e}")))
}

fn load(conn: &rusqlite::Connection, tax_id: &str, id: &str) -> AppResult<Option<Member>> {
    conn.query_row("SELECT item FROM members WHERE tax_id = ?1 AND id = ?2", [tax_id, id], |r| r.get::<_, String>(0))
        .optional()
        .map_err(db_err)?
        .map(decode)
        .transpose()
}

fn query(conn: &rusqlite::Connection, sql: &str, p: impl rusqlite::Params) -> AppResult<Vec<Member>> {
    let mut stmt = conn.prepare(sql).map_err(db_err)?;
    let rows = stmt.query_map(p, |r| r.get::<_, String>(0)).map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(decode)).collect()
}

/// Inserts a member and its audit entry; call inside a transaction.
pub(crate) fn insert_member(tx: &Transaction<'_>, member: &Member, actor: &str) -> AppResult<()> {
    let item = serde_json::to_string(member).map_err(AppError::internal)?;
    let r = tx.execute(
        "INSERT INTO members (id, tax_id, email_key, is_admin, item) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![member.id.as_str(), member.tax_id.as_str(), email_key(&member.profile.email), member.profile.is_admin, item],
    );
    match r {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e, "members.") => return Err(duplicate_email_error()),
        Err(e) => return Err(db_err(e)),
    }
    audit(tx, member, actor, "add", None, Some(&member.profile), member.created_at)
}

fn audit(
    tx: &Transaction<'_>,
    member: &Member,
    actor: &str,
    action: &str,
    before: Option<&MemberProfile>,
    after: Option<&MemberProfile>,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let entry = MemberAudit {
        tax_id: member.tax_id.clone(),
        member_id: member.id.clone(),
        actor: actor.to_string(),
        action: action.to_string(),
        before: before.cloned(),
        after: after.cloned(),
        at,
    };
    tx.execute(
        "INSERT INTO member_audit (tax_id, entry) VALUES (?1, ?2)",
        params![member.tax_id.as_str(), serde_json::to_string(&entry).map_err(AppError::internal)?],
    )
    .map_err(db_err)?;
    Ok(())
}

fn other_admins(tx: &Transaction<'_>, tax_id: &str, id: &str) -> AppResult<i64> {
    tx.query_row("SELECT COUNT(*) FROM members WHERE tax_id = ?1 AND is_admin = 1 AND id != ?2", [tax_id, id], |r| r.get(0))
        .map_err(db_err)
}

#[async_trait]
impl MemberStore for SqliteMemberStore {
    async fn list(&self, tax_id: &TaxId) -> AppResult<Vec<Member>> {
        let t = tax_id.as_str().to_string();
        self.db.call(move |c| query(c, "SELECT item FROM members WHERE tax_id = ?1 ORDER BY rowid", [t])).await
    }

    async fn get(&self, tax_id: &TaxId, id: &MemberId) -> AppResult<Option<Member>> {
        let (t, i) = (tax_id.as_str().to_string(), id.as_str().to_string());
        self.db.call(move |c| load(c, &t, &i)).await
    }

    async fn find_by_email(&self, email: &EmailAddress) -> AppResult<Vec<Member>> {
        let k = email_key(email);
        self.db.call(move |c| query(c, "SELECT item FROM members WHERE email_key = ?1 ORDER BY tax_id", [k])).await
    }

    async fn add(&self, member: &Member, actor: &str) -> AppResult<()> {
        let (member, actor) = (member.clone(), actor.to_string());
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
                insert_member(&tx, &member, &actor)?;
                tx.commit().map_err(db_err)
            })
            .await
    }

    async fn update(&self, tax_id: &TaxId, id: &MemberId, profile: &MemberProfile, actor: &str, now: DateTime<Utc>) -> AppResult<Member> {
        let (t, i, profile, actor) = (tax_id.as_str().to_string(), id.as_str().to_string(), profile.clone(), actor.to_string());
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
                let before = load(&tx, &t, &i)?.ok_or_else(member_not_found)?;
                if before.profile.is_admin && !profile.is_admin && other_admins(&tx, &t, &i)? == 0 {
                    return Err(last_admin_error());
                }
                let mut after = before.clone();
                after.profile = profile;
                after.updated_at = now;
                let item = serde_json::to_string(&after).map_err(AppError::internal)?;
                let r = tx.execute(
                    "UPDATE members SET email_key = ?3, is_admin = ?4, item = ?5 WHERE tax_id = ?1 AND id = ?2",
                    params![t, i, email_key(&after.profile.email), after.profile.is_admin, item],
                );
                match r {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e, "members.") => return Err(duplicate_email_error()),
                    Err(e) => return Err(db_err(e)),
                }
                audit(&tx, &after, &actor, "update", Some(&before.profile), Some(&after.profile), now)?;
                tx.commit().map_err(db_err)?;
                Ok(after)
            })
            .await
    }

    async fn remove(&self, tax_id: &TaxId, id: &MemberId, actor: &str, now: DateTime<Utc>) -> AppResult<()> {
        let (t, i, actor) = (tax_id.as_str().to_string(), id.as_str().to_string(), actor.to_string());
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
                let before = load(&tx, &t, &i)?.ok_or_else(member_not_found)?;
                if before.profile.is_admin && other_admins(&tx, &t, &i)? == 0 {
                    return Err(last_admin_error());
                }
                tx.execute("DELETE FROM members WHERE tax_id = ?1 AND id = ?2", [&t, &i]).map_err(db_err)?;
                audit(&tx, &before, &actor, "remove", Some(&before.profile), None, now)?;
                tx.commit().map_err(db_err)
            })
            .await
    }

    async fn audit(&self, tax_id: &TaxId) -> AppResult<Vec<MemberAudit>> {
        let t = tax_id.as_str().to_string();
        self.db
            .call(move |c| {
                let mut stmt = c.prepare("SELECT entry FROM member_audit WHERE tax_id = ?1 ORDER BY seq").map_err(db_err)?;
                let rows = stmt.query_map([t], |r| r.get::<_, String>(0)).map_err(db_err)?;
                rows.map(|r| r.map_err(db_err).and_then(|j| serde_json::from_str(&j).map_err(AppError::internal))).collect()
            })
            .await
    }
}
