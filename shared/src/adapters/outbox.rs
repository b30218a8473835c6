//! E-mail into a folder: one RFC 5322 `.eml` file per message (the local stand-in for SES).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::EmailAddress;
use crate::error::{AppError, AppResult};
use crate::ports::{Clock, Email, Mailer, SentEmail};

#[derive(Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: EmailAddress,
    clock: Arc<dyn Clock>,
}

impl OutboxMailer {
    pub fn new(dir: impl Into<PathBuf>, from: EmailAddress, clock: Arc<dyn Clock>) -> Self {
        Self { dir: dir.into(), from, clock }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl OutboxMailer {
    /// Writes one message named `{time}-{uuid v7}[-{tag}].eml`: names sort in the order
    /// the messages were written (v7 is monotonic within the process).
    async fn write(&self, email: &Email, tag: Option<&str>, message_id: &str) -> AppResult<SentEmail> {
        let now = self.clock.now();
        let bytes = crate::mail::render(email, &self.from, message_id, now)?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| AppError::internal(format!("create outbox {}: {e}", self.dir.display())))?;
        let order = uuid::Uuid::now_v7().simple().to_string();
        let name = match tag {
            Some(tag) => format!("{}-{order}-{tag}.eml", now.format("%Y%m%dT%H%M%S%.3fZ")),
            None => format!("{}-{order}.eml", now.format("%Y%m%dT%H%M%S%.3fZ")),
        };
        // Not `.eml` until renamed: whoever lists the outbox never sees half a message.
        let tmp = self.dir.join(format!(".{name}.part"));
        tokio::fs::write(&tmp, &bytes).await.map_err(|e| AppError::internal(format!("write outbox: {e}")))?;
        tokio::fs::rename(&tmp, self.dir.join(&name)).await.map_err(|e| AppError::internal(format!("write outbox: {e}")))?;
        tracing::info!(message_id = %message_id, recipients = email.to.len(), "e-mail written to the outbox");
        Ok(SentEmail { message_id: message_id.to_string() })
    }

    /// The outbox file whose name ends with `-{tag}.eml`, if any.
    async fn find(&self, tag: &str) -> AppResult<Option<String>> {
        let suffix = format!("-{tag}.eml");
        let mut dir = match tokio::fs::read_dir(&self.dir).await {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(AppError::internal(format!("read outbox: {e}"))),
        };
        while let Some(entry) = dir.next_entry().await.map_err(|e| AppError::internal(format!("read outbox: {e}")))? {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(&suffix) {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, email: &Email) -> AppResult<SentEmail> {
        let id = uuid::Uuid::now_v7();
        self.write(email, None, &format!("{id}@{}", self.from.domain())).await
    }

    /// Exactly once per key: the file name carries a digest of the key, so a send that
    /// was made but not recorded (a crash between the two) is found instead of repeated.
    async fn send_once(&self, key: &str, email: &Email) -> AppResult<SentEmail> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(key.as_bytes());
        let tag: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let message_id = format!("{tag}@{}", self.from.domain());
        if self.find(&tag).await?.is_some() {
            tracing::info!(message_id = %message_id, "e-mail already in the outbox");
            return Ok(SentEmail { message_id });
        }
        self.write(email, Some(&tag), &message_id).await
    }
}
