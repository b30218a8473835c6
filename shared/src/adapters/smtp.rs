//! E-mail through an SMTP server (`APP_SMTP_URL`), for an office running the one-machine
//! system for real. The message is the same MIME bytes as the outbox and SES get
//! (`crate::mail::render`), sent raw with an envelope of the sender and the recipients.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::domain::EmailAddress;
use crate::error::{AppError, AppResult};
use crate::ports::{Clock, Email, Mailer, SentEmail};

/// How long one SMTP command may take before the send fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: EmailAddress,
    clock: Arc<dyn Clock>,
}

impl SmtpMailer {
    /// A mailer for lettre's connection URL: `smtps://user:pass@host:465` (TLS from the
    /// start), `smtp://user:pass@host:587?tls=required` (STARTTLS), or `smtp://host:25`
    /// (plain, for a relay on the same machine). Nothing is connected until a send.
    pub fn from_url(url: &str, from: EmailAddress, clock: Arc<dyn Clock>) -> AppResult<Self> {
        // The error never repeats the URL: it may hold a password.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| AppError::internal(format!("APP_SMTP_URL: {e}")))?
            .timeout(Some(COMMAND_TIMEOUT))
            .build();
        Ok(Self { transport, from, clock })
    }
}

fn address(a: &EmailAddress) -> AppResult<lettre::Address> {
    a.as_str().parse().map_err(|e| AppError::internal(format!("SMTP address: {e}")))
}

/// A refused or failed send: transient replies (4xx), timeouts and lost connections may
/// work on retry; a permanent refusal (5xx) or a TLS failure is not retried blindly.
fn smtp_err(e: lettre::transport::smtp::Error) -> AppError {
    if e.is_permanent() || e.is_tls() {
        AppError::Internal(format!("SMTP: {e}"))
    } else {
        AppError::Unavailable(format!("SMTP: {e}"))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> AppResult<SentEmail> {
        let message_id = format!("{}@{}", uuid::Uuid::now_v7(), self.from.domain());
        let bytes = crate::mail::render(email, &self.from, &message_id, self.clock.now())?;
        let to = email.to.iter().map(address).collect::<AppResult<Vec<_>>>()?;
        let envelope = Envelope::new(Some(address(&self.from)?), to).map_err(AppError::internal)?;
        let reply = self.transport.send_raw(&envelope, &bytes).await.map_err(smtp_err)?;
        tracing::info!(message_id = %message_id, recipients = email.to.len(), code = %reply.code(), "e-mail sent with SMTP");
        Ok(SentEmail { message_id })
    }
}
