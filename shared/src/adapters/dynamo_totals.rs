//! Firm-year totals in DynamoDB, under the company's partition: `COMPANY#{tax_id}` /
//! `TOTAL#{year}` (gsi1: `TOTALS#{year}` / tax_id, for a year's national list). A put
//! replaces the item whole; a total without lines deletes it.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::aws::sdk_err;
use crate::domain::{FirmYearTotal, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::TotalsStore;
use crate::records::company_pk;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoTotalsStore {
    client: Client,
    table: String,
}

impl DynamoTotalsStore {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: table.into() }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn sk(year: i32) -> String {
    format!("TOTAL#{year:04}")
}

fn decode(item: &Item) -> AppResult<FirmYearTotal> {
    match item.get("total") {
        Some(AttributeValue::S(j)) => serde_json::from_str(j).map_err(|e| AppError::internal(format!("decode total: {e}"))),
        _ => Err(AppError::internal("total item without total")),
    }
}

impl DynamoTotalsStore {
    async fn query(&self, index: Option<&str>, key: &str, value: String, prefix: Option<&str>) -> AppResult<Vec<Item>> {
        super::dynamo::query_all(&self.client, &self.table, index, key, value, prefix).await
    }
}

#[async_trait]
impl TotalsStore for DynamoTotalsStore {
    async fn put(&self, t: &FirmYearTotal) -> AppResult<()> {
        let tax = TaxId::parse(&t.tax_id).map_err(AppError::internal)?;
        if t.lines == 0 {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(company_pk(&tax)))
                .key("sk", s(sk(t.year)))
                .send()
                .await
                .map_err(|e| sdk_err("DeleteItem", e))?;
            return Ok(());
        }
        let item = HashMap::from([
            ("pk".to_string(), s(company_pk(&tax))),
            ("sk".to_string(), s(sk(t.year))),
            ("entity".to_string(), s("firm_year_total")),
            ("gsi1pk".to_string(), s(format!("TOTALS#{}", t.year))),
            ("gsi1sk".to_string(), s(t.tax_id.clone())),
            ("grams".to_string(), AttributeValue::N(t.grams_co2e.to_string())),
            ("total".to_string(), s(serde_json::to_string(t).map_err(AppError::internal)?)),
        ]);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(|e| sdk_err("PutItem", e))?;
        Ok(())
    }

    async fn get(&self, tax_id: &TaxId, year: i32) -> AppResult<Option<FirmYearTotal>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(company_pk(tax_id)))
            .key("sk", s(sk(year)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        out.item.as_ref().map(decode).transpose()
    }

    async fn list_year(&self, year: i32) -> AppResult<Vec<FirmYearTotal>> {
        let items = self.query(Some("gsi1"), "gsi1pk", format!("TOTALS#{year}"), None).await?;
        let mut out: Vec<FirmYearTotal> = items.iter().map(decode).collect::<AppResult<_>>()?;
        out.sort_by(|a, b| a.tax_id.cmp(&b.tax_id));
        Ok(out)
    }

    async fn years(&self, tax_id: &TaxId) -> AppResult<Vec<i32>> {
        let items = self.query(None, "pk", company_pk(tax_id), Some("TOTAL#")).await?;
        let mut years: Vec<i32> = items.iter().map(decode).map(|t| t.map(|t| t.year)).collect::<AppResult<_>>()?;
        years.sort_unstable();
        Ok(years)
    }
}
