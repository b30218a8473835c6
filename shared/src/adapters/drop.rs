//! The drop folder: the local twin of the S3 drop bucket and its ObjectCreated
//! notifications. A bookkeeper copies `{tax_id}/{batch_id}/{file}` into `drop/`; once a
//! file has stopped growing it is moved into the blob store under the same key as in
//! S3 (`drop/{tax_id}/{batch_id}/{file}`), and an `S3Event` is queued in SQLite, then
//! delivered to the object consumer (the ingest function) with retries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
pub use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use rusqlite::params;
use sha2::{Digest, Sha256};

use super::sqlite::{db_err, SqliteDb};
use crate::error::{AppError, AppResult};
use crate::ports::{BlobKey, BlobStore, Clock};

/// The bucket name used in local S3 events.
pub const LOCAL_BUCKET: &str = "ecosphere-local-drop";
/// Largest file taken from the drop folder.
pub const MAX_DROP_BYTES: u64 = 50 * 1024 * 1024;
/// Longest file or batch name taken from the drop folder, in bytes: the blob store keeps
/// a metadata file named after it, and file systems cap a name at 255 bytes.
pub const MAX_NAME_BYTES: usize = 200;

/// Handles S3 ObjectCreated events (Lambda's S3 trigger, or the drop folder locally).
#[async_trait]
pub trait ObjectConsumer: Send + Sync {
    async fn handle(&self, event: S3Event) -> Result<(), AppError>;
}

pub struct DropWatcher {
    drop_dir: PathBuf,
    rejected_dir: PathBuf,
    blobs: Arc<dyn BlobStore>,
    db: SqliteDb,
    clock: Arc<dyn Clock>,
    /// Size and mtime seen at the previous scan: a file is taken when they have not changed.
    seen: tokio::sync::Mutex<HashMap<PathBuf, (u64, SystemTime)>>,
    /// Passes in a row a file could not be taken (see `MAX_TAKE_FAILURES`).
    take_failures: tokio::sync::Mutex<HashMap<PathBuf, u32>>,
}

/// A file that cannot be taken this many passes in a row (half a minute) is rejected.
const MAX_TAKE_FAILURES: u32 = 30;

/// What a scan did with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    Accepted { key: String, version_id: String },
    Rejected { path: PathBuf, reason: String },
}

/// Percent-encodes an object key the way S3 event notifications do (space as `+`).
pub fn s3_event_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn guess_content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    match lower.rsplit('.').next().unwrap_or_default() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "csv" => "text/csv",
        _ => "application/octet-stream",
    }
}

impl DropWatcher {
    pub fn new(drop_dir: PathBuf, rejected_dir: PathBuf, blobs: Arc<dyn BlobStore>, db: SqliteDb, clock: Arc<dyn Clock>) -> Self {
        Self { drop_dir, rejected_dir, blobs, db, clock, seen: Default::default(), take_failures: Default::default() }
    }

    /// One pass over the folder. Files still being written (size or mtime changed since
    /// the previous pass, or first seen now) wait for the next pass.
    pub async fn scan(&self) -> AppResult<Vec<Dropped>> {
        let files = list_files(&self.drop_dir)?;
        let mut seen = self.seen.lock().await;
        let mut out = Vec::new();
        let mut still_here = HashMap::new();
        for path in files {
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            let stamp = (meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH));
            if seen.get(&path) != Some(&stamp) {
                still_here.insert(path, stamp);
                continue;
            }
            // One file that cannot be taken never stops the others. A failure may be
            // passing (the database or the store busy, the process going down): the file
            // stays for the next pass, and only one that fails pass after pass is moved
            // to rejected/ with a reason, so it shows on the batch page.
            match self.take(&path, meta.len()).await {
                Ok(d) => {
                    self.take_failures.lock().await.remove(&path);
                    out.push(d)
                }
                Err(e) => {
                    let mut failures = self.take_failures.lock().await;
                    let n = failures.entry(path.clone()).or_insert(0);
                    *n += 1;
                    tracing::error!(error = %e, failures = *n, "dropped file could not be taken");
                    if *n >= MAX_TAKE_FAILURES {
                        failures.remove(&path);
                        if let Ok(d) = self.reject(&path, "檔案多次無法存入（檔名、路徑或檔案權限不被支援），請改用較短的檔名後重新上傳") {
                            out.push(d);
                        }
                    } else {
                        still_here.insert(path, stamp);
                    }
                }
            }
        }
        *seen = still_here;
        Ok(out)
    }

    async fn take(&self, path: &Path, size: u64) -> AppResult<Dropped> {
        let rel = path.strip_prefix(&self.drop_dir).map_err(AppError::internal)?;
        let rel_s = rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
        let segments: Vec<&str> = rel_s.split('/').collect();
        let reason = if segments.len() != 3 {
            Some("檔案須放在 drop/{統一編號}/{批次}/{檔名}".to_string())
        } else if crate::domain::TaxId::parse(segments[0]).map(|t| t.as_str() != segments[0]).unwrap_or(true) {
            Some(format!("資料夾名稱 {} 不是有效的統一編號", segments[0]))
        } else if segments[1].len() > MAX_NAME_BYTES || segments[2].len() > MAX_NAME_BYTES {
            Some(format!("檔名或批次名稱過長（上限 {MAX_NAME_BYTES} 位元組，約 {} 個中文字），請改用較短的名稱", MAX_NAME_BYTES / 3))
        } else if size > MAX_DROP_BYTES {
            Some(format!("檔案過大（上限 {} MB）", MAX_DROP_BYTES / 1024 / 1024))
        } else {
            None
        };
        let key = format!("drop/{rel_s}");
        let blob_key = BlobKey::parse(&key);
        if let Some(reason) = reason.or_else(|| blob_key.is_none().then(|| "檔名包含不允許的字元".to_string())) {
            return self.reject(path, &reason);
        }
        let blob_key = blob_key.expect("checked");
        let bytes = std::fs::read(path).map_err(AppError::internal)?;
        let digest = Sha256::digest(&bytes);
        let version_id: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let name = segments[2];
        self.blobs.put(&blob_key, bytes, guess_content_type(name)).await?;
        let event = self.event(&key, size, &version_id);
        let event_json = serde_json::to_string(&event).map_err(AppError::internal)?;
        let at = self.clock.now().to_rfc3339();
        let (k, v) = (key.clone(), version_id.clone());
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO drop_events (key, version_id, size, event, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![k, v, size as i64, event_json, at],
                )
                .map_err(db_err)?;
                Ok(())
            })
            .await?;
        // Only now is the file gone from the folder: a crash before this line takes it again.
        std::fs::remove_file(path).map_err(AppError::internal)?;
        tracing::info!(key = %key, size, "dropped file taken");
        Ok(Dropped::Accepted { key, version_id })
    }

    /// Moves a file out of the drop folder into `rejected/` with a `.reason.txt` beside it.
    /// A name too long to store gets a short stand-in there (the reason names the original).
    fn reject(&self, path: &Path, reason: &str) -> AppResult<Dropped> {
        let rel = path.strip_prefix(&self.drop_dir).map_err(AppError::internal)?;
        let mut target = self.rejected_dir.join(rel);
        let name = target.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if name.len() > MAX_NAME_BYTES {
            let short: String = name.chars().take(20).collect();
            target.set_file_name(format!("{short}…-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        }
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(AppError::internal)?;
        }
        std::fs::rename(path, &target).map_err(AppError::internal)?;
        let mut note = target.clone().into_os_string();
        note.push(".reason.txt");
        std::fs::write(&note, format!("{reason}\n原檔名：{name}\n")).map_err(AppError::internal)?;
        tracing::warn!(file = %rel.display(), %reason, "dropped file rejected");
        Ok(Dropped::Rejected { path: target, reason: reason.to_string() })
    }

    fn event(&self, key: &str, size: u64, version_id: &str) -> S3Event {
        let mut object = aws_lambda_events::event::s3::S3Object::default();
        object.key = Some(s3_event_key(key));
        object.url_decoded_key = Some(key.to_string());
        object.size = Some(size as i64);
        object.version_id = Some(version_id.to_string());
        object.e_tag = Some(version_id.to_string());
        object.sequencer = Some(format!("{:016X}", self.clock.now().timestamp_micros()));
        let mut bucket = aws_lambda_events::event::s3::S3Bucket::default();
        bucket.name = Some(LOCAL_BUCKET.into());
        bucket.arn = Some(format!("arn:aws:s3:::{LOCAL_BUCKET}"));
        let mut entity = aws_lambda_events::event::s3::S3Entity::default();
        entity.schema_version = Some("1.0".into());
        entity.configuration_id = Some("drop-folder".into());
        entity.bucket = bucket;
        entity.object = object;
        let mut record = S3EventRecord::default();
        record.event_version = Some("2.1".into());
        record.event_source = Some("aws:s3".into());
        record.aws_region = Some("local".into());
        record.event_time = self.clock.now();
        record.event_name = Some("ObjectCreated:Put".into());
        record.s3 = entity;
        let mut event = S3Event::default();
        event.records = vec![record];
        event
    }

    /// Delivers queued events to `consumer`, oldest first; a failure is kept for the
    /// next call (at most `max_attempts` deliveries per event).
    pub async fn deliver(&self, consumer: &dyn ObjectConsumer, max_attempts: u32) -> AppResult<usize> {
        self.deliver_where(consumer, "attempts < ?1", max_attempts).await
    }

    /// Delivers again the events whose quick retries ran out (`attempts ≥ max_attempts`):
    /// called by the sweeper every minute, so a file whose claim was held by a crashed
    /// process is taken over once the claim's lease has ended. The consumer ends every
    /// file in a final state (done, needs review, failed with a reason); only retryable
    /// errors keep an event here.
    pub async fn redrive(&self, consumer: &dyn ObjectConsumer, max_attempts: u32) -> AppResult<usize> {
        self.deliver_where(consumer, "attempts >= ?1", max_attempts).await
    }

    async fn deliver_where(&self, consumer: &dyn ObjectConsumer, cond: &'static str, max_attempts: u32) -> AppResult<usize> {
        let max = i64::from(max_attempts);
        let queued: Vec<(i64, String)> = self
            .db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare(&format!("SELECT id, event FROM drop_events WHERE delivered_at IS NULL AND {cond} ORDER BY id LIMIT 100"))
                    .map_err(db_err)?;
                let rows = stmt.query_map([max], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
            })
            .await?;
        let mut delivered = 0;
        for (id, json) in queued {
            let event: S3Event = serde_json::from_str(&json).map_err(AppError::internal)?;
            let result = crate::stream::confined("ingest", consumer.handle(event)).await;
            let at = self.clock.now().to_rfc3339();
            let error = result.as_ref().err().map(ToString::to_string);
            if result.is_ok() {
                delivered += 1;
            }
            self.db
                .call(move |conn| {
                    match error {
                        None => conn.execute("UPDATE drop_events SET delivered_at = ?2, attempts = attempts + 1 WHERE id = ?1", params![id, at]),
                        Some(e) => conn.execute("UPDATE drop_events SET last_error = ?2, attempts = attempts + 1 WHERE id = ?1", params![id, e]),
                    }
                    .map_err(db_err)?;
                    Ok(())
                })
                .await?;
        }
        Ok(delivered)
    }

    /// Events not yet delivered (for status pages and tests).
    pub async fn queued(&self) -> AppResult<Vec<S3Event>> {
        self.db
            .call(|conn| {
                let mut stmt = conn.prepare("SELECT event FROM drop_events WHERE delivered_at IS NULL ORDER BY id").map_err(db_err)?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db_err)?;
                let mut out = Vec::new();
                for json in rows {
                    out.push(serde_json::from_str(&json.map_err(db_err)?).map_err(AppError::internal)?);
                }
                Ok(out)
            })
            .await
    }
}

/// Files in the drop folder, leaving out editors' and copy tools' temporary files.
fn list_files(root: &Path) -> AppResult<Vec<PathBuf>> {
    super::folder::walk_files(root, |_, name| name.starts_with('.') || name.starts_with('~'))
        .map_err(|e| AppError::internal(format!("read {}: {e}", root.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::FolderBlobStore;
    use crate::ports::ManualClock;

    #[test]
    fn keys_are_encoded_like_s3() {
        assert_eq!(s3_event_key("drop/22099131/b 1/電費.pdf"), "drop/22099131/b+1/%E9%9B%BB%E8%B2%BB.pdf");
    }

    /// Issue 13: a legal but long name (82 CJK characters + .png = 250 bytes) made every
    /// later scan fail, so no file of any company was taken. Now it is refused alone.
    #[tokio::test]
    async fn a_name_too_long_to_store_is_refused_and_the_others_are_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let drop = tmp.path().join("drop");
        let blobs: Arc<dyn BlobStore> = Arc::new(FolderBlobStore::new(tmp.path().join("blobs")));
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        let w = DropWatcher::new(drop.clone(), tmp.path().join("rejected"), blobs.clone(), SqliteDb::open_in_memory().unwrap(), clock);
        std::fs::create_dir_all(drop.join("22099131/b")).unwrap();
        let long = format!("{}.png", "電".repeat(82));
        assert_eq!(long.len(), 250);
        std::fs::write(drop.join("22099131/b").join(&long), b"\x89PNG").unwrap();
        std::fs::write(drop.join("22099131/b/ok.pdf"), b"%PDF-1.4 x").unwrap();
        assert!(w.scan().await.unwrap().is_empty());
        let done = w.scan().await.expect("the scan goes on");
        assert_eq!(done.len(), 2, "{done:?}");
        assert!(done.iter().any(|d| matches!(d, Dropped::Accepted { key, .. } if key == "drop/22099131/b/ok.pdf")));
        let reason = done.iter().find_map(|d| if let Dropped::Rejected { reason, .. } = d { Some(reason.clone()) } else { None }).unwrap();
        assert!(reason.contains("過長"), "{reason}");
        assert!(!drop.join("22099131/b").join(&long).exists(), "out of the drop folder");
        // Later files are still taken.
        std::fs::write(drop.join("22099131/b/later.pdf"), b"%PDF-1.4 y").unwrap();
        assert!(w.scan().await.unwrap().is_empty());
        assert_eq!(w.scan().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn takes_stable_files_and_queues_an_s3_event() {
        let tmp = tempfile::tempdir().unwrap();
        let drop = tmp.path().join("drop");
        let blobs: Arc<dyn BlobStore> = Arc::new(FolderBlobStore::new(tmp.path().join("blobs")));
        let db = SqliteDb::open_in_memory().unwrap();
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        let w = DropWatcher::new(drop.clone(), tmp.path().join("rejected"), blobs.clone(), db, clock);
        std::fs::create_dir_all(drop.join("22099131/batch-1")).unwrap();
        std::fs::write(drop.join("22099131/batch-1/bill 1.pdf"), b"%PDF-1.4 test").unwrap();
        std::fs::write(drop.join("loose.pdf"), b"x").unwrap();
        std::fs::create_dir_all(drop.join("22099132/b")).unwrap();
        std::fs::write(drop.join("22099132/b/x.png"), b"x").unwrap();
        // First pass only notes the files (they may still be growing).
        assert!(w.scan().await.unwrap().is_empty());
        let mut done = w.scan().await.unwrap();
        done.sort_by_key(|d| format!("{d:?}"));
        assert_eq!(done.len(), 3, "{done:?}");
        assert!(matches!(&done[0], Dropped::Accepted { key, .. } if key == "drop/22099131/batch-1/bill 1.pdf"));
        assert!(done.iter().filter(|d| matches!(d, Dropped::Rejected { .. })).count() == 2);
        let blob = blobs.get(&BlobKey::parse("drop/22099131/batch-1/bill 1.pdf").unwrap()).await.unwrap().unwrap();
        assert_eq!((blob.bytes.as_slice(), blob.content_type.as_str()), (&b"%PDF-1.4 test"[..], "application/pdf"));
        assert!(!drop.join("22099131/batch-1/bill 1.pdf").exists());
        let queued = w.queued().await.unwrap();
        assert_eq!(queued.len(), 1);
        let obj = &queued[0].records[0].s3.object;
        assert_eq!(obj.key.as_deref(), Some("drop/22099131/batch-1/bill+1.pdf"));
        assert_eq!(obj.size, Some(13));

        struct Failing(std::sync::atomic::AtomicU32);
        #[async_trait]
        impl ObjectConsumer for Failing {
            async fn handle(&self, _: S3Event) -> Result<(), AppError> {
                if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    Err(AppError::Unavailable("first try fails".into()))
                } else {
                    Ok(())
                }
            }
        }
        let c = Failing(Default::default());
        assert_eq!(w.deliver(&c, 3).await.unwrap(), 0);
        assert_eq!(w.deliver(&c, 3).await.unwrap(), 1);
        assert!(w.queued().await.unwrap().is_empty());
        assert_eq!(w.deliver(&c, 3).await.unwrap(), 0, "delivered once only");

        // Retries that run out (a claim held by a crashed process answers "in progress"
        // until its lease ends) are not the end: the sweeper's redrive delivers it later.
        std::fs::write(drop.join("22099131/batch-1/bill 2.pdf"), b"%PDF-1.4 two").unwrap();
        w.scan().await.unwrap();
        w.scan().await.unwrap();
        let busy = Failing(std::sync::atomic::AtomicU32::new(0));
        struct Busy;
        #[async_trait]
        impl ObjectConsumer for Busy {
            async fn handle(&self, _: S3Event) -> Result<(), AppError> {
                Err(AppError::Unavailable("claimed by another worker".into()))
            }
        }
        for _ in 0..3 {
            assert_eq!(w.deliver(&Busy, 3).await.unwrap(), 0);
        }
        assert_eq!(w.deliver(&Busy, 3).await.unwrap(), 0, "quick retries used up");
        assert_eq!(w.queued().await.unwrap().len(), 1, "still waiting, not lost");
        assert_eq!(w.redrive(&Busy, 3).await.unwrap(), 0);
        busy.0.store(1, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(w.redrive(&busy, 3).await.unwrap(), 1, "the lease ended: taken over");
        assert!(w.queued().await.unwrap().is_empty());
        assert_eq!(w.redrive(&busy, 3).await.unwrap(), 0, "once");
    }
}
