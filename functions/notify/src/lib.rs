//! Function `notify`: a DynamoDB stream consumer that e-mails reviewers about new
//! applications and applicants about decisions — exactly one e-mail per state change.
//! Failed records are reported as batch item failures and retried.

use std::sync::Arc;

use async_trait::async_trait;
use ecosphere::records::application_from_image;
use ecosphere::stream::{batch_response, DynamoDbEventResponse, StreamConsumer, StreamEvent};
use ecosphere::{App, AppError};

/// The function's entry point: a stream batch (`Records`) or the scheduled reminder.
pub async fn handle_event(app: &Arc<App>, payload: serde_json::Value) -> Result<serde_json::Value, AppError> {
    if payload.get("Records").is_some() {
        let event: StreamEvent =
            serde_json::from_value(payload).map_err(|e| AppError::BadRequest(format!("not a DynamoDB stream event: {e}")))?;
        let resp = NotifyConsumer::new(app.clone()).handle(event).await?;
        return serde_json::to_value(resp).map_err(AppError::internal);
    }
    match payload.get("task").and_then(|t| t.as_str()) {
        Some("review_sla_reminder") => {
            let sent = app.notify.remind_overdue(app.applications.as_ref()).await?;
            let trial = app.notify.remind_trial_ending(app.applications.as_ref(), app.members.as_ref()).await?;
            Ok(serde_json::json!({ "sent": sent, "trial_reminders": trial }))
        }
        // The sweeper: e-mails of recent applications that never went out.
        Some("sweep") => serde_json::to_value(app.notify.reconcile(app.applications.as_ref()).await?).map_err(AppError::internal),
        _ => Err(AppError::BadRequest(
            "unknown event: expected DynamoDB stream records, {\"task\": \"review_sla_reminder\"} or {\"task\": \"sweep\"}".into(),
        )),
    }
}

pub struct NotifyConsumer {
    app: Arc<App>,
}

impl NotifyConsumer {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl StreamConsumer for NotifyConsumer {
    fn name(&self) -> &str {
        "notify"
    }

    async fn handle(&self, event: StreamEvent) -> Result<DynamoDbEventResponse, AppError> {
        let mut failed = Vec::new();
        for record in &event.records {
            let seq = record.change.sequence_number.clone().unwrap_or_default();
            let decode = |img| application_from_image(img).transpose();
            let (old, new) = match (decode(&record.change.old_image), decode(&record.change.new_image)) {
                (Ok(o), Ok(n)) => (o, n),
                (Err(e), _) | (_, Err(e)) => {
                    // Retrying cannot fix an undecodable image: it goes to the dead letters after the retries.
                    tracing::error!(sequence = %seq, error = %e, "undecodable application image");
                    failed.push(seq);
                    continue;
                }
            };
            if let Err(e) = self.app.notify.on_change(old.as_ref(), new.as_ref()).await {
                tracing::warn!(sequence = %seq, error = %e, "notification failed; record will be retried");
                failed.push(seq);
            }
        }
        Ok(batch_response(failed))
    }
}
