//! Stream consumers: handlers of DynamoDB stream batches. Lambda calls them with the
//! event from the stream; the local change feed calls them with the same event type
//! built from the SQLite change log. Both honour partial batch failures
//! (`ReportBatchItemFailures`).

use async_trait::async_trait;
pub use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord as StreamEventRecord};
pub use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use crate::error::AppError;

#[async_trait]
pub trait StreamConsumer: Send + Sync {
    /// A stable name: the consumer's checkpoint and dead letters are kept under it.
    fn name(&self) -> &str;

    /// Handles a batch. Records that failed are named in `batch_item_failures` (by
    /// sequence number); an `Err` fails the whole batch.
    async fn handle(&self, event: StreamEvent) -> Result<DynamoDbEventResponse, AppError>;
}

/// Builds the response naming the records that failed.
pub fn batch_response(failed_sequence_numbers: impl IntoIterator<Item = String>) -> DynamoDbEventResponse {
    let mut resp = DynamoDbEventResponse::default();
    resp.batch_item_failures = failed_sequence_numbers
        .into_iter()
        .map(|s| {
            let mut f = DynamoDbBatchItemFailure::default();
            f.item_identifier = Some(s);
            f
        })
        .collect();
    resp
}

/// Awaits `work`, turning a panic into an error: a consumer that panics on one record
/// fails that delivery (it is retried, then dead-lettered) instead of ending the feed
/// or watcher task that called it — in one process, every other company's work goes on.
pub async fn confined<T>(what: &str, work: impl std::future::Future<Output = Result<T, AppError>>) -> Result<T, AppError> {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(work).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
            tracing::error!(consumer = what, panic = %msg, "consumer panicked");
            Err(AppError::internal(format!("{what} panicked: {msg}")))
        }
    }
}
