//! Blobs in S3.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::aws::sdk_err;
use crate::error::{AppError, AppResult};
use crate::ports::{Blob, BlobKey, BlobStore};

#[derive(Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// Path-style addressing when an endpoint is given (the emulator has no per-bucket DNS).
    pub fn from_sdk(sdk: &aws_config::SdkConfig, bucket: impl Into<String>, path_style: bool) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style).build();
        Self::new(Client::from_conf(conf), bucket)
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, content_type: &str) -> AppResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| sdk_err("PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &BlobKey) -> AppResult<Option<Blob>> {
        let out = match self.client.get_object().bucket(&self.bucket).key(key.as_str()).send().await {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(sdk_err("GetObject", e)),
        };
        let content_type = out.content_type.clone().unwrap_or_else(|| "application/octet-stream".into());
        let bytes = out.body.collect().await.map_err(|e| AppError::Unavailable(format!("GetObject body: {e}")))?;
        Ok(Some(Blob { bytes: bytes.into_bytes().to_vec(), content_type }))
    }

    async fn list(&self, prefix: &str) -> AppResult<Vec<BlobKey>> {
        let mut out = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ListObjectsV2", e))?;
            out.extend(page.contents().iter().filter_map(|o| o.key()).filter_map(BlobKey::parse));
        }
        out.sort();
        Ok(out)
    }

    async fn delete(&self, key: &BlobKey) -> AppResult<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| sdk_err("DeleteObject", e))?;
        Ok(())
    }
}
