//! The `apply` Lambda function (or, without `AWS_LAMBDA_RUNTIME_API`, a local server
//! for this function alone).

use ecosphere::runtime::{init_tracing, serve_http};
use ecosphere::web::{negotiate_errors, security_headers};
use ecosphere::App;

#[tokio::main]
async fn main() -> Result<(), ecosphere::app::anyhow_like::Error> {
    init_tracing();
    let app = App::from_env().await?;
    let addr = app.config.addr;
    let router = apply::router(app)
        .fallback(ecosphere::web::not_found)
        .layer(axum::middleware::from_fn(negotiate_errors))
        .layer(axum::middleware::from_fn(security_headers));
    serve_http(router, addr).await
}
