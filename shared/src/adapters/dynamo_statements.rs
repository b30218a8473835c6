//! Carbon statements in DynamoDB, in the single table: the record under the firm-year's
//! partition `STATEMENTS#{tax_id}#{year}` / `STATEMENT#{id}` (ids are UUIDv7: they sort by
//! time), and a pointer `STATEMENT#{id}` / `STATEMENT` naming that partition, for the public
//! check page. Both are written in one transaction; superseding and revoking change the
//! record only, with conditions.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::aws::sdk_err;
use crate::domain::TaxId;
use crate::error::{AppError, AppResult};
use crate::ports::StatementStore;
use crate::statement::StatementRecord;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStatementStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn partition(tax: &str, year: i32) -> String {
    format!("STATEMENTS#{tax}#{year}")
}

fn get_s(item: &Item, k: &str) -> Option<String> {
    match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn from_item(item: &Item) -> AppResult<StatementRecord> {
    let need = |k: &str| get_s(item, k).ok_or_else(|| AppError::internal(format!("statement item without {k}")));
    Ok(StatementRecord {
        id: need("id")?,
        tax_id: need("tax_id")?,
        year: match item.get("year") {
            Some(AttributeValue::N(n)) => n.parse().map_err(AppError::internal)?,
            _ => return Err(AppError::internal("statement item without year")),
        },
        issued_at: need("issued_at")?,
        inventory_sha256: need("inventory_sha256")?,
        document: need("document")?,
        superseded_by: get_s(item, "superseded_by"),
        revoked: get_s(item, "revoked"),
    })
}

impl DynamoStatementStore {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: table.into() }
    }

    fn record_key(tax: &str, year: i32, id: &str) -> Item {
        HashMap::from([("pk".into(), s(partition(tax, year))), ("sk".into(), s(format!("STATEMENT#{id}")))])
    }
}

#[async_trait]
impl StatementStore for DynamoStatementStore {
    async fn insert(&self, r: &StatementRecord) -> AppResult<()> {
        let mut item = Self::record_key(&r.tax_id, r.year, &r.id);
        item.insert("entity".into(), s("statement"));
        item.insert("id".into(), s(&r.id));
        item.insert("tax_id".into(), s(&r.tax_id));
        item.insert("year".into(), AttributeValue::N(r.year.to_string()));
        item.insert("issued_at".into(), s(&r.issued_at));
        item.insert("inventory_sha256".into(), s(&r.inventory_sha256));
        item.insert("document".into(), s(&r.document));
        if let Some(v) = &r.superseded_by {
            item.insert("superseded_by".into(), s(v));
        }
        if let Some(v) = &r.revoked {
            item.insert("revoked".into(), s(v));
        }
        let pointer = HashMap::from([
            ("pk".to_string(), s(format!("STATEMENT#{}", r.id))),
            ("sk".to_string(), s("STATEMENT")),
            ("entity".to_string(), s("statement_pointer")),
            ("tax_id".to_string(), s(&r.tax_id)),
            ("year".to_string(), AttributeValue::N(r.year.to_string())),
        ]);
        let put = |item: Item| -> AppResult<TransactWriteItem> {
            Ok(TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(AppError::internal)?,
                )
                .build())
        };
        match self.client.transact_write_items().transact_items(put(item)?).transact_items(put(pointer)?).send().await {
            Ok(_) => Ok(()),
            Err(e) if super::dynamo::cancellation_reasons(&e).is_some_and(|r| r.iter().any(|c| c == "ConditionalCheckFailed")) => {
                Err(AppError::Conflict("statement exists".into()))
            }
            Err(e) => Err(sdk_err("TransactWriteItems", e)),
        }
    }

    async fn get(&self, id: &str) -> AppResult<Option<StatementRecord>> {
        let pointer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("STATEMENT#{id}")))
            .key("sk", s("STATEMENT"))
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        let Some(p) = pointer.item else { return Ok(None) };
        let (Some(tax), Some(AttributeValue::N(year))) = (get_s(&p, "tax_id"), p.get("year")) else { return Ok(None) };
        let year: i32 = year.parse().map_err(AppError::internal)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::record_key(&tax, year, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        out.item.as_ref().map(from_item).transpose()
    }

    async fn list_for(&self, tax_id: &TaxId, year: i32) -> AppResult<Vec<StatementRecord>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":pk", s(partition(tax_id.as_str(), year)))
                .expression_attribute_values(":p", s("STATEMENT#"))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_err("Query", e))?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item(&item)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.sort_by(|a, b| (a.issued_at.as_str(), a.id.as_str()).cmp(&(b.issued_at.as_str(), b.id.as_str())));
        Ok(out)
    }

    async fn supersede(&self, tax_id: &TaxId, year: i32, id: &str, by: &str) -> AppResult<bool> {
        self.update(tax_id, year, id, "SET superseded_by = :v", "attribute_exists(pk) AND attribute_not_exists(superseded_by)", by).await
    }

    async fn revoke(&self, tax_id: &TaxId, year: i32, id: &str, reason: &str) -> AppResult<bool> {
        self.update(tax_id, year, id, "SET revoked = :v", "attribute_exists(pk)", reason).await
    }
}

impl DynamoStatementStore {
    /// A conditional update of one record setting `:v`; false when the condition fails.
    async fn update(&self, tax_id: &TaxId, year: i32, id: &str, set: &str, condition: &str, value: &str) -> AppResult<bool> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::record_key(tax_id.as_str(), year, id)))
            .update_expression(set)
            .condition_expression(condition)
            .expression_attribute_values(":v", s(value))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|x| x.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(sdk_err("UpdateItem", e)),
        }
    }
}
