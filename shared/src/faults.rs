//! Crash points for the fault-injection suite (`tests/integration/faults.rs`).
//!
//! Every effect the local system has on the outside world goes through a store call:
//! the SQLite database (`SqliteDb::call`), the blob folder and the mail outbox. With a
//! `Faults` plan in `Config::faults`, those calls are counted, and at call number `at`
//! the plan strikes:
//! - `Kill`: the call is not made and the process is "dead": it and every later call
//!   fail, nothing more reaches the disk or the mailbox (a power cut before the call);
//! - `KillAfter`: the call is made, then the process dies (a power cut right after a
//!   write committed, before its caller learned of it);
//! - `Panic`: the calling task panics before the call; the process lives on (a bug).
//!
//! Production never sets a plan: `Config::faults` is not read from the environment.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{AppError, AppResult};
use crate::ports::{Blob, BlobKey, BlobStore, Email, Mailer, SentEmail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Kill,
    KillAfter,
    Panic,
}

#[derive(Debug)]
pub struct Faults {
    calls: AtomicU64,
    at: u64,
    mode: Mode,
    dead: AtomicBool,
    struck: AtomicBool,
}

/// What the caller of `enter` does after making its call.
#[must_use]
pub struct Gate<'a> {
    faults: &'a Faults,
    kill_after: bool,
}

impl Gate<'_> {
    /// After the call: `Err` when the process died right after it.
    pub fn leave(self) -> AppResult<()> {
        if self.kill_after {
            self.faults.dead.store(true, Ordering::SeqCst);
            return Err(crashed());
        }
        self.faults.alive()
    }
}

fn crashed() -> AppError {
    AppError::Unavailable("injected crash: the process is down".into())
}

impl Faults {
    /// A plan that strikes at call number `at` (0-based).
    pub fn new(at: u64, mode: Mode) -> Arc<Self> {
        Arc::new(Self { calls: AtomicU64::new(0), at, mode, dead: AtomicBool::new(false), struck: AtomicBool::new(false) })
    }

    /// A plan that never strikes: counts the calls (to size the schedules).
    pub fn counting() -> Arc<Self> {
        Self::new(u64::MAX, Mode::Kill)
    }

    /// Calls seen so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// True once the plan has struck.
    pub fn struck(&self) -> bool {
        self.struck.load(Ordering::SeqCst)
    }

    /// True once the process is "dead".
    pub fn dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    fn alive(&self) -> AppResult<()> {
        if self.dead() {
            Err(crashed())
        } else {
            Ok(())
        }
    }

    /// Before a call: `Err` when the call must not be made (the process is down).
    /// Panics at a `Panic` point.
    pub fn enter(&self, site: &'static str) -> AppResult<Gate<'_>> {
        self.alive()?;
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n != self.at {
            return Ok(Gate { faults: self, kill_after: false });
        }
        self.struck.store(true, Ordering::SeqCst);
        tracing::warn!(call = n, site, mode = ?self.mode, "injected fault");
        match self.mode {
            Mode::Kill => {
                self.dead.store(true, Ordering::SeqCst);
                Err(crashed())
            }
            Mode::KillAfter => Ok(Gate { faults: self, kill_after: true }),
            Mode::Panic => panic!("injected panic before {site} (call {n})"),
        }
    }
}

/// Runs `call` under the plan, if any.
pub async fn guarded<T, F>(faults: Option<&Faults>, site: &'static str, call: F) -> AppResult<T>
where
    F: std::future::Future<Output = AppResult<T>>,
{
    let Some(f) = faults else { return call.await };
    let gate = f.enter(site)?;
    let out = call.await;
    gate.leave()?;
    out
}

/// A mailer whose sends go through the plan.
/// The SDK configuration with `faults` in front of its HTTP client: each request is a
/// call of the plan (`Kill`: the request never leaves; `KillAfter`: it is made and its
/// answer lost; `Panic`: a panic in the caller's task).
pub fn faulty_sdk_config(sdk: aws_config::SdkConfig, faults: Arc<Faults>) -> aws_config::SdkConfig {
    use aws_smithy_runtime_api::client::http::{http_client_fn, HttpClient, SharedHttpConnector};
    // The SDK picks its default client when a service client is built; the plan needs
    // one to wrap. It is meant for the emulator, on plain HTTP.
    let inner = sdk.http_client().unwrap_or_else(|| aws_smithy_http_client::Builder::new().build_http());
    let client = http_client_fn(move |settings, components| {
        SharedHttpConnector::new(FaultyConnector { inner: inner.http_connector(settings, components), faults: faults.clone() })
    });
    sdk.into_builder().http_client(client).build()
}

#[derive(Debug)]
struct FaultyConnector {
    inner: aws_smithy_runtime_api::client::http::SharedHttpConnector,
    faults: Arc<Faults>,
}

impl aws_smithy_runtime_api::client::http::HttpConnector for FaultyConnector {
    fn call(&self, request: aws_smithy_runtime_api::client::orchestrator::HttpRequest) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
        use aws_smithy_runtime_api::client::result::ConnectorError;
        let (inner, faults) = (self.inner.clone(), self.faults.clone());
        aws_smithy_runtime_api::client::http::HttpConnectorFuture::new(async move {
            let gate = faults.enter("aws").map_err(|e| ConnectorError::io(Box::new(e)))?;
            let response = inner.call(request).await;
            gate.leave().map_err(|e| ConnectorError::io(Box::new(e)))?;
            response
        })
    }
}

pub struct FaultyMailer {
    pub inner: Arc<dyn Mailer>,
    pub faults: Arc<Faults>,
}

#[async_trait]
impl Mailer for FaultyMailer {
    async fn send(&self, email: &Email) -> AppResult<SentEmail> {
        guarded(Some(&self.faults), "mail.send", self.inner.send(email)).await
    }

    async fn send_once(&self, key: &str, email: &Email) -> AppResult<SentEmail> {
        guarded(Some(&self.faults), "mail.send_once", self.inner.send_once(key, email)).await
    }
}

/// A blob store whose calls go through the plan.
pub struct FaultyBlobs {
    pub inner: Arc<dyn BlobStore>,
    pub faults: Arc<Faults>,
}

#[async_trait]
impl BlobStore for FaultyBlobs {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, content_type: &str) -> AppResult<()> {
        guarded(Some(&self.faults), "blob.put", self.inner.put(key, bytes, content_type)).await
    }

    async fn get(&self, key: &BlobKey) -> AppResult<Option<Blob>> {
        guarded(Some(&self.faults), "blob.get", self.inner.get(key)).await
    }

    async fn list(&self, prefix: &str) -> AppResult<Vec<BlobKey>> {
        guarded(Some(&self.faults), "blob.list", self.inner.list(prefix)).await
    }

    async fn delete(&self, key: &BlobKey) -> AppResult<()> {
        guarded(Some(&self.faults), "blob.delete", self.inner.delete(key)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_stops_every_later_call() {
        let f = Faults::new(2, Mode::Kill);
        f.enter("a").unwrap().leave().unwrap();
        f.enter("b").unwrap().leave().unwrap();
        assert!(f.enter("c").is_err());
        assert!(f.dead() && f.struck());
        assert!(f.enter("d").is_err());
        assert_eq!(f.calls(), 3, "nothing counted once dead");
    }

    #[test]
    fn kill_after_lets_the_call_happen_then_dies() {
        let f = Faults::new(0, Mode::KillAfter);
        let gate = f.enter("a").expect("the call is made");
        assert!(!f.dead());
        assert!(gate.leave().is_err());
        assert!(f.dead());
    }

    #[test]
    fn panic_strikes_once() {
        let f = Faults::new(1, Mode::Panic);
        f.enter("a").unwrap().leave().unwrap();
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.enter("b").map(|_| ()))).is_err());
        f.enter("c").unwrap().leave().unwrap();
        assert!(!f.dead());
    }
}
