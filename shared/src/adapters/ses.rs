//! E-mail through SESv2 `SendEmail` with raw MIME content (the same bytes as the local
//! outbox) and the configured configuration set.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sesv2::primitives::Blob as SesBlob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_sdk_sesv2::Client;

use super::aws::sdk_err;
use crate::domain::EmailAddress;
use crate::error::{AppError, AppResult};
use crate::ports::{Clock, Email, Mailer, SentEmail};

#[derive(Clone)]
pub struct SesMailer {
    client: Client,
    from: EmailAddress,
    configuration_set: Option<String>,
    clock: Arc<dyn Clock>,
}

impl SesMailer {
    pub fn new(client: Client, from: EmailAddress, configuration_set: Option<String>, clock: Arc<dyn Clock>) -> Self {
        Self { client, from, configuration_set, clock }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, from: EmailAddress, configuration_set: Option<String>, clock: Arc<dyn Clock>) -> Self {
        Self::new(Client::new(sdk), from, configuration_set, clock)
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> AppResult<SentEmail> {
        let local_id = format!("{}@{}", uuid::Uuid::now_v7(), self.from.domain());
        let bytes = crate::mail::render(email, &self.from, &local_id, self.clock.now())?;
        let raw = RawMessage::builder().data(SesBlob::new(bytes)).build().map_err(AppError::internal)?;
        let destination = Destination::builder()
            .set_to_addresses(Some(email.to.iter().map(|a| a.as_str().to_string()).collect()))
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(self.from.as_str())
            .destination(destination)
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| sdk_err("SendEmail", e))?;
        let message_id = out.message_id.unwrap_or(local_id);
        tracing::info!(message_id = %message_id, recipients = email.to.len(), "e-mail sent with SES");
        Ok(SentEmail { message_id })
    }
}
