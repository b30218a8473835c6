//! Signing keys of carbon statements and their detached JWS signatures (RFC 7515
//! appendix F): `BASE64URL(header) + ".." + BASE64URL(signature)`, the signature being
//! Ed25519 (`alg: EdDSA`, RFC 8037) over `BASE64URL(header) + "." + BASE64URL(JCS(statement))`.
//!
//! Keys have ids and may carry a last day of use (`exp` in the published JWK, seconds):
//! a statement issued after its key's `exp` is refused; a key removed from the JWKS
//! (retired) verifies nothing. Several keys are published at once for rotation; the first
//! key that is still valid signs.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::{json, Value};

use crate::error::{AppError, AppResult};

/// `typ` of the protected header.
pub const JWS_TYP: &str = "ecosphere-carbon-statement+jws";

#[derive(Clone)]
pub struct StatementKey {
    pub kid: String,
    seed: [u8; 32],
    /// Last instant the key may sign (end of the given day, UTC).
    pub not_after: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for StatementKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatementKey").field("kid", &self.kid).field("not_after", &self.not_after).finish_non_exhaustive()
    }
}

impl StatementKey {
    pub fn new(kid: impl Into<String>, seed: [u8; 32], not_after: Option<DateTime<Utc>>) -> Self {
        Self { kid: kid.into(), seed, not_after }
    }

    /// `kid:64-hex-seed` or `kid:64-hex-seed:YYYY-MM-DD` (last day the key signs).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || "a statement key is `kid:64-hex-digits[:YYYY-MM-DD]`".to_string();
        let mut parts = s.trim().split(':');
        let kid = parts.next().filter(|k| !k.is_empty() && k.len() <= 64).ok_or_else(bad)?;
        let hex = parts.next().filter(|h| h.len() == 64).ok_or_else(bad)?;
        let not_after = match parts.next() {
            Some(d) => Some(
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| bad())?
                    .and_hms_opt(23, 59, 59)
                    .ok_or_else(bad)?
                    .and_utc(),
            ),
            None => None,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self::new(kid, seed_from_hex(hex).ok_or_else(bad)?, not_after))
    }

    pub fn encode(&self) -> String {
        let hex = crate::statement::hex(&self.seed);
        match self.not_after {
            Some(d) => format!("{}:{hex}:{}", self.kid, d.format("%Y-%m-%d")),
            None => format!("{}:{hex}", self.kid),
        }
    }

    pub fn generate() -> AppResult<Self> {
        Ok(Self::new(new_kid("st"), new_seed()?, None))
    }

    fn public(&self) -> [u8; 32] {
        public_key(&self.seed)
    }

    /// The public JWK (RFC 8037).
    pub fn jwk(&self) -> Value {
        let mut k = json!({
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
            "kid": self.kid, "x": URL_SAFE_NO_PAD.encode(self.public()),
        });
        if let Some(d) = self.not_after {
            k["exp"] = json!(d.timestamp());
        }
        k
    }

    pub fn can_sign_at(&self, at: DateTime<Utc>) -> bool {
        self.not_after.is_none_or(|d| at <= d)
    }
}

/// The 32-byte Ed25519 seed written as 64 hex digits (SSO and statement keys alike).
pub fn seed_from_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(seed)
}

pub fn new_seed() -> AppResult<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(AppError::internal)?;
    Ok(seed)
}

/// A fresh key id with a prefix, e.g. `st1a2b3c4d5e6f`.
pub fn new_kid(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

pub fn public_key(seed: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(seed).verifying_key().to_bytes()
}

/// The published key set.
pub fn jwks(keys: &[StatementKey]) -> Value {
    json!({ "keys": keys.iter().map(StatementKey::jwk).collect::<Vec<_>>() })
}

/// A detached JWS over `payload` (the canonical statement bytes).
pub fn sign_detached(key: &StatementKey, payload: &[u8]) -> String {
    let header = json!({"alg": "EdDSA", "kid": key.kid, "typ": JWS_TYP});
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serializes"));
    let input = format!("{h}.{}", URL_SAFE_NO_PAD.encode(payload));
    let sig = SigningKey::from_bytes(&key.seed).sign(input.as_bytes());
    format!("{h}..{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// Why a signature is refused (each a zh-TW sentence for people, stable codes for scripts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("簽章格式不正確（應為分離式 JWS）")]
    Malformed,
    #[error("簽章演算法不是 EdDSA，拒絕驗證")]
    Algorithm,
    #[error("簽章金鑰 {0} 不在公開金鑰清單中（未知或已停用的金鑰）")]
    UnknownKey(String),
    #[error("簽章金鑰 {kid} 已於 {until} 到期，此憑證於到期後才簽發")]
    KeyExpired { kid: String, until: String },
    #[error("簽章不符：憑證內容在簽發後被更改，或並非由此金鑰簽發")]
    Mismatch,
}

/// Verifies a detached JWS over `payload` against a JWKS document; `issued_at` is checked
/// against the key's `exp`. Returns the key id.
pub fn verify_detached(jwks: &Value, jws: &str, payload: &[u8], issued_at: DateTime<Utc>) -> Result<String, SignatureError> {
    let (h, rest) = jws.split_once('.').ok_or(SignatureError::Malformed)?;
    let sig_b64 = rest.strip_prefix('.').ok_or(SignatureError::Malformed)?;
    let header: Value = URL_SAFE_NO_PAD.decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(SignatureError::Malformed)?;
    if header["alg"] != "EdDSA" {
        return Err(SignatureError::Algorithm);
    }
    let kid = header["kid"].as_str().ok_or(SignatureError::Malformed)?.to_string();
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str() && k["kty"] == "OKP" && k["crv"] == "Ed25519"))
        .ok_or_else(|| SignatureError::UnknownKey(kid.clone()))?;
    if let Some(exp) = jwk["exp"].as_i64() {
        if issued_at.timestamp() > exp {
            let until = DateTime::from_timestamp(exp, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
            return Err(SignatureError::KeyExpired { kid, until });
        }
    }
    let x: [u8; 32] = jwk["x"]
        .as_str()
        .and_then(|x| URL_SAFE_NO_PAD.decode(x).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| SignatureError::UnknownKey(kid.clone()))?;
    let key = VerifyingKey::from_bytes(&x).map_err(|_| SignatureError::UnknownKey(kid.clone()))?;
    let sig: [u8; 64] = URL_SAFE_NO_PAD.decode(sig_b64).ok().and_then(|b| b.try_into().ok()).ok_or(SignatureError::Malformed)?;
    let input = format!("{h}.{}", URL_SAFE_NO_PAD.encode(payload));
    key.verify_strict(input.as_bytes(), &Signature::from_bytes(&sig)).map_err(|_| SignatureError::Mismatch)?;
    Ok(kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, byte: u8) -> StatementKey {
        StatementKey::new(kid, [byte; 32], None)
    }

    #[test]
    fn round_trip_rotation_tamper_and_expiry() {
        let now = Utc::now();
        let (a, b) = (key("a", 1), key("b", 2));
        let set = jwks(&[a.clone(), b.clone()]);
        let jws = sign_detached(&b, b"{\"x\":1}");
        assert!(jws.contains(".."));
        assert_eq!(verify_detached(&set, &jws, b"{\"x\":1}", now).unwrap(), "b");
        assert_eq!(verify_detached(&set, &jws, b"{\"x\":2}", now), Err(SignatureError::Mismatch));
        // Retired: b is no longer published.
        assert_eq!(verify_detached(&jwks(&[a.clone()]), &jws, b"{\"x\":1}", now), Err(SignatureError::UnknownKey("b".into())));
        // A foreign key with the same id.
        assert_eq!(verify_detached(&jwks(&[key("b", 9)]), &jws, b"{\"x\":1}", now), Err(SignatureError::Mismatch));
        // Expired before the statement was issued.
        let old = StatementKey::parse(&format!("b:{}:2020-01-31", "02".repeat(32))).unwrap();
        assert!(matches!(verify_detached(&jwks(&[old.clone()]), &jws, b"{\"x\":1}", now), Err(SignatureError::KeyExpired { .. })));
        let before = NaiveDate::from_ymd_opt(2020, 1, 31).unwrap().and_hms_opt(12, 0, 0).unwrap().and_utc();
        assert!(verify_detached(&jwks(&[old.clone()]), &jws, b"{\"x\":1}", before).is_ok());
        assert!(!old.can_sign_at(now) && old.can_sign_at(before));
        // Not EdDSA, not a JWS.
        let hs = format!("{}..{}", URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"b"}"#), jws.split("..").nth(1).unwrap());
        assert_eq!(verify_detached(&set, &hs, b"{\"x\":1}", now), Err(SignatureError::Algorithm));
        assert_eq!(verify_detached(&set, "nonsense", b"", now), Err(SignatureError::Malformed));
    }

    #[test]
    fn keys_parse_and_encode() {
        let k = StatementKey::parse(&format!("k1:{}", "ab".repeat(32))).unwrap();
        assert_eq!(StatementKey::parse(&k.encode()).unwrap().encode(), k.encode());
        assert!(StatementKey::parse("k1:abcd").is_err());
        assert!(StatementKey::parse(&format!("k1:{}:31-01-2020", "ab".repeat(32))).is_err());
        assert!(!format!("{k:?}").contains("abab"), "Debug never prints the seed");
        assert_eq!(k.jwk()["kty"], "OKP");
    }
}
