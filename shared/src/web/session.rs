//! Sessions, cookies and CSRF, once, for every HTTP function.
//!
//! - Cookies are read and written with the `cookie` crate: HttpOnly, SameSite=Lax, Path=/,
//!   Secure unless the site is plain-http local mode.
//! - One CSRF scheme for every kind of session: the token is
//!   HMAC-SHA256(key, "{kind}\0{session secret}"), so it needs no storage, differs per
//!   session and cannot be computed without the key; it is compared in constant time.
//! - Sessions are axum extractors ([`PortalSession`], [`CarbonSession`]); a state-changing
//!   handler takes [`Guarded<S>`], which reads the form and refuses it (403) unless its
//!   `csrf` field carries the session's token, so no handler can forget the check.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::RawForm;
use crate::error::AppError;
use crate::services::portal::SignedIn;
use crate::services::sso::SsoClaims;
use crate::App;

/// The portal session cookie.
pub const PORTAL_COOKIE: &str = "ecosphere_session";
pub use crate::services::sso::CARBON_COOKIE;
/// How long a carbon-platform session lasts.
pub const CARBON_SESSION_HOURS: i64 = 8;

/// The name of the hidden form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The key of the CSRF scheme.
#[derive(Clone)]
pub struct CsrfKey([u8; 32]);

impl CsrfKey {
    /// A key derived from a deployment secret (domain-separated, so the CSRF key never
    /// equals the key it comes from).
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"ecosphere/csrf/v1");
        Self(mac.finalize().into_bytes().into())
    }

    /// The token of a session (`kind` names the kind of session: portal, carbon, …).
    pub fn token(&self, kind: &str, sid: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(sid.as_bytes());
        mac.finalize().into_bytes().iter().take(24).map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `given` is the token of the session, compared in constant time.
    pub fn verify(&self, kind: &str, sid: &str, given: &str) -> bool {
        let want = self.token(kind, sid);
        want.len() == given.len() && bool::from(want.as_bytes().ct_eq(given.as_bytes()))
    }
}

/// The value of a request cookie, if present and not empty.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value for a session cookie (an empty value with `max_age_secs` 0 clears it).
pub fn set_cookie(app: &App, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let c = cookie::Cookie::build((name.to_string(), value.to_string()))
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .secure(app.config.public_url.starts_with("https://"))
        .build();
    HeaderValue::from_str(&c.to_string()).expect("session cookies are ASCII")
}

/// Clears a session cookie.
pub fn clear_cookie(app: &App, name: &str) -> HeaderValue {
    set_cookie(app, name, "", 0)
}

/// A kind of session, as the extractors and [`Guarded`] see it.
pub trait Session: Sized + Send {
    /// The kind, bound into the CSRF token.
    const KIND: &'static str;
    /// The session secret (from the cookie).
    fn secret(&self) -> &str;
}

/// The CSRF token of a session, for its forms.
pub fn csrf_token<S: Session>(app: &App, s: &S) -> String {
    app.csrf.token(S::KIND, s.secret())
}

fn refuse_csrf() -> AppError {
    AppError::Forbidden("表單已過期或來源不明，請重新整理頁面後再試。".into())
}

/// The staff console's session cookie.
pub const STAFF_COOKIE: &str = "ecosphere_staff";

/// Programme staff signed in to the staff console.
pub struct StaffSession {
    sid: String,
    pub who: crate::services::staff::StaffMember,
    pub csrf: String,
}

impl Session for StaffSession {
    const KIND: &'static str = "staff";
    fn secret(&self) -> &str {
        &self.sid
    }
}

impl FromRequestParts<Arc<App>> for StaffSession {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        let unauthorized = || AppError::Unauthorized("請先登入計畫管理後台：在 /staff/login 輸入您的 Email，我們會寄送登入連結。".into());
        let sid = cookie(&parts.headers, STAFF_COOKIE).ok_or_else(unauthorized)?;
        let who = app.staff.session(&sid).await?.ok_or_else(unauthorized)?;
        let csrf = app.csrf.token(Self::KIND, &sid);
        Ok(Self { sid, who, csrf })
    }
}

/// A member signed in to the portal.
pub struct PortalSession {
    sid: String,
    pub who: SignedIn,
    /// The session's CSRF token, for the page's forms.
    pub csrf: String,
}

impl Session for PortalSession {
    const KIND: &'static str = "portal";
    fn secret(&self) -> &str {
        &self.sid
    }
}

impl PortalSession {
    /// Looks up the portal session of a request.
    pub async fn from_headers(app: &App, headers: &HeaderMap) -> Result<Self, AppError> {
        let unauthorized = || AppError::Unauthorized("請先登入：在登入頁輸入您的 Email，我們會寄送登入連結。".into());
        let sid = cookie(headers, PORTAL_COOKIE).ok_or_else(unauthorized)?;
        let who = app.portal.session(&sid).await?.ok_or_else(unauthorized)?;
        let csrf = app.csrf.token(Self::KIND, &sid);
        Ok(Self { sid, who, csrf })
    }
}

impl FromRequestParts<Arc<App>> for PortalSession {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        Self::from_headers(app, &parts.headers).await
    }
}

/// A member inside the carbon platform (entered by SSO).
pub struct CarbonSession {
    sid: String,
    pub claims: SsoClaims,
    /// The session's CSRF token, for the page's forms.
    pub csrf: String,
}

impl Session for CarbonSession {
    const KIND: &'static str = "carbon";
    fn secret(&self) -> &str {
        &self.sid
    }
}

impl CarbonSession {
    /// Looks up the carbon session of a request. The session follows the member: removed,
    /// or carbon-login permission turned off, ends it now, not when its 8 hours are over.
    pub async fn from_headers(app: &App, headers: &HeaderMap) -> Result<Self, AppError> {
        use crate::services::portal::secret_key;
        use crate::services::sso::{end_carbon_session, CARBON_SESSION_KIND};
        let unauthorized = || AppError::Unauthorized("請從 EcoSphere 平台點選「碳星雲服務平台登入」進入碳星雲服務平台。".into());
        let sid = cookie(headers, CARBON_COOKIE).ok_or_else(unauthorized)?;
        let data = app.tokens.get(CARBON_SESSION_KIND, &secret_key(&sid), app.clock.now()).await?.ok_or_else(unauthorized)?;
        let claims: SsoClaims = serde_json::from_str(&data).map_err(AppError::internal)?;
        let member = match crate::domain::MemberId::parse(&claims.sub) {
            Some(id) => app.members.get(&claims.tax_id, &id).await?,
            None => None,
        };
        if !member.is_some_and(|m| m.profile.carbon_login) {
            let _ = end_carbon_session(app.tokens.as_ref(), &sid, app.clock.now()).await;
            tracing::info!(member.id = %claims.sub, "carbon session ended: member removed or carbon login revoked");
            return Err(AppError::Unauthorized("您的碳星雲登入權限已被移除或帳號已停用，請洽貴公司的管理員。".into()));
        }
        let csrf = app.csrf.token(Self::KIND, &sid);
        Ok(Self { sid, claims, csrf })
    }

    /// Ends this session (carbon logout).
    pub async fn end(&self, app: &App) -> Result<(), AppError> {
        crate::services::sso::end_carbon_session(app.tokens.as_ref(), &self.sid, app.clock.now()).await
    }
}

impl FromRequestParts<Arc<App>> for CarbonSession {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        Self::from_headers(app, &parts.headers).await
    }
}

/// Opens a carbon-platform session for verified SSO claims; returns its secret.
pub async fn open_carbon_session(app: &App, claims: &SsoClaims) -> Result<String, AppError> {
    use crate::services::portal::{new_secret, secret_key};
    let sid = new_secret()?;
    let data = serde_json::to_string(claims).map_err(AppError::internal)?;
    let now = app.clock.now();
    app.tokens
        .insert(crate::services::sso::CARBON_SESSION_KIND, &secret_key(&sid), &data, now, now + chrono::Duration::hours(CARBON_SESSION_HOURS))
        .await?;
    Ok(sid)
}

/// A state-changing request: the session, and its form once the form's CSRF token has
/// been checked against the session.
pub struct Guarded<S> {
    pub session: S,
    pub form: RawForm,
}

impl<S> FromRequest<Arc<App>> for Guarded<S>
where
    S: Session + FromRequestParts<Arc<App>, Rejection = AppError>,
{
    type Rejection = AppError;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = S::from_request_parts(&mut parts, app).await?;
        let crate::web::Form(form) = crate::web::Form::from_request(Request::from_parts(parts, body), app).await?;
        if !app.csrf.verify(S::KIND, session.secret(), form.first(CSRF_FIELD).unwrap_or_default()) {
            return Err(refuse_csrf());
        }
        Ok(Self { session, form })
    }
}

/// A state-changing `multipart/form-data` request (the batch page's upload): the session,
/// its text fields and its files, read under [`crate::services::upload`]'s limits, once the
/// form's CSRF token has been checked against the session.
pub struct GuardedUpload<S> {
    pub session: S,
    pub fields: RawForm,
    pub files: Vec<crate::services::upload::UploadedFile>,
}

impl<S> FromRequest<Arc<App>> for GuardedUpload<S>
where
    S: Session + FromRequestParts<Arc<App>, Rejection = AppError>,
{
    type Rejection = AppError;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        use crate::services::upload::{too_large, too_many_files, UploadedFile, MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES};
        let (mut parts, body) = req.into_parts();
        let session = S::from_request_parts(&mut parts, app).await?;
        let announced = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > (MAX_UPLOAD_BYTES + 1024 * 1024) as u64) {
            return Err(too_large());
        }
        let mut multipart = axum::extract::Multipart::from_request(Request::from_parts(parts, body), app)
            .await
            .map_err(|_| AppError::BadRequest("請以檔案上傳表單（multipart/form-data）送出".into()))?;
        let unreadable = |e: axum::extract::multipart::MultipartError| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                AppError::BadRequest("無法讀取上傳的表單內容，請重新上傳".into())
            }
        };
        let (mut fields, mut files, mut total) = (Vec::new(), Vec::new(), 0usize);
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or_default().to_string();
            match field.file_name().map(str::to_string) {
                Some(file_name) => {
                    if files.len() >= MAX_UPLOAD_FILES {
                        return Err(too_many_files());
                    }
                    let bytes = field.bytes().await.map_err(unreadable)?;
                    total += bytes.len();
                    if total > MAX_UPLOAD_BYTES {
                        return Err(too_large());
                    }
                    files.push(UploadedFile { name: file_name, bytes: bytes.to_vec() });
                }
                None => {
                    let text = field.text().await.map_err(unreadable)?;
                    if text.len() > crate::web::MAX_FORM_BYTES {
                        return Err(AppError::PayloadTooLarge("表單欄位過長".into()));
                    }
                    fields.push((name, text));
                }
            }
        }
        let fields = RawForm(fields);
        if !app.csrf.verify(S::KIND, session.secret(), fields.first(CSRF_FIELD).unwrap_or_default()) {
            return Err(refuse_csrf());
        }
        Ok(Self { session, fields, files })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_keyed_bound_to_kind_and_session() {
        let k = CsrfKey::derive(b"0123456789abcdef0123456789abcdef");
        let t = k.token("portal", "sid-1");
        assert_eq!(t.len(), 48);
        assert!(k.verify("portal", "sid-1", &t));
        assert!(!k.verify("carbon", "sid-1", &t), "a portal token is not a carbon token");
        assert!(!k.verify("portal", "sid-2", &t), "another session's token");
        assert!(!k.verify("portal", "sid-1", &t[..47]));
        assert!(!k.verify("portal", "sid-1", ""));
        let other = CsrfKey::derive(b"another secret of thirty-two bytes!!");
        assert!(!other.verify("portal", "sid-1", &t), "a token made with another key");
        // Unkeyed digests of the session id (the old carbon scheme) are not tokens.
        use sha2::Digest;
        let unkeyed: String = Sha256::digest(b"portal\0sid-1").iter().take(24).map(|b| format!("{b:02x}")).collect();
        assert!(!k.verify("portal", "sid-1", &unkeyed));
    }

    #[test]
    fn cookies_parse_with_the_cookie_crate() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; ecosphere_session=abc; b="));
        h.append(header::COOKIE, HeaderValue::from_static("ecosphere_carbon=xyz"));
        assert_eq!(cookie(&h, PORTAL_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, CARBON_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(cookie(&h, "missing"), None);
    }
}
