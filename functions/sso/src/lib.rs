//! Function `sso`: the 「碳星雲服務平台登入」 button and the carbon platform's side.
//!
//! - `POST /sso/start` (portal session + CSRF): pending → 審核中 notice and the status
//!   page; rejected → the status page with its reason; trial over or no carbon-login
//!   permission → a notice; none of these mints a token. Otherwise an auto-submitting
//!   form POSTs a 60-second EdDSA JWT in the field `token` to `/sso/callback`.
//! - `GET /.well-known/jwks.json`: the public keys.
//! - `POST /sso/callback`: a valid token → 303 into the platform with a session
//!   cookie; anything else → 401 and no session.
//!
//! The carbon platform's pages (`/carbon…`) are the `carbon` function's.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ecosphere::error::AppError;
use ecosphere::services::portal::{new_secret, secret_key};
use ecosphere::services::sso::{Refusal, SsoClaims};
use ecosphere::web::{esc, html, Form};
use ecosphere::App;

pub use ecosphere::services::sso::CARBON_COOKIE;
use ecosphere::services::sso::CARBON_SESSION_KIND as CARBON_SESSION;
const CARBON_SESSION_HOURS: i64 = 8;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/sso/start", post(start))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/sso/callback", post(callback))
        // Login CSRF: a cross-site post of a token minted for another account must not
        // sign this browser in.
        .layer(axum::middleware::from_fn_with_state(app.clone(), ecosphere::web::same_origin))
        .with_state(app)
}

async fn jwks(State(app): State<Arc<App>>) -> Response {
    let mut resp = Json(app.sso.jwks()).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    resp
}

fn notice(status: StatusCode, title: &str, text: &str, link: Option<(&str, &str)>) -> Response {
    let link = link.map(|(href, label)| format!("<p><a class=\"button\" href=\"{}\">{}</a></p>", esc(href), esc(label))).unwrap_or_default();
    html(status, title, &format!("<h1>{}</h1><p class=\"notice\">{}</p>{link}<p><a href=\"/portal\">回到會員中心</a></p>", esc(title), esc(text)))
}

async fn start(State(app): State<Arc<App>>, headers: HeaderMap, Form(raw): Form) -> Result<Response, AppError> {
    let (_, who) = portal::signed_in(&app, &headers).await?;
    portal::check_csrf(&who, &raw)?;
    let token = match app.sso.hand_off(&who.member).await? {
        Ok(t) => t,
        Err(Refusal::Pending { application_id }) => {
            let url = format!("/applications/{application_id}");
            let mut resp = notice(StatusCode::OK, "審核中", "您的公司申請的碳星雲服務仍在審核中，審核通過後即可登入碳星雲服務平台。", Some((&url, "查看申請進度")));
            resp.headers_mut().insert("refresh", HeaderValue::from_str(&format!("5; url={url}")).expect("ascii"));
            return Ok(resp);
        }
        Err(Refusal::Rejected { application_id }) => return Ok(Redirect::to(&format!("/applications/{application_id}")).into_response()),
        Err(Refusal::TrialExpired { ended }) => {
            return Ok(notice(
                StatusCode::FORBIDDEN,
                "試用期已結束",
                &format!("貴公司的碳星雲服務 6 個月試用期已於 {} 結束，如需繼續使用請聯絡我們。", ended.format("%Y/%m/%d")),
                None,
            ))
        }
        Err(Refusal::NoCarbonLogin) => {
            return Ok(notice(StatusCode::FORBIDDEN, "沒有碳星雲登入權限", "您的帳號尚未開通碳星雲登入權限，請洽貴公司的管理員在「成員管理」開通。", None))
        }
    };
    let nonce = new_secret()?;
    let body = format!(
        r#"<h1>正在前往碳星雲服務平台…</h1>
<form id="sso" method="post" action="/sso/callback"><input type="hidden" name="token" value="{token}">
<noscript><button type="submit">繼續</button></noscript></form>
<script nonce="{nonce}">document.getElementById("sso").submit();</script>"#,
        token = esc(&token),
    );
    let mut resp = html(StatusCode::OK, "碳星雲服務平台登入", &body);
    let csp = format!("default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'");
    resp.headers_mut().insert("content-security-policy", HeaderValue::from_str(&csp).expect("ascii"));
    resp.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(resp)
}

async fn callback(State(app): State<Arc<App>>, Form(raw): Form) -> Result<Response, AppError> {
    let claims = app.sso.verify(raw.first("token").unwrap_or_default()).await?;
    // The member must still exist and still have carbon-login permission.
    let member = match ecosphere::domain::MemberId::parse(&claims.sub) {
        Some(id) => app.members.get(&claims.tax_id, &id).await?,
        None => None,
    };
    if !member.is_some_and(|m| m.profile.carbon_login) {
        return Err(AppError::Unauthorized("單一登入失敗：此帳號已無碳星雲登入權限。".into()));
    }
    let sid = new_secret()?;
    let data = serde_json::to_string(&claims).map_err(AppError::internal)?;
    let expires = app.clock.now() + chrono::Duration::hours(CARBON_SESSION_HOURS);
    app.tokens.insert(CARBON_SESSION, &secret_key(&sid), &data, app.clock.now(), expires).await?;
    tracing::info!(member.id = %claims.sub, "carbon platform session opened by SSO");
    let mut resp = Redirect::to("/carbon").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, portal::cookie_header(&app, CARBON_COOKIE, &sid, CARBON_SESSION_HOURS * 3600));
    Ok(resp)
}

/// The carbon-platform session of a request.
pub async fn carbon_session(app: &App, headers: &HeaderMap) -> Result<SsoClaims, AppError> {
    let unauthorized = || AppError::Unauthorized("請從 EcoSphere 平台點選「碳星雲服務平台登入」進入碳星雲服務平台。".into());
    let sid = portal::cookie_value(headers, CARBON_COOKIE).ok_or_else(unauthorized)?;
    let data = app.tokens.get(CARBON_SESSION, &secret_key(&sid), app.clock.now()).await?.ok_or_else(unauthorized)?;
    let claims: SsoClaims = serde_json::from_str(&data).map_err(AppError::internal)?;
    // The session follows the member: removed, or carbon-login permission turned off →
    // the session ends now, not when its 8 hours are over.
    let member = match ecosphere::domain::MemberId::parse(&claims.sub) {
        Some(id) => app.members.get(&claims.tax_id, &id).await?,
        None => None,
    };
    if !member.is_some_and(|m| m.profile.carbon_login) {
        let _ = ecosphere::services::sso::end_carbon_session(app.tokens.as_ref(), &sid, app.clock.now()).await;
        tracing::info!(member.id = %claims.sub, "carbon session ended: member removed or carbon login revoked");
        return Err(AppError::Unauthorized("您的碳星雲登入權限已被移除或帳號已停用，請洽貴公司的管理員。".into()));
    }
    Ok(claims)
}

/// Ends the carbon session of this request, if any (carbon logout, portal logout).
pub async fn end_carbon_session(app: &App, headers: &HeaderMap) -> Result<(), AppError> {
    if let Some(sid) = portal::cookie_value(headers, CARBON_COOKIE) {
        ecosphere::services::sso::end_carbon_session(app.tokens.as_ref(), &sid, app.clock.now()).await?;
    }
    Ok(())
}
