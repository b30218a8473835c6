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

/// The HTML part of an e-mail: a whole document around `body` (maud, escaping on by
/// default). Styles are inline attributes: mail clients drop stylesheets.
pub fn html_document(body: maud::Markup) -> String {
    maud::html! {
        (maud::DOCTYPE)
        html lang="zh-Hant-TW" {
            head { meta charset="utf-8"; }
            body { (body) }
        }
    }
    .into_string()
}

/// A link styled as a button (e-mail clients need the inline style).
pub fn button(href: &str, label: &str, color: &str) -> maud::Markup {
    let style = format!(
        "display:inline-block;background:{color};color:#fff;padding:10px 24px;border-radius:4px;text-decoration:none;margin-right:12px"
    );
    maud::html! { a href=(href) style=(style) { (label) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_html_part_is_a_document_with_escaped_values() {
        let doc = html_document(button("https://x/?a=1&b=\"2\"", "<核准>", "#1f7a4d"));
        assert!(doc.starts_with("<!DOCTYPE html><html lang=\"zh-Hant-TW\">"), "{doc}");
        assert!(doc.contains("href=\"https://x/?a=1&amp;b=&quot;2&quot;\""), "{doc}");
        assert!(doc.contains(">&lt;核准&gt;</a>"), "{doc}");
        assert!(doc.contains("background:#1f7a4d;"), "{doc}");
    }
}
