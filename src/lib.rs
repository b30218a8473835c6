//! EcoSphere Carbon on one machine: every HTTP function's router merged into one
//! server, the change feed driving the stream consumers, and the drop-folder watcher
//! standing in for the S3 notifications.

pub mod mailbox;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use ecosphere::adapters::drop::{DropWatcher, ObjectConsumer};
use ecosphere::adapters::sqlite::feed::ChangeFeed;
use ecosphere::stream::{confined, StreamConsumer};
use ecosphere::{App, AppError, Config};
use tokio::sync::watch;

/// The merged router of every HTTP function, plus the local-only pages.
pub fn router(app: Arc<App>) -> Router {
    let mut router = Router::new()
        .merge(apply::router(app.clone()))
        .merge(review::router(app.clone()))
        .merge(portal::router(app.clone()))
        .merge(sso::router(app.clone()))
        .merge(carbon::router(app.clone()))
        .merge(staff::router(app.clone()))
        .route("/", axum::routing::get(|| async { axum::response::Redirect::to("/apply") }));
    if let Some(mailbox) = mailbox::router_if_allowed(app.clone()) {
        router = router.merge(mailbox);
    }
    ecosphere::web::finish(router)
}

/// The stream consumers the change feed drives (the Lambda functions subscribed to the
/// table's stream in `infra/template.yaml`).
pub fn stream_consumers(app: &Arc<App>) -> Vec<Arc<dyn StreamConsumer>> {
    vec![Arc::new(notify::NotifyConsumer::new(app.clone())), Arc::new(calculate::CalculateConsumer::new(app.clone()))]
}

/// The consumer of drop-folder events (the Lambda function on the bucket's notification).
pub fn object_consumer(app: &Arc<App>) -> Option<Arc<dyn ObjectConsumer>> {
    Some(Arc::new(ingest::IngestConsumer::new(app.clone())))
}

/// Runs the local pipeline to completion without a server: the drop folder is scanned
/// and its events delivered to ingest, then every stream consumer catches up, until
/// no new file turns up. For commands that fill the data directory (`demo-data`).
pub async fn process_pending(app: &Arc<App>) -> Result<(), AppError> {
    let Some(local) = &app.local else {
        return Err(AppError::BadRequest("只有本機模式（APP_BACKEND 未設定）可以直接處理投遞資料夾".into()));
    };
    let watcher = DropWatcher::new(local.drop_dir.clone(), local.rejected_dir.clone(), app.blobs.clone(), local.db.clone(), app.clock.clone());
    let feed = ChangeFeed::new(local.db.clone(), app.config.feed.clone(), app.clock.clone());
    let consumers = stream_consumers(app);
    loop {
        let dropped = watcher.scan().await?;
        if let Some(c) = object_consumer(app) {
            // A call delivers at most 100 events; an event that keeps failing stops
            // counting once its attempts are used up (the sweeper redrives it later).
            while watcher.deliver(c.as_ref(), app.config.feed.max_attempts).await? > 0 {}
        }
        for c in &consumers {
            feed.drain(c.as_ref()).await?;
        }
        // The watcher takes a file once two scans see it unchanged.
        if dropped.is_empty() {
            if !has_files(&local.drop_dir) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn has_files(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).map_or(false, |rd| {
        rd.flatten().any(|e| match e.file_type() {
            Ok(t) if t.is_dir() => has_files(&e.path()),
            Ok(_) => true,
            Err(_) => false,
        })
    })
}

/// A running local system.
pub struct Running {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    pub feed: Option<Arc<ChangeFeed>>,
    shutdown: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server, the feed and the watcher, and waits for them.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }

    /// Waits for Ctrl-C / SIGTERM, then stops.
    pub async fn run_until_signal(self) {
        ecosphere::runtime::shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await;
    }
}

/// Starts everything: binds `config.addr` (port 0 picks a free port).
pub async fn start(config: Config) -> Result<Running, AppError> {
    start_with_clock(config, Arc::new(ecosphere::ports::SystemClock)).await
}

/// `start` with a clock of the caller's (tests move time).
pub async fn start_with_clock(mut config: Config, clock: Arc<dyn ecosphere::ports::Clock>) -> Result<Running, AppError> {
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| AppError::internal(format!("bind {}: {e}", config.addr)))?;
    let addr = listener.local_addr().map_err(AppError::internal)?;
    if !config.public_url_explicit {
        // Links in e-mails point at the port actually bound.
        config.public_url = format!("http://{addr}");
    }
    let app = App::with_clock(config, clock).await?;
    let (tx, rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();

    let mut stop = rx.clone();
    let service = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    tasks.spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "server stopped");
        }
    });

    let mut feed = None;
    if let Some(local) = &app.local {
        let f = Arc::new(ChangeFeed::new(local.db.clone(), app.config.feed.clone(), app.clock.clone()));
        feed = Some(f.clone());
        tasks.spawn(f.run(stream_consumers(&app), rx.clone()));

        // The review-SLA reminder: the local twin of the EventBridge schedule. Hourly;
        // the notification log keeps it to one e-mail a day per reviewer.
        let reminder_app = app.clone();
        let mut stop = rx.clone();
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                if let Err(e) = reminder_app.notify.remind_overdue(reminder_app.applications.as_ref()).await {
                    tracing::warn!(error = %e, "review SLA reminder failed");
                }
                let (apps, members) = (reminder_app.applications.as_ref(), reminder_app.members.as_ref());
                if let Err(e) = reminder_app.notify.remind_trial_ending(apps, members).await {
                    tracing::warn!(error = %e, "trial reminder failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        });

        // Results computed with another version of the factor library are restated.
        let restate_app = app.clone();
        tasks.spawn(async move {
            match restate_app.calculate.restate_all().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(activities = n, "emission lines restated with the current factor library"),
                Err(e) => tracing::warn!(error = %e, "restatement failed"),
            }
            match restate_app.calculate.build_missing_totals().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(firms = n, "firm-year totals built for existing data"),
                Err(e) => tracing::warn!(error = %e, "building firm-year totals failed"),
            }
        });

        let watcher = DropWatcher::new(
            local.drop_dir.clone(),
            local.rejected_dir.clone(),
            app.blobs.clone(),
            local.db.clone(),
            app.clock.clone(),
        );
        let consumer = object_consumer(&app);
        let max_attempts = app.config.feed.max_attempts;
        let mut stop = rx.clone();
        let redrive_every = app.config.feed.redrive_interval;
        let sweeper = app.clone();
        tasks.spawn(async move {
            // Due right after a start: that is when a crash left work behind.
            let mut last_redrive: Option<tokio::time::Instant> = None;
            loop {
                if last_redrive.is_none_or(|t| t.elapsed() >= redrive_every) {
                    last_redrive = Some(tokio::time::Instant::now());
                    if let Some(c) = &consumer {
                        if let Err(e) = confined("drop redrive", watcher.redrive(c.as_ref(), max_attempts)).await {
                            tracing::error!(error = %e, "drop event redrive failed");
                        }
                    }
                    // The sweeper (on AWS: the EventBridge schedules of ingest and notify):
                    // abandoned file claims and e-mails that never went out.
                    if let Err(e) = confined("file sweep", sweeper.ingest.sweep()).await {
                        tracing::error!(error = %e, "file sweep failed");
                    }
                    if let Err(e) = confined("notification sweep", sweeper.notify.reconcile(sweeper.applications.as_ref())).await {
                        tracing::error!(error = %e, "notification sweep failed");
                    }
                }
                // A panic in one pass is one failed pass: the watcher goes on.
                if let Err(e) = confined("drop scan", watcher.scan()).await {
                    tracing::error!(error = %e, "drop folder scan failed");
                }
                if let Some(c) = &consumer {
                    if let Err(e) = confined("drop delivery", watcher.deliver(c.as_ref(), max_attempts)).await {
                        tracing::error!(error = %e, "drop event delivery failed");
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        });
    }
    Ok(Running { addr, app, feed, shutdown: tx, tasks })
}
