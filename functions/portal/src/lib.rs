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
//! - `/company?year=` (公司資料維護): the firm profile of an inventory year — members
//!   read it, admins change it (422 per field, 409 on a stale version);
//! - `GET /assets/app.css`: the one stylesheet of every page.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ecosphere::domain::application::{FieldErrors, RawForm};
use ecosphere::domain::{Counties, Member};
use ecosphere::error::AppError;
use ecosphere::services::portal::SESSION_HOURS;
use ecosphere::web::session::{self, clear_cookie, set_cookie, CARBON_COOKIE, PORTAL_COOKIE};
use ecosphere::web::{portal_page, signin, wants_json, Form, Guarded, PortalSession};
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
        .route("/company", get(company_page).post(save_company))
        .route(ecosphere::web::layout::STYLESHEET_PATH, get(ecosphere::web::layout::stylesheet))
        .layer(axum::middleware::from_fn_with_state(app.clone(), ecosphere::web::same_origin))
        .with_state(app)
}

async fn login_page() -> Response {
    signin::login_page("登入 EcoSphere 平台", "輸入您的公司成員 Email，我們會寄送一次性的登入連結（15 分鐘內有效），無需密碼。", "/login")
}

async fn request_link(State(app): State<Arc<App>>, ext: axum::http::Extensions, headers: HeaderMap, Form(raw): Form) -> Result<Response, AppError> {
    let client = ecosphere::web::client_key(&ext);
    app.portal.request_login_from(raw.first("email").unwrap_or_default(), Some(&client)).await?;
    Ok(signin::link_sent(&headers, "若此 Email 是已通過審核公司的成員，您將在幾分鐘內收到登入連結（15 分鐘內有效）。"))
}

async fn confirm_page(State(app): State<Arc<App>>, Path(secret): Path<String>) -> Result<Response, AppError> {
    if !app.portal.login_link_valid(&secret).await? {
        return Err(AppError::Gone("登入連結已失效（已使用或超過 15 分鐘），請重新申請登入連結。".into()));
    }
    Ok(signin::confirm_page("確認登入", "按下按鈕即登入 EcoSphere 平台。", &format!("/login/{secret}")))
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
            p {
                @if m.profile.is_admin { a.button href="/members" { "成員管理" } " " }
                a.button href="/company" { "公司資料維護" }
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

#[derive(serde::Deserialize)]
struct YearQuery {
    year: Option<String>,
    saved: Option<String>,
}

fn year_of(app: &App, q: Option<&str>) -> Result<i32, AppError> {
    let year = match q.map(str::trim).filter(|y| !y.is_empty()) {
        None => app.firms.default_year(),
        Some(y) => y.parse().map_err(|_| AppError::Validation(FieldErrors::single("year", "年度須為西元年，例如 2025")))?,
    };
    app.firms.check_year(year)
}

/// The company name from the approved application, for a first profile.
async fn applied_name(app: &App, s: &PortalSession) -> Result<Option<String>, AppError> {
    let apps = app.applications.list_for_company(&s.who.session.tax_id).await?;
    Ok(apps.iter().rev().find(|a| a.status == ecosphere::domain::ApplicationStatus::Approved).map(|a| a.form.company_name.clone()))
}

async fn company_page(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<YearQuery>, s: PortalSession) -> Result<Response, AppError> {
    let year = year_of(&app, q.year.as_deref())?;
    let view = app.firms.view(&s.who.session.tax_id, year).await?;
    if wants_json(&headers) {
        return Ok(Json(json!({ "year": year, "profile": view.profile, "prefill_from_year": view.prefill_from.as_ref().map(|p| p.year) })).into_response());
    }
    let (raw, version) = match (&view.profile, &view.prefill_from) {
        (Some(p), _) => (p.fields.to_form(), p.version),
        (None, Some(prev)) => (prev.fields.to_form(), 0),
        (None, None) => (RawForm(applied_name(&app, &s).await?.map(|n| vec![("name".to_string(), n)]).unwrap_or_default()), 0),
    };
    let mut page = company_form(StatusCode::OK, &app, &s, year, &raw, version, &FieldErrors::default(), view.profile.as_ref(), view.prefill_from.as_ref().map(|p| p.year), q.saved.is_some());
    page.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(page)
}

async fn save_company(State(app): State<Arc<App>>, headers: HeaderMap, g: Guarded<PortalSession>) -> Result<Response, AppError> {
    let s = &g.session;
    if !s.who.member.profile.is_admin {
        return Err(AppError::Forbidden("只有公司管理員可以修改公司資料，請洽貴公司的管理員。".into()));
    }
    let year = year_of(&app, g.form.first("year"))?;
    match app.firms.save(&s.who.session.tax_id, year, &g.form, s.who.member.profile.email.as_str()).await {
        Ok(p) if wants_json(&headers) => Ok(Json(json!({ "profile": p })).into_response()),
        Ok(p) => Ok(Redirect::to(&format!("/company?year={}&saved={}", p.year, p.version)).into_response()),
        Err(AppError::Validation(errors)) if !wants_json(&headers) => {
            let version = g.form.first("version").and_then(|v| v.parse().ok()).unwrap_or(0);
            Ok(company_form(StatusCode::UNPROCESSABLE_ENTITY, &app, s, year, &g.form, version, &errors, None, None, false))
        }
        Err(e) => Err(e),
    }
}

fn field_error(name: &str, errors: &FieldErrors) -> Markup {
    html! { @if let Some(m) = errors.get(name) { p.error id={ (name) "-error" } { (m) } } }
}

#[allow(clippy::too_many_arguments)]
fn text_row(name: &str, label: &str, required: bool, raw: &RawForm, errors: &FieldErrors, kind: &str, mode: Option<&str>, hint: &str, readonly: bool) -> Markup {
    let err = errors.get(name).is_some();
    html! {
        div class=[err.then_some("has-error")] {
            p {
                label.field for=(name) { (label) @if required { span.req { "*" } } }
                input type=(kind) id=(name) name=(name) value=(raw.first(name).unwrap_or_default()) required[required]
                    inputmode=[mode] readonly[readonly] maxlength="200"
                    aria-invalid=[err.then_some("true")] aria-describedby=[err.then(|| format!("{name}-error"))];
                @if !hint.is_empty() { small.hint { (hint) } }
            }
            (field_error(name, errors))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn company_form(
    status: StatusCode,
    app: &App,
    s: &PortalSession,
    year: i32,
    raw: &RawForm,
    version: u32,
    errors: &FieldErrors,
    saved: Option<&ecosphere::domain::FirmProfile>,
    prefilled_from: Option<i32>,
    just_saved: bool,
) -> Response {
    let admin = s.who.member.profile.is_admin;
    let ro = !admin;
    let county = raw.first("county").unwrap_or_default();
    let county_err = errors.get("county").is_some();
    let years: Vec<i32> = ((app.firms.default_year() - 3)..=(app.firms.default_year() + 1)).rev().collect();
    let derived = saved.map(|p| (p.fields.division(), p.fields.sector(), p.fields.is_indicator(p.year)));
    portal_page(
        status,
        "公司資料維護",
        html! {
            h1 { "公司資料維護" }
            p { a href="/portal" { "← 回到會員中心" } }
            nav aria-label="年度" {
                p { "年度：" @for y in &years { @if *y == year { strong aria-current="page" { (y) } } @else { a href={ "/company?year=" (y) } { (y) } } " " } }
            }
            @if !errors.is_empty() { p.alert role="alert" { "輸入資料有誤，請依欄位提示修正後再送出。" } }
            @if just_saved { p.notice role="status" { "已儲存。" } }
            @if let Some(p) = saved {
                div.notice {
                    p { (year) " 年度公司資料（第 " (p.version) " 版，" (p.updated_at.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8")).format("%Y-%m-%d %H:%M")) " 由 " (p.updated_by) " 更新）" }
                    @if let Some((division, sector, indicator)) = derived {
                        ul {
                            li { "行業：" @if let Some(d) = division { (d.section) " " (d.section_name) " ／ " (d.code) " " (d.name) } }
                            li { "產業別：" (sector.label()) }
                            li { "指標型企業（年營收 500 萬元以上或資本額 200 萬元以上）：" (yes(indicator)) }
                        }
                    }
                }
            } @else if let Some(y) = prefilled_from {
                p.notice { (year) " 年度尚未填寫；下列欄位先帶入 " (y) " 年度的資料，請確認後儲存。" }
            } @else if errors.is_empty() {
                p.notice { (year) " 年度尚未填寫公司資料。行業代號、縣市與規模用於同業比較（行業對標）與全國統計。" }
            }
            @if ro { p { "只有公司管理員可以修改公司資料。" } }
            form method="post" action="/company" {
                (csrf_field(&s.csrf))
                input type="hidden" name="year" value=(year);
                input type="hidden" name="version" value=(version);
                p { "統一編號：" (s.who.session.tax_id.as_str()) }
                div.grid {
                    (text_row("name", "公司名稱", true, raw, errors, "text", None, "", ro))
                    (text_row("industry_code", "稅務行業代號（6 碼）", true, raw, errors, "text", Some("numeric"), "見營業登記或稅籍資料，例如金屬製品製造業 251111～259999", ro))
                    div class=[county_err.then_some("has-error")] {
                        p {
                            label.field for="county" { "縣市" span.req { "*" } }
                            select id="county" name="county" required disabled[ro] aria-invalid=[county_err.then_some("true")] aria-describedby=[county_err.then_some("county-error")] {
                                option value="" { "請選擇" }
                                @for c in &Counties::builtin().counties { option value=(c.code) selected[c.code == county] { (c.name) } }
                            }
                        }
                        (field_error("county", errors))
                    }
                    (text_row("address", "地址", true, raw, errors, "text", None, "", ro))
                    (text_row("employees", "員工人數（人）", true, raw, errors, "text", Some("numeric"), "", ro))
                    (text_row("revenue_ntd", "年營業額（新台幣元）", true, raw, errors, "text", Some("numeric"), "例如 6,000,000", ro))
                    (text_row("capital_ntd", "實收資本額（新台幣元）", true, raw, errors, "text", Some("numeric"), "", ro))
                    (text_row("floor_area_m2", "樓地板面積（平方公尺）", false, raw, errors, "text", Some("decimal"), "選填；用於每平方公尺排放強度", ro))
                }
                @if admin { p { button type="submit" { "儲存" } } }
            }
        },
    )
}
