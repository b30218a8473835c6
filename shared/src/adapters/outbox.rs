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

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, email: &Email) -> AppResult<SentEmail> {
        let now = self.clock.now();
        let id = uuid::Uuid::now_v7();
        let domain = self.from.domain().to_string();
        let message_id = format!("{id}@{domain}");
        let bytes = crate::mail::render(email, &self.from, &message_id, now)?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| AppError::internal(format!("create outbox {}: {e}", self.dir.display())))?;
        let name = format!("{}-{}.eml", now.format("%Y%m%dT%H%M%S%.3fZ"), id.simple());
        // Not `.eml` until renamed: whoever lists the outbox never sees half a message.
        let tmp = self.dir.join(format!(".{name}.part"));
        tokio::fs::write(&tmp, &bytes).await.map_err(|e| AppError::internal(format!("write outbox: {e}")))?;
        tokio::fs::rename(&tmp, self.dir.join(&name)).await.map_err(|e| AppError::internal(format!("write outbox: {e}")))?;
        tracing::info!(message_id = %message_id, recipients = email.to.len(), "e-mail written to the outbox");
        Ok(SentEmail { message_id })
    }
}
