//! Review links: a reviewer approves or rejects from an e-mail. The link carries a
//! token signed with HMAC-SHA256 that binds the application, the action, the reviewer
//! and the application's state version, and expires.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{ApplicationId, EmailAddress};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    Approve,
    Reject,
}

impl ReviewAction {
    pub fn code(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Approve => "核准",
            Self::Reject => "退件",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        match s {
            "approve" => Some(Self::Approve),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }
}

/// What a review link grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewClaims {
    #[serde(rename = "a")]
    pub application_id: ApplicationId,
    #[serde(rename = "d")]
    pub action: ReviewAction,
    #[serde(rename = "r")]
    pub reviewer: EmailAddress,
    /// The application's state version the link was made for.
    #[serde(rename = "v")]
    pub version: u32,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("審核連結無效或已被修改")]
    Invalid,
    #[error("審核連結已過期，請於系統寄出的最新通知信中操作")]
    Expired,
}

/// Signs and verifies review tokens with one current key; older keys still verify
/// (rotation without breaking links already sent).
#[derive(Clone)]
pub struct ReviewSigner {
    keys: Vec<Vec<u8>>,
}

const CONTEXT: &[u8] = b"ecosphere.review.v1.";

impl ReviewSigner {
    /// `keys[0]` signs; every key verifies. Keys shorter than 32 bytes are refused.
    pub fn new(keys: Vec<Vec<u8>>) -> Result<Self, String> {
        if keys.is_empty() || keys.iter().any(|k| k.len() < 32) {
            return Err("review link keys must be at least 32 bytes".into());
        }
        Ok(Self { keys })
    }

    fn mac(key: &[u8], payload: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
        mac.update(CONTEXT);
        mac.update(payload.as_bytes());
        mac
    }

    pub fn sign(&self, claims: &ReviewClaims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("serialisable"));
        let tag = Self::mac(&self.keys[0], &payload).finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Checks the signature first (a tampered token is `Invalid` even when expired),
    /// then the expiry.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<ReviewClaims, TokenError> {
        if token.len() > 2048 {
            return Err(TokenError::Invalid);
        }
        let (payload, tag) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Invalid)?;
        if !self.keys.iter().any(|k| Self::mac(k, payload).verify_slice(&tag).is_ok()) {
            return Err(TokenError::Invalid);
        }
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Invalid)?;
        let claims: ReviewClaims = serde_json::from_slice(&json).map_err(|_| TokenError::Invalid)?;
        if now.timestamp() >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Checks a rejection reason: required, at most 1000 characters; line breaks allowed
/// (it is shown in bodies, never in headers), other control and bidi characters not.
pub fn parse_reason(action: ReviewAction, reason: Option<&str>) -> Result<Option<String>, String> {
    let r = reason.unwrap_or_default().trim().replace("\r\n", "\n");
    if let Some(problem) = super::text::text_problem(&r, true) {
        return Err(format!("退件原因{problem}"));
    }
    if r.chars().count() > 1000 {
        return Err("退件原因最多 1000 個字".into());
    }
    match action {
        ReviewAction::Reject if r.is_empty() => Err("退件時請填寫退件原因，申請人會在通知信中看到".into()),
        _ if r.is_empty() => Ok(None),
        _ => Ok(Some(r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> ReviewClaims {
        ReviewClaims {
            application_id: ApplicationId::new(),
            action: ReviewAction::Approve,
            reviewer: EmailAddress::parse("rev@iii.org.tw").unwrap(),
            version: 1,
            expires_at: 2_000_000_000,
        }
    }

    fn signer(k: u8) -> ReviewSigner {
        ReviewSigner::new(vec![vec![k; 32]]).unwrap()
    }

    #[test]
    fn round_trip_and_expiry() {
        let c = claims();
        let t = signer(1).sign(&c);
        let before = DateTime::from_timestamp(1_999_999_999, 0).unwrap();
        let at = DateTime::from_timestamp(2_000_000_000, 0).unwrap();
        assert_eq!(signer(1).verify(&t, before), Ok(c));
        assert_eq!(signer(1).verify(&t, at), Err(TokenError::Expired));
    }

    #[test]
    fn any_changed_byte_is_invalid() {
        let t = signer(1).sign(&claims());
        let now = DateTime::from_timestamp(0, 0).unwrap();
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let Ok(s) = String::from_utf8(b) else { continue };
            if s != t {
                assert_eq!(signer(1).verify(&s, now), Err(TokenError::Invalid), "byte {i}");
            }
        }
        assert_eq!(signer(2).verify(&t, now), Err(TokenError::Invalid), "other key");
        assert_eq!(signer(1).verify("", now), Err(TokenError::Invalid));
        assert_eq!(signer(1).verify("a.b.c", now), Err(TokenError::Invalid));
    }

    #[test]
    fn rotated_keys_still_verify_old_links() {
        let old = signer(1).sign(&claims());
        let rotated = ReviewSigner::new(vec![vec![2; 32], vec![1; 32]]).unwrap();
        assert!(rotated.verify(&old, DateTime::from_timestamp(0, 0).unwrap()).is_ok());
        assert!(ReviewSigner::new(vec![vec![1; 8]]).is_err());
    }

    #[test]
    fn reasons() {
        assert!(parse_reason(ReviewAction::Reject, Some("  ")).is_err());
        assert_eq!(parse_reason(ReviewAction::Reject, Some("資料不完整\r\n請補件")).unwrap().as_deref(), Some("資料不完整\n請補件"));
        assert!(parse_reason(ReviewAction::Reject, Some(&"x".repeat(1001))).is_err());
        assert!(parse_reason(ReviewAction::Reject, Some("a\u{202E}b")).is_err());
        assert_eq!(parse_reason(ReviewAction::Approve, None), Ok(None));
    }
}
