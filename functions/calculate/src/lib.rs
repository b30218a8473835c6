//! Function `calculate`: a DynamoDB stream consumer on activity records. Every change to
//! an activity recomputes its emission lines from the activity as stored now (so
//! redelivered or out-of-order records converge to the same lines), and
//! `{"task": "restate"}` recomputes every line made with an older factor library.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use ecosphere::domain::TaxId;
use ecosphere::records::activity_from_image;
use ecosphere::services::calculate::CalculateService;
use ecosphere::stream::{batch_response, DynamoDbEventResponse, StreamConsumer, StreamEvent};
use ecosphere::{App, AppError};

/// The function's entry point: a stream batch (`Records`) or the restatement task.
pub async fn handle_event(app: &Arc<App>, payload: serde_json::Value) -> Result<serde_json::Value, AppError> {
    if payload.get("Records").is_some() {
        let event: StreamEvent =
            serde_json::from_value(payload).map_err(|e| AppError::BadRequest(format!("not a DynamoDB stream event: {e}")))?;
        let resp = CalculateConsumer::new(app.clone()).handle(event).await?;
        return serde_json::to_value(resp).map_err(AppError::internal);
    }
    match payload.get("task").and_then(|t| t.as_str()) {
        Some("restate") => {
            let n = app.calculate.restate_all().await?;
            Ok(serde_json::json!({ "restated": n }))
        }
        _ => Err(AppError::BadRequest("unknown event: expected DynamoDB stream records or {\"task\": \"restate\"}".into())),
    }
}

pub struct CalculateConsumer {
    app: Arc<App>,
}

impl CalculateConsumer {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl StreamConsumer for CalculateConsumer {
    fn name(&self) -> &str {
        "calculate"
    }

    async fn handle(&self, event: StreamEvent) -> Result<DynamoDbEventResponse, AppError> {
        let mut failed = Vec::new();
        // Firm-years whose lines may have changed, with the records that touched them:
        // their totals are recomputed once per batch, after the lines.
        let mut touched: BTreeMap<String, (TaxId, BTreeSet<i32>, Vec<String>)> = BTreeMap::new();
        for record in &event.records {
            let seq = record.change.sequence_number.clone().unwrap_or_default();
            let decoded = activity_from_image(&record.change.new_image).or_else(|| activity_from_image(&record.change.old_image));
            let activity = match decoded {
                None => continue, // another entity
                Some(Ok(a)) => a,
                Some(Err(e)) => {
                    tracing::error!(sequence = %seq, error = %e, "undecodable activity image");
                    failed.push(seq);
                    continue;
                }
            };
            let Ok(tax) = TaxId::parse(&activity.tax_id) else {
                tracing::error!(sequence = %seq, "activity with an invalid tax id");
                failed.push(seq);
                continue;
            };
            let entry = touched.entry(tax.to_string()).or_insert_with(|| (tax.clone(), BTreeSet::new(), Vec::new()));
            entry.1.extend(CalculateService::years_of(&activity));
            if let Some(Ok(old)) = activity_from_image(&record.change.old_image) {
                entry.1.extend(CalculateService::years_of(&old));
            }
            if let Err(e) = self.app.calculate.recalculate(&tax, &activity.id).await {
                tracing::warn!(sequence = %seq, error = %e, "calculation failed: will be retried");
                failed.push(seq);
                continue;
            }
            entry.2.push(seq);
        }
        for (tax, years, seqs) in touched.into_values() {
            let refreshed = if years.is_empty() {
                self.app.calculate.refresh_all_totals(&tax).await
            } else {
                self.app.calculate.refresh_totals(&tax, &years).await
            };
            if let Err(e) = refreshed {
                // Retried with its records: the totals are recomputed, never added to.
                tracing::warn!(error = %e, "firm-year totals not refreshed: will be retried");
                failed.extend(seqs);
            }
        }
        Ok(batch_response(failed))
    }
}
