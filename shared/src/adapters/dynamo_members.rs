//! Members in DynamoDB, in the single table under the company's partition:
//! `COMPANY#{tax_id}` / `MEMBER#{id}` (gsi1: `EMAIL#{email}`), an e-mail uniqueness
//! item `EMAIL#{email}`, the admin counter `ADMINS` and audit items `AUDIT#…`. Every
//! change is one transaction; the counter's condition (`admin_count > 1`) is the
//! last-admin guard.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::aws::sdk_err;
use crate::domain::{EmailAddress, Member, MemberAudit, MemberId, MemberProfile, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::MemberStore;
use crate::records::{company_pk, timestamp};
use crate::services::members::{duplicate_email_error, email_key, last_admin_error, member_not_found};

type Item = HashMap<String, AttributeValue>;

#[derive(Serialize, Deserialize)]
struct MemberItem {
    pk: String,
    sk: String,
    entity: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(flatten)]
    member: Member,
}

#[derive(Serialize, Deserialize)]
struct AuditItem {
    pk: String,
    sk: String,
    entity: String,
    #[serde(flatten)]
    entry: MemberAudit,
}

fn member_sk(id: &MemberId) -> String {
    format!("MEMBER#{id}")
}

fn email_sk(email: &EmailAddress) -> String {
    format!("EMAIL#{}", email_key(email))
}

const ADMINS_SK: &str = "ADMINS";

fn to_item<T: Serialize>(v: &T) -> AppResult<Item> {
    serde_dynamo::to_item(v).map_err(|e| AppError::internal(format!("encode item: {e}")))
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_string(), AttributeValue::S(pk)), ("sk".to_string(), AttributeValue::S(sk))])
}

fn member_item(m: &Member) -> AppResult<Item> {
    to_item(&MemberItem {
        pk: company_pk(&m.tax_id),
        sk: member_sk(&m.id),
        entity: "member".into(),
        gsi1pk: format!("EMAIL#{}", email_key(&m.profile.email)),
        gsi1sk: format!("MEMBER#{}#{}", m.tax_id, m.id),
        member: m.clone(),
    })
}

/// The transaction items that add `member` (member, e-mail uniqueness, admin count,
/// audit). Also used by the approval transaction.
pub(crate) fn add_member_items(table: &str, member: &Member, actor: &str) -> AppResult<Vec<TransactWriteItem>> {
    let pk = company_pk(&member.tax_id);
    let mut items = vec![
        put(table, member_item(member)?, Some("attribute_not_exists(pk)"))?,
        put(
            table,
            HashMap::from([
                ("pk".to_string(), AttributeValue::S(pk.clone())),
                ("sk".to_string(), AttributeValue::S(email_sk(&member.profile.email))),
                ("entity".to_string(), AttributeValue::S("member_email".into())),
                ("member_id".to_string(), AttributeValue::S(member.id.to_string())),
            ]),
            Some("attribute_not_exists(pk)"),
        )?,
        audit_item(table, member, actor, "add", None, Some(&member.profile), member.created_at)?,
    ];
    if member.profile.is_admin {
        items.push(admin_delta(table, &member.tax_id, 1)?);
    }
    Ok(items)
}

fn put(table: &str, item: Item, condition: Option<&str>) -> AppResult<TransactWriteItem> {
    let put = Put::builder().table_name(table).set_item(Some(item)).set_condition_expression(condition.map(String::from)).build().map_err(AppError::internal)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn admin_delta(table: &str, tax_id: &TaxId, delta: i64) -> AppResult<TransactWriteItem> {
    let mut u = Update::builder()
        .table_name(table)
        .set_key(Some(key(company_pk(tax_id), ADMINS_SK.into())))
        .update_expression("SET admin_count = if_not_exists(admin_count, :zero) + :d, entity = :e")
        .expression_attribute_values(":zero", AttributeValue::N("0".into()))
        .expression_attribute_values(":d", AttributeValue::N(delta.to_string()))
        .expression_attribute_values(":e", AttributeValue::S("admin_count".into()));
    if delta < 0 {
        // The last-admin guard: never below one.
        u = u.condition_expression("admin_count > :one").expression_attribute_values(":one", AttributeValue::N("1".into()));
    }
    Ok(TransactWriteItem::builder().update(u.build().map_err(AppError::internal)?).build())
}

fn audit_item(
    table: &str,
    member: &Member,
    actor: &str,
    action: &str,
    before: Option<&MemberProfile>,
    after: Option<&MemberProfile>,
    at: DateTime<Utc>,
) -> AppResult<TransactWriteItem> {
    let entry = MemberAudit {
        tax_id: member.tax_id.clone(),
        member_id: member.id.clone(),
        actor: actor.into(),
        action: action.into(),
        before: before.cloned(),
        after: after.cloned(),
        at,
    };
    put(
        table,
        to_item(&AuditItem {
            pk: company_pk(&member.tax_id),
            sk: format!("AUDIT#{}#{}", timestamp(at), uuid::Uuid::now_v7()),
            entity: "member_audit".into(),
            entry,
        })?,
        Some("attribute_not_exists(pk)"),
    )
}

#[derive(Clone)]
pub struct DynamoMemberStore {
    client: Client,
    table: String,
}

impl DynamoMemberStore {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: table.into() }
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> AppResult<Result<(), Vec<String>>> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Ok(())),
            Err(e) => match super::dynamo::cancellation_reasons(&e) {
                Some(reasons) => Ok(Err(reasons)),
                None => Err(sdk_err("TransactWriteItems", e)),
            },
        }
    }

    async fn query_prefix(&self, pk: String, prefix: &str) -> AppResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(|e| sdk_err("Query", e))?.items.unwrap_or_default());
        }
        Ok(out)
    }
}

fn failed(reasons: &[String], i: usize) -> bool {
    reasons.get(i).is_some_and(|c| c == "ConditionalCheckFailed")
}

fn decode_member(item: Item) -> AppResult<Member> {
    serde_dynamo::from_item::<_, MemberItem>(item).map(|m| m.member).map_err(|e| AppError::internal(format!("decode member: {e}")))
}

#[async_trait]
impl MemberStore for DynamoMemberStore {
    async fn list(&self, tax_id: &TaxId) -> AppResult<Vec<Member>> {
        let mut out: Vec<Member> =
            self.query_prefix(company_pk(tax_id), "MEMBER#").await?.into_iter().map(decode_member).collect::<AppResult<_>>()?;
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    async fn get(&self, tax_id: &TaxId, id: &MemberId) -> AppResult<Option<Member>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(company_pk(tax_id), member_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        out.item.map(decode_member).transpose()
    }

    async fn find_by_email(&self, email: &EmailAddress) -> AppResult<Vec<Member>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("EMAIL#{}", email_key(email))))
            .send()
            .await
            .map_err(|e| sdk_err("Query", e))?;
        out.items.unwrap_or_default().into_iter().map(decode_member).collect()
    }

    async fn add(&self, member: &Member, actor: &str) -> AppResult<()> {
        match self.transact(add_member_items(&self.table, member, actor)?).await? {
            Ok(()) => Ok(()),
            Err(r) if failed(&r, 0) || failed(&r, 1) => Err(duplicate_email_error()),
            Err(r) => Err(AppError::Unavailable(format!("TransactWriteItems cancelled: {r:?}"))),
        }
    }

    async fn update(&self, tax_id: &TaxId, id: &MemberId, profile: &MemberProfile, actor: &str, now: DateTime<Utc>) -> AppResult<Member> {
        let before = self.get(tax_id, id).await?.ok_or_else(member_not_found)?;
        let mut after = before.clone();
        after.profile = profile.clone();
        after.updated_at = now;
        // Conditional on the member being unchanged since it was read.
        let put_member = Put::builder()
            .table_name(&self.table)
            .set_item(Some(member_item(&after)?))
            .condition_expression("updated_at = :u")
            .expression_attribute_values(":u", AttributeValue::S(serde_json::to_value(before.updated_at).map_err(AppError::internal)?.as_str().unwrap_or_default().to_string()))
            .build()
            .map_err(AppError::internal)?;
        let mut items = vec![TransactWriteItem::builder().put(put_member).build()];
        let email_changed = email_key(&before.profile.email) != email_key(&profile.email);
        if email_changed {
            items.push(put(
                &self.table,
                HashMap::from([
                    ("pk".to_string(), AttributeValue::S(company_pk(tax_id))),
                    ("sk".to_string(), AttributeValue::S(email_sk(&profile.email))),
                    ("entity".to_string(), AttributeValue::S("member_email".into())),
                    ("member_id".to_string(), AttributeValue::S(id.to_string())),
                ]),
                Some("attribute_not_exists(pk)"),
            )?);
            let del = Delete::builder().table_name(&self.table).set_key(Some(key(company_pk(tax_id), email_sk(&before.profile.email)))).build().map_err(AppError::internal)?;
            items.push(TransactWriteItem::builder().delete(del).build());
        }
        let admin_index = match (before.profile.is_admin, profile.is_admin) {
            (true, false) => {
                items.push(admin_delta(&self.table, tax_id, -1)?);
                Some(items.len() - 1)
            }
            (false, true) => {
                items.push(admin_delta(&self.table, tax_id, 1)?);
                None
            }
            _ => None,
        };
        items.push(audit_item(&self.table, &after, actor, "update", Some(&before.profile), Some(&after.profile), now)?);
        match self.transact(items).await? {
            Ok(()) => Ok(after),
            Err(r) if admin_index.is_some_and(|i| failed(&r, i)) => Err(last_admin_error()),
            Err(r) if email_changed && failed(&r, 1) => Err(duplicate_email_error()),
            Err(r) if failed(&r, 0) => Err(AppError::Conflict("此成員資料已被其他人修改，請重新整理後再試。".into())),
            Err(r) => Err(AppError::Unavailable(format!("TransactWriteItems cancelled: {r:?}"))),
        }
    }

    async fn remove(&self, tax_id: &TaxId, id: &MemberId, actor: &str, now: DateTime<Utc>) -> AppResult<()> {
        let before = self.get(tax_id, id).await?.ok_or_else(member_not_found)?;
        let del = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(company_pk(tax_id), member_sk(id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(AppError::internal)?;
        let del_email =
            Delete::builder().table_name(&self.table).set_key(Some(key(company_pk(tax_id), email_sk(&before.profile.email)))).build().map_err(AppError::internal)?;
        let mut items = vec![TransactWriteItem::builder().delete(del).build(), TransactWriteItem::builder().delete(del_email).build()];
        if before.profile.is_admin {
            items.push(admin_delta(&self.table, tax_id, -1)?);
        }
        items.push(audit_item(&self.table, &before, actor, "remove", Some(&before.profile), None, now)?);
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(r) if before.profile.is_admin && failed(&r, 2) => Err(last_admin_error()),
            Err(r) if failed(&r, 0) => Err(member_not_found()),
            Err(r) => Err(AppError::Unavailable(format!("TransactWriteItems cancelled: {r:?}"))),
        }
    }

    async fn audit(&self, tax_id: &TaxId) -> AppResult<Vec<MemberAudit>> {
        self.query_prefix(company_pk(tax_id), "AUDIT#")
            .await?
            .into_iter()
            .map(|i| serde_dynamo::from_item::<_, AuditItem>(i).map(|a| a.entry).map_err(|e| AppError::internal(format!("decode audit: {e}"))))
            .collect()
    }
}
