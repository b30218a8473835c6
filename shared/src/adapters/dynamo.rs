//! Applications in DynamoDB (single table: pk/sk, gsi1, stream NEW_AND_OLD_IMAGES, TTL `ttl`).
//!
//! A submission is one `TransactWriteItems` of three puts, each conditional on the item
//! not existing: the application, the company's uniqueness item
//! (`COMPANY#{tax_id}` / `ACTIVE_APPLICATION`) and, when given, the idempotency item.
//! So "one active application per company" holds without a read-then-write.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use super::aws::sdk_err;
use crate::domain::{Application, ApplicationId, ApplicationStatus, IdempotencyKey, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::{ApplicationStore, Submission};
use crate::records::{
    application_pk, company_pk, idempotency_pk, ApplicationItem, ACTIVE_APPLICATION_SK, APPLICATION_SK, IDEMPOTENCY_SK,
};
use crate::services::apply::{conflict_error, idempotency_mismatch_error};

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

enum Attempt {
    Done(Submission),
    Failed(AppError),
    /// Lost a race on one of the items: try again.
    Retry,
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

    async fn attempt(&self, app: &Application, key: Option<&IdempotencyKey>) -> AppResult<Attempt> {
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
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
        let reasons: Vec<String> = match err.as_service_error() {
            Some(E::TransactionCanceledException(c)) => {
                c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_string()).collect()
            }
            _ => return Err(sdk_err("TransactWriteItems", err)),
        };
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

#[async_trait]
impl ApplicationStore for DynamoApplicationStore {
    async fn submit(&self, application: &Application, key: Option<&IdempotencyKey>) -> AppResult<Submission> {
        for attempt in 0..=CONFLICT_RETRIES {
            match self.attempt(application, key).await? {
                Attempt::Done(s) => return Ok(s),
                Attempt::Failed(e) => return Err(e),
                Attempt::Retry => {
                    // Jittered backoff: 10-20 ms, doubling.
                    let base = 10u64 << attempt.min(6);
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % base;
                    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
                }
            }
        }
        Err(AppError::Unavailable("TransactWriteItems: too many transaction conflicts".into()))
    }

    async fn get(&self, id: &ApplicationId) -> AppResult<Option<Application>> {
        match self.get_item(key(application_pk(id), APPLICATION_SK)).await? {
            Some(item) => Ok(Some(from_item::<ApplicationItem>(item)?.application)),
            None => Ok(None),
        }
    }

    async fn list_for_company(&self, tax_id: &TaxId) -> AppResult<Vec<Application>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :app)")
            .expression_attribute_values(":pk", AttributeValue::S(company_pk(tax_id)))
            .expression_attribute_values(":app", AttributeValue::S("APP#".into()))
            .scan_index_forward(false)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("Query", e))?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item::<ApplicationItem>(item)?.application);
            }
        }
        Ok(out)
    }
}
