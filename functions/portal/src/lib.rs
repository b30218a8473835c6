//! Function `portal`: sign-in without passwords and member management.
//!
//! - `GET/POST /login`: ask for a sign-in link (the same answer whether or not the
//!   e-mail is known);
//! - `GET /login/{secret}` shows a confirm button (mail scanners must not use the link
//!   up), `POST /login/{secret}` signs in: session cookie (HttpOnly, SameSite=Lax,
//!   Secure outside plain-http local mode);
//! - `GET /portal`, `POST /logout`;
//! - `/members` (admins only): list, add, edit, remove. Every POST carries the
//!   session's CSRF token, and a POST from another origin is refused.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ecosphere::domain::{Member, RawForm};
use ecosphere::error::AppError;
use ecosphere::services::portal::{SignedIn, SESSION_HOURS};
use ecosphere::web::{esc, html, wants_json, Form};
use ecosphere::App;
use serde_json::json;

pub const SESSION_COOKIE: &str = "ecosphere_session";

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/login", get(login_page).post(request_link))
        .route("/login/{secret}", get(confirm_page).post(sign_in))
        .route("/logout", post(sign_out))
        .route("/portal", get(home))
        .route("/members", get(members_page).post(add_member))
        .route("/members/{id}", get(edit_page).post(update_member))
        .route("/members/{id}/delete", post(remove_member))
        .layer(axum::middleware::from_fn_with_state(app.clone(), ecosphere::web::same_origin))
        .with_state(app)
}


pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_string())
    })
}

pub async fn signed_in(app: &App, headers: &HeaderMap) -> Result<(String, SignedIn), AppError> {
    let unauthorized = || AppError::Unauthorized("請先登入：在登入頁輸入您的 Email，我們會寄送登入連結。".into());
    let sid = cookie_value(headers, SESSION_COOKIE).ok_or_else(unauthorized)?;
    let who = app.portal.session(&sid).await?.ok_or_else(unauthorized)?;
    Ok((sid, who))
}

pub fn check_csrf(who: &SignedIn, raw: &RawForm) -> Result<(), AppError> {
    let given = raw.first("csrf").unwrap_or_default().as_bytes();
    let want = who.session.csrf.as_bytes();
    let same = given.len() == want.len() && given.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same {
        Ok(())
    } else {
        Err(AppError::Forbidden("表單已過期或來源不明，請重新整理頁面後再試。".into()))
    }
}

/// A session cookie: HttpOnly, SameSite=Lax, Secure unless the site is plain http (local).
pub fn cookie_header(app: &App, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if app.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}")).expect("cookie is ASCII")
}

fn session_cookie(app: &App, value: &str, max_age: i64) -> HeaderValue {
    cookie_header(app, SESSION_COOKIE, value, max_age)
}

async fn login_page() -> Response {
    html(
        StatusCode::OK,
        "登入",
        r#"<h1>登入 EcoSphere 平台</h1><p>輸入您的公司成員 Email，我們會寄送一次性的登入連結（15 分鐘內有效），無需密碼。</p>
<form method="post" action="/login"><p><label class="field" for="email">Email</label><input type="email" id="email" name="email" required maxlength="254"></p>
<p><button type="submit">寄送登入連結</button></p></form>"#,
    )
}

async fn request_link(State(app): State<Arc<App>>, ext: axum::http::Extensions, headers: HeaderMap, Form(raw): Form) -> Result<Response, AppError> {
    let client = ecosphere::web::client_key(&ext);
    app.portal.request_login_from(raw.first("email").unwrap_or_default(), Some(&client)).await?;
    let msg = "若此 Email 是已通過審核公司的成員，您將在幾分鐘內收到登入連結（15 分鐘內有效）。";
    if wants_json(&headers) {
        return Ok((StatusCode::ACCEPTED, Json(json!({ "message": msg }))).into_response());
    }
    Ok(html(StatusCode::OK, "請查看您的信箱", &format!("<h1>請查看您的信箱</h1><p>{}</p>", esc(msg))))
}

async fn confirm_page(State(app): State<Arc<App>>, Path(secret): Path<String>) -> Result<Response, AppError> {
    if !app.portal.login_link_valid(&secret).await? {
        return Err(AppError::Gone("登入連結已失效（已使用或超過 15 分鐘），請重新申請登入連結。".into()));
    }
    Ok(html(
        StatusCode::OK,
        "確認登入",
        &format!(
            "<h1>確認登入</h1><p>按下按鈕即登入 EcoSphere 平台。</p><form method=\"post\" action=\"/login/{}\"><button type=\"submit\">登入</button></form>",
            esc(&secret)
        ),
    ))
}

async fn sign_in(State(app): State<Arc<App>>, Path(secret): Path<String>) -> Result<Response, AppError> {
    let (sid, who) = app.portal.sign_in(&secret).await?;
    let target = if who.member.profile.is_admin { "/members" } else { "/portal" };
    let mut resp = Redirect::to(target).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, &sid, SESSION_HOURS * 3600));
    Ok(resp)
}

async fn sign_out(State(app): State<Arc<App>>, headers: HeaderMap, Form(raw): Form) -> Result<Response, AppError> {
    let (sid, who) = signed_in(&app, &headers).await?;
    check_csrf(&who, &raw)?;
    app.portal.sign_out(&sid).await?;
    // Logging out of the portal ends the carbon platform session of this browser too.
    if let Some(carbon) = cookie_value(&headers, ecosphere::services::sso::CARBON_COOKIE) {
        ecosphere::services::sso::end_carbon_session(app.tokens.as_ref(), &carbon, app.clock.now()).await?;
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    resp.headers_mut().append(header::SET_COOKIE, cookie_header(&app, ecosphere::services::sso::CARBON_COOKIE, "", 0));
    Ok(resp)
}

fn yes(b: bool) -> &'static str {
    if b {
        "是"
    } else {
        "否"
    }
}

async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, AppError> {
    let (_, who) = signed_in(&app, &headers).await?;
    let m = &who.member;
    if wants_json(&headers) {
        return Ok(Json(json!({ "member": m })).into_response());
    }
    let admin = if m.profile.is_admin { "<p><a class=\"button\" href=\"/members\">成員管理</a></p>" } else { "" };
    let carbon = format!(
        "<form method=\"post\" action=\"/sso/start\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">碳星雲服務平台登入</button></form>",
        esc(&who.session.csrf)
    );
    Ok(html(
        StatusCode::OK,
        "會員中心",
        &format!(
            "<h1>會員中心</h1><p>{}（{}），公司統編 {}</p>{carbon}{admin}\
             <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">登出</button></form>",
            esc(&m.profile.name),
            esc(m.profile.email.as_str()),
            esc(m.tax_id.as_str()),
            esc(&who.session.csrf),
        ),
    ))
}

fn member_form(action: &str, csrf: &str, m: Option<&Member>, submit: &str) -> String {
    let v = |f: fn(&Member) -> String| m.map(f).unwrap_or_default();
    let radio = |name: &str, on: bool| {
        format!(
            "<label><input type=\"radio\" name=\"{name}\" value=\"yes\"{}> 是</label> <label><input type=\"radio\" name=\"{name}\" value=\"no\"{}> 否</label>",
            if on { " checked" } else { "" },
            if on { "" } else { " checked" }
        )
    };
    format!(
        r#"<form method="post" action="{action}"><input type="hidden" name="csrf" value="{csrf}">
<div class="grid">
<p><label class="field">使用者名稱<span class="req">*</span><input type="text" name="name" maxlength="50" required value="{name}"></label></p>
<p><label class="field">Email<span class="req">*</span><input type="email" name="email" maxlength="254" required value="{email}"></label></p>
<p><label class="field">電話<input type="tel" name="phone" maxlength="30" value="{phone}"></label></p>
<p><label class="field">職稱<input type="text" name="title" maxlength="50" value="{title}"></label></p>
</div>
<p>是否為管理員<span class="req">*</span>：{admin}</p>
<p>碳星雲登入權限<span class="req">*</span>：{carbon}</p>
<p><button type="submit">{submit}</button> <a href="/members">取消</a></p></form>"#,
        action = esc(action),
        csrf = esc(csrf),
        name = esc(&v(|m| m.profile.name.clone())),
        email = esc(&v(|m| m.profile.email.to_string())),
        phone = esc(&v(|m| m.profile.phone.clone())),
        title = esc(&v(|m| m.profile.title.clone())),
        admin = radio("is_admin", m.is_some_and(|m| m.profile.is_admin)),
        carbon = radio("carbon_login", m.is_none_or(|m| m.profile.carbon_login)),
    )
}

async fn members_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, AppError> {
    let (_, who) = signed_in(&app, &headers).await?;
    let members = app.portal.list_members(&who).await?;
    if wants_json(&headers) {
        return Ok(Json(json!({ "members": members })).into_response());
    }
    let csrf = esc(&who.session.csrf);
    let rows: String = members
        .iter()
        .map(|m| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/members/{id}\">編輯</a> \
                 <form method=\"post\" action=\"/members/{id}/delete\" style=\"display:inline\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\">移除成員</button></form></td></tr>",
                esc(&m.profile.name),
                esc(&m.profile.title),
                esc(m.profile.email.as_str()),
                yes(m.profile.is_admin),
                yes(m.profile.carbon_login),
                id = esc(m.id.as_str()),
            )
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        "成員管理",
        &format!(
            "<h1>企業成員</h1><table><tr><th>使用者名稱</th><th>職稱</th><th>Email</th><th>是否具管理權限</th><th>碳星雲登入權限</th><th>功能</th></tr>{rows}</table>\
             <h2>+ 新增成員</h2>{}",
            member_form("/members", &who.session.csrf, None, "儲存")
        ),
    ))
}

async fn add_member(State(app): State<Arc<App>>, headers: HeaderMap, Form(raw): Form) -> Result<Response, AppError> {
    let (_, who) = signed_in(&app, &headers).await?;
    check_csrf(&who, &raw)?;
    let m = app.portal.add_member(&who, &raw).await?;
    if wants_json(&headers) {
        return Ok((StatusCode::CREATED, Json(json!({ "member": m }))).into_response());
    }
    Ok(Redirect::to("/members").into_response())
}

async fn edit_page(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, AppError> {
    let (_, who) = signed_in(&app, &headers).await?;
    let m = app.portal.get_member(&who, &id).await?;
    if wants_json(&headers) {
        return Ok(Json(json!({ "member": m })).into_response());
    }
    Ok(html(
        StatusCode::OK,
        "成員資料",
        &format!("<h1>成員資料</h1>{}", member_form(&format!("/members/{}", m.id), &who.session.csrf, Some(&m), "儲存")),
    ))
}

async fn update_member(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, Form(raw): Form) -> Result<Response, AppError> {
    let (_, who) = signed_in(&app, &headers).await?;
    check_csrf(&who, &raw)?;
    let m = app.portal.update_member(&who, &id, &raw).await?;
    if wants_json(&headers) {
        return Ok(Json(json!({ "member": m })).into_response());
    }
    Ok(Redirect::to("/members").into_response())
}

async fn remove_member(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, Form(raw): Form) -> Result<Response, AppError> {
    let (_, who) = signed_in(&app, &headers).await?;
    check_csrf(&who, &raw)?;
    app.portal.remove_member(&who, &id).await?;
    if wants_json(&headers) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Redirect::to("/members").into_response())
}
