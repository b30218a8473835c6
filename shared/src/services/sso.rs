//! Single sign-on from the portal into the carbon platform: a short-lived JWT signed
//! with Ed25519 (EdDSA), handed over by an auto-submitting POST form, verified by the
//! carbon platform with the algorithm pinned, `iss`/`aud`/`exp`/`nbf` checked and the
//! `jti` used once. Public keys are published as a JWKS; several keys may be
//! published at once for rotation (the first signs).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Months, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::{ApplicationStatus, Member, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::{ApplicationStore, Clock, TokenStore};
use crate::statement::sign::{new_kid, new_seed, public_key, seed_from_hex};

pub const ISSUER_PATH: &str = "/portal";
pub const AUDIENCE: &str = "ecosphere-carbon-platform";
pub const TOKEN_SECONDS: i64 = 60;
pub const TRIAL_MONTHS: u32 = 6;
/// The carbon platform's session cookie, and the token kind its sessions are stored under
/// (shared: the portal's logout ends the carbon session too).
pub const CARBON_COOKIE: &str = "ecosphere_carbon";
pub const CARBON_SESSION_KIND: &str = "carbon-session";

/// Ends the carbon session whose cookie value is `sid` (carbon logout, portal logout,
/// revoked member).
pub async fn end_carbon_session(tokens: &dyn TokenStore, sid: &str, now: DateTime<Utc>) -> AppResult<()> {
    tokens.take(CARBON_SESSION_KIND, &crate::services::portal::secret_key(sid), now).await?;
    Ok(())
}

/// One signing key: its id and 32-byte Ed25519 seed.
#[derive(Clone)]
pub struct SsoKey {
    pub kid: String,
    seed: [u8; 32],
}

impl SsoKey {
    pub fn new(kid: impl Into<String>, seed: [u8; 32]) -> Self {
        Self { kid: kid.into(), seed }
    }

    /// `kid:hex-seed`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (kid, hex) = s.split_once(':').ok_or("an SSO key is `kid:64-hex-digits`")?;
        if kid.is_empty() || hex.len() != 64 {
            return Err("an SSO key is `kid:64-hex-digits`".into());
        }
        Ok(Self::new(kid, seed_from_hex(hex).ok_or("SSO key seed must be hex")?))
    }

    pub fn encode(&self) -> String {
        format!("{}:{}", self.kid, crate::statement::hex(&self.seed))
    }

    pub fn generate() -> AppResult<Self> {
        Ok(Self::new(new_kid("k"), new_seed()?))
    }

    fn public(&self) -> [u8; 32] {
        public_key(&self.seed)
    }

    fn encoding_key(&self) -> EncodingKey {
        // PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410).
        let mut der = vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
        der.extend_from_slice(&self.seed);
        EncodingKey::from_ed_der(&der)
    }
}

/// The claims of a hand-off token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoClaims {
    pub iss: String,
    pub aud: String,
    /// The member id.
    pub sub: String,
    pub tax_id: TaxId,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// Why the button does not hand over (each shown to the member as a notice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Pending { application_id: String },
    Rejected { application_id: String },
    TrialExpired { ended: DateTime<Utc> },
    NoCarbonLogin,
}

#[derive(Clone)]
pub struct SsoService {
    keys: Vec<SsoKey>,
    issuer: String,
    applications: Arc<dyn ApplicationStore>,
    tokens: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
}

impl SsoService {
    pub fn new(keys: Vec<SsoKey>, public_url: &str, applications: Arc<dyn ApplicationStore>, tokens: Arc<dyn TokenStore>, clock: Arc<dyn Clock>) -> Self {
        assert!(!keys.is_empty(), "at least one SSO key");
        Self { keys, issuer: format!("{public_url}{ISSUER_PATH}"), applications, tokens, clock }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public keys (RFC 8037 OKP JWKs).
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "kid": k.kid, "x": URL_SAFE_NO_PAD.encode(k.public()),
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The end of the free trial: six months after approval.
    pub fn trial_end(approved_at: DateTime<Utc>) -> DateTime<Utc> {
        approved_at.checked_add_months(Months::new(TRIAL_MONTHS)).unwrap_or(approved_at)
    }

    /// Checks every branch of the 碳星雲服務平台登入 button, then mints a token.
    pub async fn hand_off(&self, member: &Member) -> AppResult<Result<String, Refusal>> {
        let latest = self.applications.list_for_company(&member.tax_id).await?.into_iter().next();
        let Some(app) = latest else { return Err(AppError::NotFound("查無此公司的申請。".into())) };
        match app.status {
            ApplicationStatus::Pending => return Ok(Err(Refusal::Pending { application_id: app.id.to_string() })),
            ApplicationStatus::Rejected => return Ok(Err(Refusal::Rejected { application_id: app.id.to_string() })),
            ApplicationStatus::Approved => {}
        }
        let approved_at = app.decision.as_ref().map(|d| d.decided_at).unwrap_or(app.submitted_at);
        let now = self.clock.now();
        let ended = Self::trial_end(approved_at);
        if now >= ended {
            return Ok(Err(Refusal::TrialExpired { ended }));
        }
        if !member.profile.carbon_login {
            return Ok(Err(Refusal::NoCarbonLogin));
        }
        let mut roles = vec!["member".to_string()];
        if member.profile.is_admin {
            roles.push("admin".into());
        }
        let claims = SsoClaims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.into(),
            sub: member.id.to_string(),
            tax_id: member.tax_id.clone(),
            name: member.profile.name.clone(),
            email: member.profile.email.to_string(),
            roles,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: now.timestamp() + TOKEN_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        Ok(Ok(self.sign(&claims)?))
    }

    /// Signs claims with the current key (the first).
    pub fn sign(&self, claims: &SsoClaims) -> AppResult<String> {
        let key = &self.keys[0];
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding_key()).map_err(AppError::internal)
    }

    /// Verifies a hand-off token: EdDSA only, a published `kid`, our `iss` and `aud`,
    /// within `nbf`..`exp`, and a `jti` never seen before. Any failure is 401.
    pub async fn verify(&self, token: &str) -> AppResult<SsoClaims> {
        let unauthorized = |why: &str| {
            tracing::info!(reason = why, "SSO token refused");
            AppError::Unauthorized("單一登入失敗：登入憑證無效或已過期，請從 EcoSphere 平台重新點選「碳星雲服務平台登入」。".into())
        };
        if token.len() > 4096 {
            return Err(unauthorized("too long"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| unauthorized("header"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(unauthorized("algorithm"));
        }
        let kid = header.kid.ok_or_else(|| unauthorized("no kid"))?;
        let key = self.keys.iter().find(|k| k.kid == kid).ok_or_else(|| unauthorized("unknown kid"))?;
        let decoding = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(key.public())).map_err(AppError::internal)?;
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&[AUDIENCE]);
        v.set_issuer(&[self.issuer.as_str()]);
        v.set_required_spec_claims(&["exp", "nbf", "iat", "aud", "iss", "sub"]);
        v.leeway = 0;
        // Time is checked below against the service's clock (not the library's).
        v.validate_nbf = false;
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<SsoClaims>(token, &decoding, &v).map_err(|_| unauthorized("signature or claims"))?;
        let c = data.claims;
        let now = self.clock.now().timestamp();
        if now >= c.exp || now < c.nbf || c.exp - c.iat > TOKEN_SECONDS {
            return Err(unauthorized("time"));
        }
        let expires = DateTime::from_timestamp(c.exp, 0).unwrap_or_default();
        match self.tokens.insert("sso-jti", &c.jti, "used", self.clock.now(), expires + chrono::Duration::minutes(5)).await {
            Ok(()) => Ok(c),
            Err(AppError::Conflict(_)) => Err(unauthorized("replayed jti")),
            Err(e) => Err(e),
        }
    }
}
