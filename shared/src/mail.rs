//! Building e-mail messages (RFC 5322, MIME multipart/alternative, UTF-8). The same
//! bytes go to the local outbox and to SESv2 as raw content.

use mail_builder::headers::address::Address;
use mail_builder::MessageBuilder;

use crate::domain::EmailAddress;
use crate::error::{AppError, AppResult};
use crate::ports::Email;

/// Display name of the sender in every e-mail.
pub const SENDER_NAME: &str = "EcoSphere";

/// Renders `email` as MIME bytes with a fresh Message-ID. Header values come only from
/// validated types (addresses) or are encoded by the builder (subject), so user input
/// cannot add headers; CR/LF in a subject is replaced as a second guard.
pub fn render(email: &Email, from: &EmailAddress, message_id: &str, date: chrono::DateTime<chrono::Utc>) -> AppResult<Vec<u8>> {
    if email.to.is_empty() {
        return Err(AppError::internal("e-mail without recipients"));
    }
    let subject: String = email
        .subject
        .chars()
        .filter(|c| !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let to: Vec<Address<'_>> = email.to.iter().map(|a| Address::new_address(None::<&str>, a.as_str())).collect();
    let msg = MessageBuilder::new()
        .from(Address::new_address(Some(SENDER_NAME), from.as_str()))
        .to(Address::new_list(to))
        .subject(subject)
        .message_id(message_id)
        .date(date.timestamp())
        .text_body(email.text.as_str())
        .html_body(email.html.as_str());
    msg.write_to_vec().map_err(|e| AppError::internal(format!("build e-mail: {e}")))
}
