//! The `notify` Lambda function: DynamoDB stream batches in, partial batch failures out.

use ecosphere::runtime::init_tracing;
use ecosphere::stream::{StreamConsumer, StreamEvent};
use ecosphere::App;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let app = App::from_env().await?;
    let consumer = notify::NotifyConsumer::new(app);
    let consumer = &consumer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| async move {
        consumer.handle(event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
