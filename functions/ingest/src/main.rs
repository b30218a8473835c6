//! The `ingest` Lambda function: S3 ObjectCreated events for the drop bucket.

use ecosphere::adapters::drop::{ObjectConsumer, S3Event};
use ecosphere::runtime::init_tracing;
use ecosphere::App;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let app = App::from_env().await?;
    let consumer = &ingest::IngestConsumer::new(app);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        consumer.handle(event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
