//! The `ingest` Lambda function: S3 ObjectCreated events for the drop bucket, and the
//! sweeper's schedule (`{"task": "sweep"}`).

use ecosphere::runtime::init_tracing;
use ecosphere::App;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let app = App::from_env().await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        ingest::handle_event(app, event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
