//! Firm profiles in DynamoDB, under the company's partition: `COMPANY#{tax_id}` /
//! `PROFILE#{year}` (gsi1: `PROFILES#{year}` / tax_id, for a year's national list) and
//! append-only audit items `PROFILE_AUDIT#{time}#{year}#{version}`. A save is one
//! transaction: the profile with a version condition and its audit item.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use super::aws::sdk_err;
use crate::domain::{FirmProfile, ProfileAudit, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::FirmProfileStore;
use crate::records::{company_pk, timestamp};
use crate::services::firms::stale_profile_error;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoFirmProfileStore {
    client: Client,
    table: String,
}

impl DynamoFirmProfileStore {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: table.into() }
    }
}

#[derive(Serialize, Deserialize)]
struct ProfileItem {
    pk: String,
    sk: String,
    entity: String,
    gsi1pk: String,
    gsi1sk: String,
    /// The profile as JSON: keeps amounts exact and the item's shape independent of
    /// serde_dynamo's handling of flattened fields.
    profile: String,
    version: u32,
}

#[derive(Serialize, Deserialize)]
struct AuditItem {
    pk: String,
    sk: String,
    entity: String,
    entry: String,
}

fn profile_sk(year: i32) -> String {
    format!("PROFILE#{year:04}")
}

fn to_item<T: Serialize>(v: &T) -> AppResult<Item> {
    serde_dynamo::to_item(v).map_err(|e| AppError::internal(format!("encode item: {e}")))
}

fn decode_profile(item: Item) -> AppResult<FirmProfile> {
    let row: ProfileItem = serde_dynamo::from_item(item).map_err(|e| AppError::internal(format!("decode profile item: {e}")))?;
    serde_json::from_str(&row.profile).map_err(|e| AppError::internal(format!("decode profile: {e}")))
}

impl DynamoFirmProfileStore {
    async fn query_all(&self, index: Option<&str>, key: (&str, String), sk_prefix: Option<&str>) -> AppResult<Vec<Item>> {
        super::dynamo::query_all(&self.client, &self.table, index, key.0, key.1, sk_prefix).await
    }
}

#[async_trait]
impl FirmProfileStore for DynamoFirmProfileStore {
    async fn get(&self, tax_id: &TaxId, year: i32) -> AppResult<Option<FirmProfile>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(company_pk(tax_id)))
            .key("sk", AttributeValue::S(profile_sk(year)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        out.item.map(decode_profile).transpose()
    }

    async fn history(&self, tax_id: &TaxId) -> AppResult<Vec<FirmProfile>> {
        let items = self.query_all(None, ("pk", company_pk(tax_id)), Some("PROFILE#")).await?;
        let mut out: Vec<FirmProfile> = items.into_iter().map(decode_profile).collect::<AppResult<_>>()?;
        out.sort_by_key(|p| p.year);
        Ok(out)
    }

    async fn save(&self, profile: &FirmProfile, audit: &ProfileAudit) -> AppResult<()> {
        let pk = company_pk(&profile.tax_id);
        let item = to_item(&ProfileItem {
            pk: pk.clone(),
            sk: profile_sk(profile.year),
            entity: "firm_profile".into(),
            gsi1pk: format!("PROFILES#{}", profile.year),
            gsi1sk: profile.tax_id.to_string(),
            profile: serde_json::to_string(profile).map_err(AppError::internal)?,
            version: profile.version,
        })?;
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        put = if profile.version <= 1 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :prev").expression_attribute_values(":prev", AttributeValue::N((profile.version - 1).to_string()))
        };
        let audit_item = to_item(&AuditItem {
            pk,
            sk: format!("PROFILE_AUDIT#{}#{:04}#{:06}", timestamp(audit.at), audit.year, audit.version),
            entity: "firm_profile_audit".into(),
            entry: serde_json::to_string(audit).map_err(AppError::internal)?,
        })?;
        let audit_put = Put::builder().table_name(&self.table).set_item(Some(audit_item)).condition_expression("attribute_not_exists(pk)");
        let r = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put.build().map_err(AppError::internal)?).build())
            .transact_items(TransactWriteItem::builder().put(audit_put.build().map_err(AppError::internal)?).build())
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if super::dynamo::cancellation_reasons(&e).is_some_and(|r| r.iter().any(|c| c == "ConditionalCheckFailed")) => Err(stale_profile_error()),
            Err(e) => Err(sdk_err("TransactWriteItems", e)),
        }
    }

    async fn list_year(&self, year: i32) -> AppResult<Vec<FirmProfile>> {
        let items = self.query_all(Some("gsi1"), ("gsi1pk", format!("PROFILES#{year}")), None).await?;
        let mut out: Vec<FirmProfile> = items.into_iter().map(decode_profile).collect::<AppResult<_>>()?;
        out.sort_by(|a, b| a.tax_id.as_str().cmp(b.tax_id.as_str()));
        Ok(out)
    }

    async fn audit(&self, tax_id: &TaxId) -> AppResult<Vec<ProfileAudit>> {
        let items = self.query_all(None, ("pk", company_pk(tax_id)), Some("PROFILE_AUDIT#")).await?;
        items
            .into_iter()
            .map(|i| {
                let row: AuditItem = serde_dynamo::from_item(i).map_err(|e| AppError::internal(format!("decode audit item: {e}")))?;
                serde_json::from_str(&row.entry).map_err(|e| AppError::internal(format!("decode audit: {e}")))
            })
            .collect()
    }
}
