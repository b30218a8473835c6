//! Serving: the same axum `Router` under Lambda (`lambda_http`) or as a plain server.

use axum::Router;

use crate::app::anyhow_like::Result;

/// The whole `main` of an HTTP function: logs, `App::from_env()`, the function's router
/// with the shared layers, served under Lambda or locally.
pub async fn run_http_function(router: fn(std::sync::Arc<crate::App>) -> Router) -> Result<()> {
    init_tracing();
    let app = crate::App::from_env().await?;
    let addr = app.config.addr;
    serve_http(crate::web::finish(router(app)), addr).await
}

/// JSON logs under Lambda (CloudWatch), readable text locally. `RUST_LOG` filters.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = if running_on_lambda() {
        builder.json().without_time().try_init()
    } else {
        builder.try_init()
    };
}

pub fn running_on_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Serves `router`: through the Lambda runtime API when `AWS_LAMBDA_RUNTIME_API` is set,
/// otherwise on `addr` (for running one function alone).
pub async fn serve_http(router: Router, addr: std::net::SocketAddr) -> Result<()> {
    if running_on_lambda() {
        lambda_http::run(router).await
    } else {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(addr = %listener.local_addr()?, "listening");
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).with_graceful_shutdown(shutdown_signal()).await?;
        Ok(())
    }
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
