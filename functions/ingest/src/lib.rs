//! Function `ingest`: S3 `ObjectCreated` events for `drop/{tax_id}/{batch_id}/{file}` →
//! the ingest service (type by bytes, read into text, parse, store). Each record is
//! handled on its own: one file's failure never stops the others. A record that may
//! work on retry fails the invocation after the others are done, so S3's asynchronous
//! retry (or the local drop queue) redelivers it; the (key, version) claim makes the
//! redelivery do nothing for the files already done. A schedule (`{"task": "sweep"}`)
//! reads again the files whose reader died holding the claim.

use std::sync::Arc;

use async_trait::async_trait;
use ecosphere::adapters::drop::{ObjectConsumer, S3Event};
use ecosphere::services::ingest::DroppedObject;
use ecosphere::{App, AppError};

/// Decodes an S3 event key (`+` is a space, `%XX` escapes), as S3 notifications encode it.
pub fn decode_s3_key(key: &str) -> Option<String> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The function's entry point: an S3 event, or the sweeper's schedule
/// (`{"task": "sweep"}`: files whose reader stopped holding a claim are read again).
pub async fn handle_event(app: &Arc<App>, payload: serde_json::Value) -> Result<serde_json::Value, AppError> {
    if payload.get("Records").is_some() {
        let event: S3Event = serde_json::from_value(payload).map_err(|e| AppError::BadRequest(format!("not an S3 event: {e}")))?;
        IngestConsumer::new(app.clone()).handle(event).await?;
        return Ok(serde_json::json!({}));
    }
    match payload.get("task").and_then(|t| t.as_str()) {
        Some("sweep") => serde_json::to_value(app.ingest.sweep().await?).map_err(AppError::internal),
        _ => Err(AppError::BadRequest("unknown event: expected S3 records or {\"task\": \"sweep\"}".into())),
    }
}

pub struct IngestConsumer {
    app: Arc<App>,
}

impl IngestConsumer {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl ObjectConsumer for IngestConsumer {
    async fn handle(&self, event: S3Event) -> Result<(), AppError> {
        let mut retry = Vec::new();
        for record in &event.records {
            if !record.event_name.as_deref().unwrap_or_default().starts_with("ObjectCreated") {
                continue;
            }
            let obj = &record.s3.object;
            let key = match obj.url_decoded_key.clone().or_else(|| obj.key.as_deref().and_then(decode_s3_key)) {
                Some(k) => k,
                None => {
                    tracing::warn!("S3 record without a decodable key ignored");
                    continue;
                }
            };
            let version = obj.version_id.clone().filter(|v| !v.is_empty()).or_else(|| obj.e_tag.clone()).unwrap_or_else(|| "null".into());
            let dropped = DroppedObject { key, version, size: obj.size.unwrap_or(0).max(0) as u64 };
            match self.app.ingest.handle_object(&dropped).await {
                Ok(_) => {}
                Err(e @ AppError::Unavailable(_)) => {
                    tracing::warn!(error = %e, "file will be retried");
                    retry.push(e.to_string());
                }
                Err(e) => {
                    tracing::error!(error = %e, "file failed");
                    retry.push(e.to_string());
                }
            }
        }
        if retry.is_empty() {
            Ok(())
        } else {
            Err(AppError::Unavailable(format!("{} file(s) to retry", retry.len())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decode_s3_key;

    #[test]
    fn s3_keys_are_decoded() {
        assert_eq!(decode_s3_key("drop/22099131/b1/%E9%9B%BB%E8%B2%BB+1.pdf").as_deref(), Some("drop/22099131/b1/電費 1.pdf"));
        assert_eq!(decode_s3_key("a%2"), None);
        assert_eq!(decode_s3_key("a%ZZ"), None);
    }
}
