//! Programme staff (計畫管理人員) sign in to the staff console by e-mailed single-use link,
//! like members do in the portal: only addresses named in `APP_STAFF` get a link, the
//! answer is the same for any address, and a session stops working as soon as its
//! address leaves the list.

use std::sync::Arc;

use chrono::Duration;
use maud::html;
use serde::{Deserialize, Serialize};

use super::portal::{limit, new_secret, secret_key, LOGIN_LINK_MINUTES, LOGIN_REQUESTS_PER_CLIENT, LOGIN_REQUESTS_PER_WINDOW, SESSION_HOURS};
use crate::domain::{EmailAddress, FieldErrors};
use crate::error::{AppError, AppResult};
use crate::ports::{Clock, Email, Mailer, TokenStore};

const LOGIN: &str = "staff-login";
const SESSION: &str = "staff-session";

/// A signed-in staff member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    pub email: String,
}

#[derive(Clone)]
pub struct StaffService {
    staff: Vec<String>,
    tokens: Arc<dyn TokenStore>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    public_url: String,
}

impl StaffService {
    pub fn new(staff: &[EmailAddress], tokens: Arc<dyn TokenStore>, mailer: Arc<dyn Mailer>, clock: Arc<dyn Clock>, public_url: String) -> Self {
        Self { staff: staff.iter().map(|e| e.as_str().to_lowercase()).collect(), tokens, mailer, clock, public_url }
    }

    fn is_staff(&self, email: &str) -> bool {
        self.staff.iter().any(|s| *s == email.to_lowercase())
    }

    /// Sends a sign-in link when the address is staff; the caller answers the same either way.
    pub async fn request_login(&self, raw_email: &str, client: Option<&str>) -> AppResult<()> {
        let email = EmailAddress::parse(raw_email).map_err(|e| AppError::Validation(FieldErrors::single("email", e.to_string())))?;
        let now = self.clock.now();
        if let Some(client) = client {
            limit(self.tokens.as_ref(), now, "staff-login-client", &secret_key(client), LOGIN_REQUESTS_PER_CLIENT).await?;
        }
        limit(self.tokens.as_ref(), now, "staff-login-rate", &secret_key(&email.as_str().to_lowercase()), LOGIN_REQUESTS_PER_WINDOW).await?;
        if !self.is_staff(email.as_str()) {
            tracing::info!("staff sign-in requested for an address not on the staff list");
            return Ok(());
        }
        let secret = new_secret()?;
        let data = serde_json::to_string(&StaffMember { email: email.as_str().to_lowercase() }).map_err(AppError::internal)?;
        self.tokens.insert(LOGIN, &secret_key(&secret), &data, now, now + Duration::minutes(LOGIN_LINK_MINUTES)).await?;
        let url = format!("{}/staff/login/{secret}", self.public_url);
        self.mailer
            .send(&Email {
                to: vec![email],
                subject: "【EcoSphere】計畫管理後台登入連結".into(),
                text: format!("您好：\n\n請點選以下連結登入 EcoSphere 計畫管理後台（{LOGIN_LINK_MINUTES} 分鐘內有效，僅能使用一次）：\n{url}\n\n如果您沒有要求登入，可以忽略本信件。\n\nEcoSphere團隊 敬上\n"),
                html: crate::mail::html_document(html! {
                    p { "您好：" }
                    p { "請點選以下按鈕登入 EcoSphere 計畫管理後台（" (LOGIN_LINK_MINUTES) " 分鐘內有效，僅能使用一次）：" }
                    p { (crate::mail::button(&url, "登入計畫管理後台", "#2e7d32")) }
                    p style="color:#666" { "如果您沒有要求登入，可以忽略本信件。" }
                    p { "EcoSphere團隊 敬上" }
                }),
            })
            .await?;
        Ok(())
    }

    pub async fn link_valid(&self, secret: &str) -> AppResult<bool> {
        Ok(self.tokens.get(LOGIN, &secret_key(secret), self.clock.now()).await?.is_some())
    }

    /// Uses a link once; returns the session secret.
    pub async fn sign_in(&self, secret: &str) -> AppResult<(String, StaffMember)> {
        let now = self.clock.now();
        let gone = || AppError::Gone("登入連結已失效（已使用或超過 15 分鐘），請重新申請登入連結。".into());
        let data = self.tokens.take(LOGIN, &secret_key(secret), now).await?.ok_or_else(gone)?;
        let who: StaffMember = serde_json::from_str(&data).map_err(AppError::internal)?;
        if !self.is_staff(&who.email) {
            return Err(gone());
        }
        let sid = new_secret()?;
        self.tokens.insert(SESSION, &secret_key(&sid), &data, now, now + Duration::hours(SESSION_HOURS)).await?;
        tracing::info!("staff signed in");
        Ok((sid, who))
    }

    pub async fn session(&self, sid: &str) -> AppResult<Option<StaffMember>> {
        let Some(data) = self.tokens.get(SESSION, &secret_key(sid), self.clock.now()).await? else { return Ok(None) };
        let who: StaffMember = serde_json::from_str(&data).map_err(AppError::internal)?;
        Ok(self.is_staff(&who.email).then_some(who))
    }

    pub async fn sign_out(&self, sid: &str) -> AppResult<()> {
        self.tokens.take(SESSION, &secret_key(sid), self.clock.now()).await?;
        Ok(())
    }
}
