//! Blobs in a folder (the local stand-in for S3). Writes go to a temporary file first
//! and are renamed into place, so a reader never sees half a file.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::error::{AppError, AppResult};
use crate::ports::{Blob, BlobKey, BlobStore};

const META_DIR: &str = ".meta";

#[derive(Clone)]
pub struct FolderBlobStore {
    root: PathBuf,
}

impl FolderBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    fn meta_path(&self, key: &BlobKey) -> PathBuf {
        self.root.join(META_DIR).join(format!("{}.content-type", key.as_str()))
    }
}

fn io(op: &str, path: &Path, e: std::io::Error) -> AppError {
    AppError::internal(format!("{op} {}: {e}", path.display()))
}

async fn write_atomic(path: &Path, bytes: &[u8]) -> AppResult<()> {
    let dir = path.parent().expect("blob paths have a parent");
    tokio::fs::create_dir_all(dir).await.map_err(|e| io("create", dir, e))?;
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
    tokio::fs::write(&tmp, bytes).await.map_err(|e| io("write", &tmp, e))?;
    tokio::fs::rename(&tmp, path).await.map_err(|e| io("rename", path, e))
}

/// Every regular file below `root`, sorted; `skip(dir, name)` leaves out entries
/// (files or whole folders). A missing `root` is an empty list.
pub(crate) fn walk_files(root: &Path, skip: impl Fn(&Path, &str) -> bool) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            if skip(&dir, &entry.file_name().to_string_lossy()) {
                continue;
            }
            match entry.file_type()? {
                t if t.is_dir() => stack.push(entry.path()),
                t if t.is_file() => out.push(entry.path()),
                _ => {}
            }
        }
    }
    out.sort();
    Ok(out)
}

#[async_trait]
impl BlobStore for FolderBlobStore {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, content_type: &str) -> AppResult<()> {
        write_atomic(&self.meta_path(key), content_type.as_bytes()).await?;
        write_atomic(&self.path(key), &bytes).await
    }

    async fn get(&self, key: &BlobKey) -> AppResult<Option<Blob>> {
        let path = self.path(key);
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read", &path, e)),
        };
        let content_type = tokio::fs::read_to_string(self.meta_path(key))
            .await
            .unwrap_or_else(|_| "application/octet-stream".into());
        Ok(Some(Blob { bytes, content_type }))
    }

    async fn list(&self, prefix: &str) -> AppResult<Vec<BlobKey>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            let files = walk_files(&root, |dir, name| name.starts_with(".tmp-") || (dir == root.as_path() && name == META_DIR))
                .map_err(|e| AppError::internal(format!("list {}: {e}", root.display())))?;
            let mut out: Vec<BlobKey> = files
                .iter()
                .filter_map(|path| path.strip_prefix(&root).ok())
                .map(|rel| rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/"))
                .filter(|key| key.starts_with(&prefix))
                .filter_map(|key| BlobKey::parse(&key))
                .collect();
            out.sort();
            Ok(out)
        })
        .await
        .map_err(AppError::internal)?
    }

    async fn delete(&self, key: &BlobKey) -> AppResult<()> {
        for path in [self.path(key), self.meta_path(key)] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("delete", &path, e)),
            }
        }
        Ok(())
    }
}
