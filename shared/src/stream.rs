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
