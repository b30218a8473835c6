//! Applications in DynamoDB (single table: pk/sk, gsi1, stream NEW_AND_OLD_IMAGES, TTL `ttl`).
//!
//! A submission is one `TransactWriteItems` of three puts, each conditional on the item
//! not existing: the application, the company's uniqueness item
//! (`COMPANY#{tax_id}` / `ACTIVE_APPLICATION`) and, when given, the idempotency item.
//! So "one active application per company" holds without a read-then-write.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use super::aws::sdk_err;
use crate::domain::{Application, ApplicationId, ApplicationStatus, Decision, IdempotencyKey, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::{ApplicationStore, Submission};
use crate::records::{
    application_pk, company_pk, decision_sk, idempotency_pk, notification_pk, timestamp, ApplicationItem, ACTIVE_APPLICATION_SK,
    APPLICATION_SK, IDEMPOTENCY_SK, NOTIFICATION_SK,
};
use crate::services::apply::{conflict_error, idempotency_mismatch_error};
use crate::services::review::already_decided_error;

/// Idempotency items expire (DynamoDB TTL) after this long.
const IDEMPOTENCY_TTL_DAYS: i64 = 7;
/// Retries of a transaction that lost a race on the same items (`TransactionConflict`).
const CONFLICT_RETRIES: u32 = 8;

#[derive(Clone)]
pub struct DynamoApplicationStore {
    client: Client,
    table: String,
}

#[derive(Serialize, Deserialize)]
struct CompanyLockItem {
    pk: String,
    sk: String,
    entity: String,
    application_id: ApplicationId,
    status: ApplicationStatus,
}

#[derive(Serialize, Deserialize)]
struct IdempotencyItem {
    pk: String,
    sk: String,
    entity: String,
    application_id: ApplicationId,
    fingerprint: String,
    ttl: i64,
}

type Item = HashMap<String, AttributeValue>;

fn to_item<T: Serialize>(v: &T) -> AppResult<Item> {
    serde_dynamo::to_item(v).map_err(|e| AppError::internal(format!("encode item: {e}")))
}

fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> AppResult<T> {
    serde_dynamo::from_item(item).map_err(|e| AppError::internal(format!("decode item: {e}")))
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), AttributeValue::S(pk)), ("sk".to_string(), AttributeValue::S(sk.to_string()))])
}

enum Attempt<T> {
    Done(T),
    Failed(AppError),
    /// Lost a race on one of the items: try again.
    Retry,
}

#[derive(Serialize, Deserialize)]
struct DecisionItem {
    pk: String,
    sk: String,
    entity: String,
    #[serde(flatten)]
    decision: Decision,
}

/// Runs `attempt` until it is done, failed, or has lost `CONFLICT_RETRIES` races.
async fn with_conflict_retries<T, F, Fut>(mut attempt: F) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = AppResult<Attempt<T>>>,
{
    for n in 0..=CONFLICT_RETRIES {
        match attempt().await? {
            Attempt::Done(t) => return Ok(t),
            Attempt::Failed(e) => return Err(e),
            Attempt::Retry => {
                // Jittered backoff: 10-20 ms, doubling.
                let base = 10u64 << n.min(6);
                let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % base;
                tokio::time::sleep(Duration::from_millis(base + jitter)).await;
            }
        }
    }
    Err(AppError::Unavailable("TransactWriteItems: too many transaction conflicts".into()))
}

/// The cancellation reason codes of a failed transaction, or `None` for other errors.
pub(crate) fn cancellation_reasons(
    err: &aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError>,
) -> Option<Vec<String>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
    match err.as_service_error() {
        Some(E::TransactionCanceledException(c)) => {
            Some(c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_string()).collect())
        }
        _ => None,
    }
}

impl DynamoApplicationStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), table)
    }

    async fn get_item(&self, key: Item) -> AppResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        Ok(out.item)
    }

    fn put(&self, item: Item) -> AppResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(AppError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn replay(&self, key: &IdempotencyKey, fingerprint: &str) -> AppResult<Option<AppResult<Submission>>> {
        let Some(item) = self.get_item(self::key(idempotency_pk(key), IDEMPOTENCY_SK)).await? else { return Ok(None) };
        let idem: IdempotencyItem = from_item(item)?;
        if idem.fingerprint != fingerprint {
            return Ok(Some(Err(idempotency_mismatch_error())));
        }
        let app = self.get(&idem.application_id).await?.ok_or_else(|| AppError::internal("idempotency item without application"))?;
        Ok(Some(Ok(Submission::Replayed(app))))
    }

    async fn attempt(&self, app: &Application, key: Option<&IdempotencyKey>) -> AppResult<Attempt<Submission>> {
        let fingerprint = app.form.fingerprint();
        let mut items = vec![
            self.put(to_item(&ApplicationItem::from(app))?)?,
            self.put(to_item(&CompanyLockItem {
                pk: company_pk(&app.form.tax_id),
                sk: ACTIVE_APPLICATION_SK.into(),
                entity: "company_lock".into(),
                application_id: app.id.clone(),
                status: app.status,
            })?)?,
        ];
        if let Some(k) = key {
            items.push(self.put(to_item(&IdempotencyItem {
                pk: idempotency_pk(k),
                sk: IDEMPOTENCY_SK.into(),
                entity: "idempotency".into(),
                application_id: app.id.clone(),
                fingerprint: fingerprint.clone(),
                ttl: (app.submitted_at + chrono::Duration::days(IDEMPOTENCY_TTL_DAYS)).timestamp(),
            })?)?);
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let err = match result {
            Ok(_) => return Ok(Attempt::Done(Submission::Created(app.clone()))),
            Err(e) => e,
        };
        let Some(reasons) = cancellation_reasons(&err) else { return Err(sdk_err("TransactWriteItems", err)) };
        let failed = |i: usize| reasons.get(i).is_some_and(|c| c == "ConditionalCheckFailed");
        if reasons.iter().any(|c| c == "TransactionConflict" || c == "ThrottlingError") {
            return Ok(Attempt::Retry);
        }
        if let Some(k) = key {
            if failed(2) || failed(1) {
                if let Some(first) = self.replay(k, &fingerprint).await? {
                    return Ok(match first {
                        Ok(s) => Attempt::Done(s),
                        Err(e) => Attempt::Failed(e),
                    });
                }
            }
        }
        if failed(1) {
            let lock = self.get_item(self::key(company_pk(&app.form.tax_id), ACTIVE_APPLICATION_SK)).await?;
            let status = match lock {
                Some(item) => from_item::<CompanyLockItem>(item)?.status,
                // Released between our write and this read: report it as pending, the
                // client may simply try again.
                None => ApplicationStatus::Pending,
            };
            return Ok(Attempt::Failed(conflict_error(status)));
        }
        Err(AppError::internal(format!("TransactWriteItems cancelled: {reasons:?}")))
    }
}

impl DynamoApplicationStore {
    /// One transaction: the application (only if still pending at the expected
    /// version), the company's uniqueness item (kept as approved, or released on
    /// rejection so the company may apply again) and an append-only audit item.
    async fn decide_attempt(&self, id: &ApplicationId, expected_version: u32, decision: &Decision) -> AppResult<Attempt<Application>> {
        let current = self.get(id).await?.ok_or_else(|| AppError::NotFound("查無此申請。".into()))?;
        let mut next = current.clone();
        next.status = decision.status;
        next.version = expected_version + 1;
        next.decision = Some(decision.clone());
        let app_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&ApplicationItem::from(&next))?))
            .condition_expression("#s = :pending AND version = :v")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":pending", AttributeValue::S(ApplicationStatus::Pending.code().into()))
            .expression_attribute_values(":v", AttributeValue::N(expected_version.to_string()))
            .build()
            .map_err(AppError::internal)?;
        let lock_key = key(company_pk(&current.form.tax_id), ACTIVE_APPLICATION_SK);
        let lock = if decision.status == ApplicationStatus::Approved {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(&CompanyLockItem {
                    pk: company_pk(&current.form.tax_id),
                    sk: ACTIVE_APPLICATION_SK.into(),
                    entity: "company_lock".into(),
                    application_id: id.clone(),
                    status: ApplicationStatus::Approved,
                })?))
                .condition_expression("application_id = :id")
                .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
                .build()
                .map_err(AppError::internal)?;
            TransactWriteItem::builder().put(put).build()
        } else {
            let del = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(lock_key))
                .condition_expression("application_id = :id")
                .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
                .build()
                .map_err(AppError::internal)?;
            TransactWriteItem::builder().delete(del).build()
        };
        let audit = self.put(to_item(&DecisionItem {
            pk: application_pk(id),
            sk: decision_sk(next.version),
            entity: "decision".into(),
            decision: decision.clone(),
        })?)?;
        let mut items = vec![TransactWriteItem::builder().put(app_put).build(), lock, audit];
        if decision.status == ApplicationStatus::Approved {
            // The applicant becomes the company's first member (admin, carbon login), atomically.
            let first = crate::services::members::first_member(&next, decision.decided_at);
            items.extend(super::dynamo_members::add_member_items(&self.table, &first, "system")?);
        }
        let err = match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => return Ok(Attempt::Done(next)),
            Err(e) => e,
        };
        let Some(reasons) = cancellation_reasons(&err) else { return Err(sdk_err("TransactWriteItems", err)) };
        if reasons.iter().any(|c| c == "TransactionConflict" || c == "ThrottlingError") {
            return Ok(Attempt::Retry);
        }
        if reasons.iter().any(|c| c == "ConditionalCheckFailed") {
            let now = self.get(id).await?.unwrap_or(current);
            return Ok(Attempt::Failed(already_decided_error(&now)));
        }
        Err(AppError::internal(format!("TransactWriteItems cancelled: {reasons:?}")))
    }
}

#[async_trait]
impl ApplicationStore for DynamoApplicationStore {
    async fn submit(&self, application: &Application, key: Option<&IdempotencyKey>) -> AppResult<Submission> {
        with_conflict_retries(|| self.attempt(application, key)).await
    }

    async fn decide(&self, id: &ApplicationId, expected_version: u32, decision: &Decision) -> AppResult<Application> {
        with_conflict_retries(|| self.decide_attempt(id, expected_version, decision)).await
    }

    async fn get(&self, id: &ApplicationId) -> AppResult<Option<Application>> {
        match self.get_item(key(application_pk(id), APPLICATION_SK)).await? {
            Some(item) => Ok(Some(from_item::<ApplicationItem>(item)?.application)),
            None => Ok(None),
        }
    }

    async fn list_for_company(&self, tax_id: &TaxId) -> AppResult<Vec<Application>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :app)")
            .expression_attribute_values(":pk", AttributeValue::S(company_pk(tax_id)))
            .expression_attribute_values(":app", AttributeValue::S("APP#".into()))
            .scan_index_forward(false);
        self.query_applications(query).await
    }

    async fn list_pending(&self) -> AppResult<Vec<Application>> {
        self.list_by_status(crate::records::PENDING_GSI2PK, None).await
    }

    async fn list_approved(&self) -> AppResult<Vec<Application>> {
        self.list_by_status(crate::records::APPROVED_GSI2PK, None).await
    }

    async fn list_rejected_since(&self, since: chrono::DateTime<chrono::Utc>) -> AppResult<Vec<Application>> {
        // Rejections sort by decision time in gsi2 (`ApplicationItem`).
        self.list_by_status(crate::records::REJECTED_GSI2PK, Some(crate::records::timestamp(since))).await
    }
}

impl DynamoApplicationStore {
    /// Applications of one status, from the sparse index gsi2; with `from`, only those
    /// whose gsi2 sort key is at or after it.
    async fn list_by_status(&self, gsi2pk: &str, from: Option<String>) -> AppResult<Vec<Application>> {
        let query = self.client.query().table_name(&self.table).index_name("gsi2").expression_attribute_values(":pk", AttributeValue::S(gsi2pk.into()));
        let query = match from {
            Some(from) => query.key_condition_expression("gsi2pk = :pk AND gsi2sk >= :from").expression_attribute_values(":from", AttributeValue::S(from)),
            None => query.key_condition_expression("gsi2pk = :pk"),
        };
        self.query_applications(query).await
    }

    async fn query_applications(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> AppResult<Vec<Application>> {
        let mut out = Vec::new();
        let mut pages = query.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("Query", e))?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item::<ApplicationItem>(item)?.application);
            }
        }
        Ok(out)
    }
}

/// The notification log in DynamoDB: one item per notification, claimed with a
/// conditional put; items expire (TTL) after 90 days.
#[derive(Clone)]
pub struct DynamoNotificationLog {
    client: Client,
    table: String,
}

impl DynamoNotificationLog {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: table.into() }
    }
}

#[async_trait]
impl crate::ports::NotificationLog for DynamoNotificationLog {
    async fn claim(&self, k: &str, now: chrono::DateTime<chrono::Utc>, lease: chrono::Duration) -> AppResult<crate::ports::Claim> {
        use crate::ports::Claim;
        let item = HashMap::from([
            ("pk".to_string(), AttributeValue::S(notification_pk(k))),
            ("sk".to_string(), AttributeValue::S(NOTIFICATION_SK.into())),
            ("entity".to_string(), AttributeValue::S("notification".into())),
            ("state".to_string(), AttributeValue::S("sending".into())),
            ("claimed_at".to_string(), AttributeValue::S(timestamp(now))),
            ("ttl".to_string(), AttributeValue::N((now + chrono::Duration::days(90)).timestamp().to_string())),
        ]);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR (#st = :sending AND claimed_at < :stale)")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":sending", AttributeValue::S("sending".into()))
            .expression_attribute_values(":stale", AttributeValue::S(timestamp(now - lease)))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Claimed),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                let got = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(key(notification_pk(k), NOTIFICATION_SK)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| sdk_err("GetItem", e))?;
                let sent = got.item.and_then(|i| i.get("state").cloned()) == Some(AttributeValue::S("sent".into()));
                Ok(if sent { Claim::AlreadySent } else { Claim::InProgress })
            }
            Err(e) => Err(sdk_err("PutItem", e)),
        }
    }

    async fn mark_sent(&self, k: &str, message_id: &str, now: chrono::DateTime<chrono::Utc>) -> AppResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(notification_pk(k), NOTIFICATION_SK)))
            .update_expression("SET #st = :sent, message_id = :m, sent_at = :t")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":sent", AttributeValue::S("sent".into()))
            .expression_attribute_values(":m", AttributeValue::S(message_id.into()))
            .expression_attribute_values(":t", AttributeValue::S(timestamp(now)))
            .send()
            .await
            .map_err(|e| sdk_err("UpdateItem", e))?;
        Ok(())
    }

    async fn release(&self, k: &str) -> AppResult<()> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(notification_pk(k), NOTIFICATION_SK)))
            .condition_expression("#st = :sending")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":sending", AttributeValue::S("sending".into()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(sdk_err("DeleteItem", e)),
        }
    }
}

/// Short-lived secrets in DynamoDB: `TOKEN#{kind}#{key}`, removed by TTL after expiry;
/// `take` is a DeleteItem returning the old item, so one caller gets it.
#[derive(Clone)]
pub struct DynamoTokenStore {
    client: Client,
    table: String,
}

impl DynamoTokenStore {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: table.into() }
    }

    fn key(kind: &str, k: &str) -> Item {
        key(format!("TOKEN#{kind}#{k}"), "TOKEN")
    }
}

fn token_data(item: &Item, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let exp = match item.get("expires_at") {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => return None,
    };
    if exp.as_str() <= timestamp(now).as_str() {
        return None;
    }
    match item.get("data") {
        Some(AttributeValue::S(d)) => Some(d.clone()),
        _ => None,
    }
}

#[async_trait]
impl crate::ports::TokenStore for DynamoTokenStore {
    async fn insert(&self, kind: &str, k: &str, data: &str, now: chrono::DateTime<chrono::Utc>, expires_at: chrono::DateTime<chrono::Utc>) -> AppResult<()> {
        let mut item = Self::key(kind, k);
        item.insert("entity".into(), AttributeValue::S("token".into()));
        item.insert("data".into(), AttributeValue::S(data.into()));
        item.insert("expires_at".into(), AttributeValue::S(timestamp(expires_at)));
        item.insert("ttl".into(), AttributeValue::N(expires_at.timestamp().to_string()));
        // An expired item may still be there (TTL deletes lazily): it counts as absent.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", AttributeValue::S(timestamp(now)));
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Err(AppError::Conflict("token exists".into()))
            }
            Err(e) => Err(sdk_err("PutItem", e)),
        }
    }

    async fn get(&self, kind: &str, k: &str, now: chrono::DateTime<chrono::Utc>) -> AppResult<Option<String>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(kind, k)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        Ok(out.item.as_ref().and_then(|i| token_data(i, now)))
    }

    async fn take(&self, kind: &str, k: &str, now: chrono::DateTime<chrono::Utc>) -> AppResult<Option<String>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(kind, k)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_err("DeleteItem", e))?;
        Ok(out.attributes.as_ref().and_then(|i| token_data(i, now)))
    }
}

/// Every item of a Query, page by page: `key_attr = value`, and `begins_with(sk, prefix)`
/// when given; on the table (strongly consistent) or on an index (eventually consistent).
pub(crate) async fn query_all(
    client: &Client,
    table: &str,
    index: Option<&str>,
    key_attr: &str,
    value: String,
    sk_prefix: Option<&str>,
) -> AppResult<Vec<std::collections::HashMap<String, AttributeValue>>> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let mut q = client
            .query()
            .table_name(table)
            .set_index_name(index.map(String::from))
            .expression_attribute_names("#k", key_attr)
            .expression_attribute_values(":k", AttributeValue::S(value.clone()))
            .set_exclusive_start_key(start.take());
        q = match sk_prefix {
            Some(p) => q.key_condition_expression("#k = :k AND begins_with(sk, :p)").expression_attribute_values(":p", AttributeValue::S(p.into())),
            None => q.key_condition_expression("#k = :k"),
        };
        if index.is_none() {
            q = q.consistent_read(true);
        }
        let page = q.send().await.map_err(|e| sdk_err("Query", e))?;
        out.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    Ok(out)
}
