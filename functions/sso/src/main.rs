//! The `sso` Lambda function (or, without `AWS_LAMBDA_RUNTIME_API`, a local server
//! for this function alone).

use ecosphere::runtime::{init_tracing, serve_http};
use ecosphere::App;

#[tokio::main]
async fn main() -> Result<(), ecosphere::app::anyhow_like::Error> {
    init_tracing();
    let app = App::from_env().await?;
    let addr = app.config.addr;
    serve_http(ecosphere::web::finish(sso::router(app)), addr).await
}
