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
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ecosphere::error::AppError;
use ecosphere::services::portal::new_secret;
use ecosphere::services::sso::Refusal;
use ecosphere::web::session::{open_carbon_session, set_cookie, CARBON_COOKIE, CARBON_SESSION_HOURS};
use ecosphere::web::{portal_page, Form, Guarded, PortalSession};
use ecosphere::App;
use maud::html;

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
    portal_page(
        status,
        title,
        html! {
            h1 { (title) }
            p.notice { (text) }
            @if let Some((href, label)) = link { p { a.button href=(href) { (label) } } }
            p { a href="/portal" { "回到會員中心" } }
        },
    )
}

async fn start(State(app): State<Arc<App>>, g: Guarded<PortalSession>) -> Result<Response, AppError> {
    let token = match app.sso.hand_off(&g.session.who.member).await? {
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
    let body = html! {
        h1 { "正在前往碳星雲服務平台…" }
        form id="sso" method="post" action="/sso/callback" {
            input type="hidden" name="token" value=(token);
            noscript { button type="submit" { "繼續" } }
        }
        // A fixed script, allowed by its nonce alone.
        script nonce=(nonce) { "document.forms.sso.submit();" }
    };
    let mut resp = portal_page(StatusCode::OK, "碳星雲服務平台登入", body);
    let csp = format!("default-src 'self'; style-src 'self'; script-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'");
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
    let sid = open_carbon_session(&app, &claims).await?;
    tracing::info!(member.id = %claims.sub, "carbon platform session opened by SSO");
    let mut resp = Redirect::to("/carbon").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, set_cookie(&app, CARBON_COOKIE, &sid, CARBON_SESSION_HOURS * 3600));
    Ok(resp)
}

