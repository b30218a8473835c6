//! Function `portal`: sign-in without passwords and member management.
//!
//! - `GET/POST /login`: ask for a sign-in link (the same answer whether or not the
//!   e-mail is known);
//! - `GET /login/{secret}` shows a confirm button (mail scanners must not use the link
//!   up), `POST /login/{secret}` signs in: session cookie (HttpOnly, SameSite=Lax,
//!   Secure outside plain-http local mode);
//! - `GET /portal`, `POST /logout`;
//! - `/members` (admins only): list, add, edit, remove. Every POST carries the
//!   session's CSRF token (`Guarded<PortalSession>`), and a POST from another origin
//!   is refused;
//! - `GET /assets/app.css`: the one stylesheet of every page.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ecosphere::domain::Member;
use ecosphere::error::AppError;
use ecosphere::services::portal::SESSION_HOURS;
use ecosphere::web::session::{self, clear_cookie, set_cookie, CARBON_COOKIE, PORTAL_COOKIE};
use ecosphere::web::{portal_page, wants_json, Form, Guarded, PortalSession};
use ecosphere::App;
use maud::{html, Markup};
use serde_json::json;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/login", get(login_page).post(request_link))
        .route("/login/{secret}", get(confirm_page).post(sign_in))
        .route("/logout", post(sign_out))
        .route("/portal", get(home))
        .route("/members", get(members_page).post(add_member))
        .route("/members/{id}", get(edit_page).post(update_member))
        .route("/members/{id}/delete", post(remove_member))
        .route(ecosphere::web::layout::STYLESHEET_PATH, get(ecosphere::web::layout::stylesheet))
        .layer(axum::middleware::from_fn_with_state(app.clone(), ecosphere::web::same_origin))
        .with_state(app)
}

async fn login_page() -> Response {
    portal_page(
        StatusCode::OK,
        "登入",
        html! {
            h1 { "登入 EcoSphere 平台" }
            p { "輸入您的公司成員 Email，我們會寄送一次性的登入連結（15 分鐘內有效），無需密碼。" }
            form method="post" action="/login" {
                p {
                    label.field for="email" { "Email" }
                    input type="email" id="email" name="email" required maxlength="254" autocomplete="email";
                }
                p { button type="submit" { "寄送登入連結" } }
            }
        },
    )
}

async fn request_link(State(app): State<Arc<App>>, ext: axum::http::Extensions, headers: HeaderMap, Form(raw): Form) -> Result<Response, AppError> {
    let client = ecosphere::web::client_key(&ext);
    app.portal.request_login_from(raw.first("email").unwrap_or_default(), Some(&client)).await?;
    let msg = "若此 Email 是已通過審核公司的成員，您將在幾分鐘內收到登入連結（15 分鐘內有效）。";
    if wants_json(&headers) {
        return Ok((StatusCode::ACCEPTED, Json(json!({ "message": msg }))).into_response());
    }
    Ok(portal_page(StatusCode::OK, "請查看您的信箱", html! { h1 { "請查看您的信箱" } p { (msg) } }))
}

async fn confirm_page(State(app): State<Arc<App>>, Path(secret): Path<String>) -> Result<Response, AppError> {
    if !app.portal.login_link_valid(&secret).await? {
        return Err(AppError::Gone("登入連結已失效（已使用或超過 15 分鐘），請重新申請登入連結。".into()));
    }
    Ok(portal_page(
        StatusCode::OK,
        "確認登入",
        html! {
            h1 { "確認登入" }
            p { "按下按鈕即登入 EcoSphere 平台。" }
            form method="post" action={ "/login/" (secret) } { button type="submit" { "登入" } }
        },
    ))
}

async fn sign_in(State(app): State<Arc<App>>, Path(secret): Path<String>) -> Result<Response, AppError> {
    let (sid, who) = app.portal.sign_in(&secret).await?;
    let target = if who.member.profile.is_admin { "/members" } else { "/portal" };
    let mut resp = Redirect::to(target).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, set_cookie(&app, PORTAL_COOKIE, &sid, SESSION_HOURS * 3600));
    Ok(resp)
}

async fn sign_out(State(app): State<Arc<App>>, headers: HeaderMap, g: Guarded<PortalSession>) -> Result<Response, AppError> {
    app.portal.sign_out(session::Session::secret(&g.session)).await?;
    // Logging out of the portal ends the carbon platform session of this browser too.
    if let Some(carbon) = session::cookie(&headers, CARBON_COOKIE) {
        ecosphere::services::sso::end_carbon_session(app.tokens.as_ref(), &carbon, app.clock.now()).await?;
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, clear_cookie(&app, PORTAL_COOKIE));
    resp.headers_mut().append(header::SET_COOKIE, clear_cookie(&app, CARBON_COOKIE));
    Ok(resp)
}

fn yes(b: bool) -> &'static str {
    if b {
        "是"
    } else {
        "否"
    }
}

fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name=(session::CSRF_FIELD) value=(csrf); }
}

async fn home(State(_app): State<Arc<App>>, headers: HeaderMap, s: PortalSession) -> Result<Response, AppError> {
    let m = &s.who.member;
    if wants_json(&headers) {
        return Ok(Json(json!({ "member": m })).into_response());
    }
    Ok(portal_page(
        StatusCode::OK,
        "會員中心",
        html! {
            h1 { "會員中心" }
            p { (m.profile.name) "（" (m.profile.email.as_str()) "），公司統編 " (m.tax_id.as_str()) }
            form method="post" action="/sso/start" {
                (csrf_field(&s.csrf))
                button type="submit" { "碳星雲服務平台登入" }
            }
            @if m.profile.is_admin {
                p { a.button href="/members" { "成員管理" } }
            }
            form method="post" action="/logout" {
                (csrf_field(&s.csrf))
                button.secondary type="submit" { "登出" }
            }
        },
    ))
}

fn yes_no(name: &str, legend: &str, on: bool) -> Markup {
    html! {
        fieldset {
            legend.field { (legend) span.req { "*" } }
            label { input type="radio" name=(name) value="yes" checked[on]; " 是" }
            " "
            label { input type="radio" name=(name) value="no" checked[!on]; " 否" }
        }
    }
}

fn member_form(action: &str, csrf: &str, m: Option<&Member>, submit: &str) -> Markup {
    let v = |f: fn(&Member) -> String| m.map(f).unwrap_or_default();
    // Ids differ between the add form and an edit form on one page.
    let p = if m.is_some() { "edit" } else { "new" };
    html! {
        form method="post" action=(action) {
            (csrf_field(csrf))
            div.grid {
                p { label.field for={ (p) "-name" } { "使用者名稱" span.req { "*" } }
                    input type="text" id={ (p) "-name" } name="name" maxlength="50" required value=(v(|m| m.profile.name.clone())); }
                p { label.field for={ (p) "-email" } { "Email" span.req { "*" } }
                    input type="email" id={ (p) "-email" } name="email" maxlength="254" required value=(v(|m| m.profile.email.to_string())); }
                p { label.field for={ (p) "-phone" } { "電話" }
                    input type="tel" id={ (p) "-phone" } name="phone" maxlength="30" value=(v(|m| m.profile.phone.clone())); }
                p { label.field for={ (p) "-title" } { "職稱" }
                    input type="text" id={ (p) "-title" } name="title" maxlength="50" value=(v(|m| m.profile.title.clone())); }
            }
            (yes_no("is_admin", "是否為管理員", m.is_some_and(|m| m.profile.is_admin)))
            (yes_no("carbon_login", "碳星雲登入權限", m.is_none_or(|m| m.profile.carbon_login)))
            p { button type="submit" { (submit) } " " a href="/members" { "取消" } }
        }
    }
}

async fn members_page(State(app): State<Arc<App>>, headers: HeaderMap, s: PortalSession) -> Result<Response, AppError> {
    let members = app.portal.list_members(&s.who).await?;
    if wants_json(&headers) {
        return Ok(Json(json!({ "members": members })).into_response());
    }
    Ok(portal_page(
        StatusCode::OK,
        "成員管理",
        html! {
            h1 { "企業成員" }
            p { a href="/portal" { "← 回到會員中心" } }
            div.table-scroll {
                table {
                    thead { tr {
                        th scope="col" { "使用者名稱" } th scope="col" { "職稱" } th scope="col" { "Email" }
                        th scope="col" { "是否具管理權限" } th scope="col" { "碳星雲登入權限" } th scope="col" { "功能" }
                    } }
                    tbody {
                        @for m in &members {
                            tr {
                                td { (m.profile.name) } td { (m.profile.title) } td { (m.profile.email.as_str()) }
                                td { (yes(m.profile.is_admin)) } td { (yes(m.profile.carbon_login)) }
                                td {
                                    a href={ "/members/" (m.id.as_str()) } { "編輯" } " "
                                    form.inline method="post" action={ "/members/" (m.id.as_str()) "/delete" } {
                                        (csrf_field(&s.csrf))
                                        button.secondary type="submit" aria-label={ "移除成員 " (m.profile.name) } { "移除成員" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "+ 新增成員" }
            (member_form("/members", &s.csrf, None, "儲存"))
        },
    ))
}

async fn add_member(State(app): State<Arc<App>>, headers: HeaderMap, g: Guarded<PortalSession>) -> Result<Response, AppError> {
    let m = app.portal.add_member(&g.session.who, &g.form).await?;
    if wants_json(&headers) {
        return Ok((StatusCode::CREATED, Json(json!({ "member": m }))).into_response());
    }
    Ok(Redirect::to("/members").into_response())
}

async fn edit_page(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, s: PortalSession) -> Result<Response, AppError> {
    let m = app.portal.get_member(&s.who, &id).await?;
    if wants_json(&headers) {
        return Ok(Json(json!({ "member": m })).into_response());
    }
    let action = format!("/members/{}", m.id);
    Ok(portal_page(StatusCode::OK, "成員資料", html! { h1 { "成員資料" } (member_form(&action, &s.csrf, Some(&m), "儲存")) }))
}

async fn update_member(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, g: Guarded<PortalSession>) -> Result<Response, AppError> {
    let m = app.portal.update_member(&g.session.who, &id, &g.form).await?;
    if wants_json(&headers) {
        return Ok(Json(json!({ "member": m })).into_response());
    }
    Ok(Redirect::to("/members").into_response())
}

async fn remove_member(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, g: Guarded<PortalSession>) -> Result<Response, AppError> {
    app.portal.remove_member(&g.session.who, &id).await?;
    if wants_json(&headers) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Redirect::to("/members").into_response())
}
