//! Portal sign-in without passwords, sessions, and member management by admins.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use maud::html;
use sha2::{Digest, Sha256};

use crate::domain::{EmailAddress, FieldErrors, Member, MemberId, MemberProfile, RawForm, TaxId};
use crate::error::{AppError, AppResult};
use crate::ports::{ApplicationStore, Clock, Email, Mailer, MemberStore, TokenStore};

pub const LOGIN_LINK_MINUTES: i64 = 15;
/// Sign-in link requests per e-mail within `LOGIN_LINK_MINUTES` (known or not).
pub const LOGIN_REQUESTS_PER_WINDOW: u32 = 5;
/// Sign-in link requests per client (source IP) within `LOGIN_LINK_MINUTES`, whatever the
/// addresses: an office behind one address signs in a few people, a script tries many.
pub const LOGIN_REQUESTS_PER_CLIENT: u32 = 20;
pub const SESSION_HOURS: i64 = 8;
const LOGIN: &str = "login";
const SESSION: &str = "session";

/// A random secret (256 bits), URL-safe.
pub fn new_secret() -> AppResult<String> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(AppError::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// Secrets are stored by hash only.
pub fn secret_key(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// At most `slots` sign-in link requests of `who` per window, as expiring slots (one
/// conditional insert each). Shared by every sign-in by e-mailed link.
pub(crate) async fn limit(tokens: &dyn TokenStore, now: chrono::DateTime<chrono::Utc>, kind: &str, who: &str, slots: u32) -> AppResult<()> {
    for slot in 0..slots {
        match tokens.insert(kind, &format!("{who}:{slot}"), "", now, now + Duration::minutes(LOGIN_LINK_MINUTES)).await {
            Ok(()) => return Ok(()),
            Err(AppError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(AppError::TooManyRequests(format!("登入連結申請過於頻繁，請於 {LOGIN_LINK_MINUTES} 分鐘後再試。")))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LoginGrant {
    tax_id: TaxId,
    member_id: MemberId,
    /// The request this link was sent in: only the newest request's links sign in.
    #[serde(default)]
    request: Option<String>,
}

/// Token kind naming the newest sign-in request of an e-mail.
const LOGIN_LATEST: &str = "login-latest";

/// A signed-in member (the CSRF token of the session's forms is derived from the session
/// secret: `web::session`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub tax_id: TaxId,
    pub member_id: MemberId,
}

/// A session together with the member as it is now.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: Session,
    pub member: Member,
}

#[derive(Clone)]
pub struct PortalService {
    members: Arc<dyn MemberStore>,
    tokens: Arc<dyn TokenStore>,
    applications: Arc<dyn ApplicationStore>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    public_url: String,
}

impl PortalService {
    pub fn new(
        members: Arc<dyn MemberStore>,
        tokens: Arc<dyn TokenStore>,
        applications: Arc<dyn ApplicationStore>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        public_url: String,
    ) -> Self {
        Self { members, tokens, applications, mailer, clock, public_url }
    }

    /// Sends sign-in links to an e-mail's memberships. Whether or not the e-mail is
    /// known, the caller answers the same; only a malformed address is an error.
    pub async fn request_login(&self, raw_email: &str) -> AppResult<()> {
        self.request_login_from(raw_email, None).await
    }

    /// `request_login`, also limited per client (`client`: its source address).
    pub async fn request_login_from(&self, raw_email: &str, client: Option<&str>) -> AppResult<()> {
        let email = EmailAddress::parse(raw_email)
            .map_err(|e| AppError::Validation(FieldErrors::single("email", e.to_string())))?;
        if let Some(client) = client {
            self.limit("login-client", &secret_key(client), LOGIN_REQUESTS_PER_CLIENT).await?;
        }
        self.rate_limit(&email).await?;
        let memberships = self.members.find_by_email(&email).await?;
        if memberships.is_empty() {
            tracing::info!("sign-in requested for an unknown e-mail");
            return Ok(());
        }
        let now = self.clock.now();
        // A new request revokes the links of every earlier one.
        let request = new_secret()?;
        let latest_key = secret_key(&email.as_str().to_lowercase());
        self.tokens.take(LOGIN_LATEST, &latest_key, now).await?;
        match self.tokens.insert(LOGIN_LATEST, &latest_key, &request, now, now + Duration::minutes(LOGIN_LINK_MINUTES)).await {
            // A request racing this one won: its links are the newest, ours will be refused.
            Ok(()) | Err(AppError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        let mut text = String::new();
        let mut links = Vec::new();
        for m in &memberships {
            let company = self
                .applications
                .list_for_company(&m.tax_id)
                .await?
                .into_iter()
                .next()
                .map(|a| a.form.company_name)
                .unwrap_or_else(|| m.tax_id.to_string());
            let secret = new_secret()?;
            let grant = serde_json::to_string(&LoginGrant { tax_id: m.tax_id.clone(), member_id: m.id.clone(), request: Some(request.clone()) }).map_err(AppError::internal)?;
            self.tokens.insert(LOGIN, &secret_key(&secret), &grant, now, now + Duration::minutes(LOGIN_LINK_MINUTES)).await?;
            let url = format!("{}/login/{secret}", self.public_url);
            text.push_str(&format!("{company}（{}）：{url}\n", m.tax_id));
            links.push(html! { li { (company) "（" (m.tax_id.as_str()) "）：" a href=(url) { "登入" } } });
        }
        self.mailer
            .send(&Email {
                to: vec![email],
                subject: "【EcoSphere】登入連結".into(),
                text: format!(
                    "您好：\n\n請點選以下連結登入 EcoSphere 平台（{LOGIN_LINK_MINUTES} 分鐘內有效，僅能使用一次）：\n\n{text}\n如果您沒有要求登入，可以忽略本信件。\n\nEcoSphere團隊 敬上\n"
                ),
                html: crate::mail::html_document(html! {
                    p { "您好：" }
                    p { "請點選以下連結登入 EcoSphere 平台（" (LOGIN_LINK_MINUTES) " 分鐘內有效，僅能使用一次）：" }
                    ul { @for link in &links { (link) } }
                    p style="color:#666" { "如果您沒有要求登入，可以忽略本信件。" }
                    p { "EcoSphere團隊 敬上" }
                }),
            })
            .await?;
        Ok(())
    }

    /// At most `LOGIN_REQUESTS_PER_WINDOW` requests per e-mail per window, counted as
    /// expiring slots in the token store (one conditional insert each), the same for
    /// known and unknown addresses.
    async fn rate_limit(&self, email: &EmailAddress) -> AppResult<()> {
        self.limit("login-rate", &secret_key(&email.as_str().to_lowercase()), LOGIN_REQUESTS_PER_WINDOW).await
    }

    /// At most `slots` requests of `who` per window, as expiring slots (one conditional
    /// insert each).
    async fn limit(&self, kind: &str, who: &str, slots: u32) -> AppResult<()> {
        limit(self.tokens.as_ref(), self.clock.now(), kind, who, slots).await
    }

    /// Whether a sign-in link is still usable (for the confirmation page; uses nothing).
    pub async fn login_link_valid(&self, secret: &str) -> AppResult<bool> {
        Ok(self.tokens.get(LOGIN, &secret_key(secret), self.clock.now()).await?.is_some())
    }

    /// Uses a sign-in link (once) and opens a session; returns the session secret.
    pub async fn sign_in(&self, secret: &str) -> AppResult<(String, SignedIn)> {
        let now = self.clock.now();
        let gone = || AppError::Gone("登入連結已失效（已使用或超過 15 分鐘），請重新申請登入連結。".into());
        let grant = self.tokens.take(LOGIN, &secret_key(secret), now).await?.ok_or_else(gone)?;
        let grant: LoginGrant = serde_json::from_str(&grant).map_err(AppError::internal)?;
        let member = self.members.get(&grant.tax_id, &grant.member_id).await?.ok_or_else(gone)?;
        let latest = self.tokens.get(LOGIN_LATEST, &secret_key(&member.profile.email.as_str().to_lowercase()), now).await?;
        if latest.is_some() && latest != grant.request {
            return Err(AppError::Gone("此登入連結已被較新的登入連結取代，請使用最新一封登入信中的連結。".into()));
        }
        let session = Session { tax_id: grant.tax_id, member_id: grant.member_id };
        let sid = new_secret()?;
        let data = serde_json::to_string(&session).map_err(AppError::internal)?;
        self.tokens.insert(SESSION, &secret_key(&sid), &data, now, now + Duration::hours(SESSION_HOURS)).await?;
        tracing::info!(member.id = %member.id, "signed in");
        Ok((sid, SignedIn { session, member }))
    }

    /// The signed-in member of a session secret, if the session is valid and the member
    /// still exists (a removed member's sessions stop working at once).
    pub async fn session(&self, sid: &str) -> AppResult<Option<SignedIn>> {
        let Some(data) = self.tokens.get(SESSION, &secret_key(sid), self.clock.now()).await? else { return Ok(None) };
        let session: Session = serde_json::from_str(&data).map_err(AppError::internal)?;
        Ok(self.members.get(&session.tax_id, &session.member_id).await?.map(|member| SignedIn { session, member }))
    }

    pub async fn sign_out(&self, sid: &str) -> AppResult<()> {
        self.tokens.take(SESSION, &secret_key(sid), self.clock.now()).await?;
        Ok(())
    }

    fn require_admin(who: &SignedIn) -> AppResult<()> {
        if who.member.profile.is_admin {
            Ok(())
        } else {
            Err(AppError::Forbidden("只有公司管理員可以管理成員。".into()))
        }
    }

    pub async fn list_members(&self, who: &SignedIn) -> AppResult<Vec<Member>> {
        Self::require_admin(who)?;
        self.members.list(&who.session.tax_id).await
    }

    pub async fn add_member(&self, who: &SignedIn, raw: &RawForm) -> AppResult<Member> {
        Self::require_admin(who)?;
        let profile = MemberProfile::parse(raw).map_err(AppError::Validation)?;
        let now = self.clock.now();
        let m = Member { id: MemberId::new(), tax_id: who.session.tax_id.clone(), profile, created_at: now, updated_at: now };
        self.members.add(&m, who.member.profile.email.as_str()).await?;
        Ok(m)
    }

    pub async fn update_member(&self, who: &SignedIn, id: &str, raw: &RawForm) -> AppResult<Member> {
        Self::require_admin(who)?;
        let id = MemberId::parse(id).ok_or_else(crate::services::members::member_not_found)?;
        let profile = MemberProfile::parse(raw).map_err(AppError::Validation)?;
        self.members.update(&who.session.tax_id, &id, &profile, who.member.profile.email.as_str(), self.clock.now()).await
    }

    pub async fn remove_member(&self, who: &SignedIn, id: &str) -> AppResult<()> {
        Self::require_admin(who)?;
        let id = MemberId::parse(id).ok_or_else(crate::services::members::member_not_found)?;
        self.members.remove(&who.session.tax_id, &id, who.member.profile.email.as_str(), self.clock.now()).await
    }

    pub async fn get_member(&self, who: &SignedIn, id: &str) -> AppResult<Member> {
        Self::require_admin(who)?;
        let id = MemberId::parse(id).ok_or_else(crate::services::members::member_not_found)?;
        self.members.get(&who.session.tax_id, &id).await?.ok_or_else(crate::services::members::member_not_found)
    }
}
