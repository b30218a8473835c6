//! The `staff` Lambda function (or, without `AWS_LAMBDA_RUNTIME_API`, a local server
//! for this function alone).

#[tokio::main]
async fn main() -> Result<(), ecosphere::app::anyhow_like::Error> {
    ecosphere::runtime::run_http_function(staff::router).await
}
