//! Function `apply`: the 碳星雲服務申請表單.
//!
//! - `GET /apply` renders the form (zh-TW) with the seed's notices;
//! - `POST /apply` validates and stores a pending application (303 to its status page,
//!   or 201 JSON); invalid input is a 422 with a message per field, a company that is
//!   already pending or approved a 409;
//! - `GET /applications/{id}` shows 審核中 / 審核通過 / 審核未通過.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use ecosphere::domain::{
    fields, Application, ApplicationStatus, FieldErrors, FieldSpec, Interest, InventoryStatus, RawForm, Region,
};
use ecosphere::error::AppError;
use ecosphere::web::{portal_page, wants_json, Form};
use maud::{html, Markup};
use ecosphere::App;
use serde_json::json;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/apply", get(form_page).post(submit))
        .route("/applications/{id}", get(status_page))
        .layer(axum::middleware::from_fn_with_state(app.clone(), ecosphere::web::same_origin))
        .with_state(app)
}

async fn form_page(headers: HeaderMap) -> Response {
    if wants_json(&headers) {
        return Json(form_schema()).into_response();
    }
    render_form(StatusCode::OK, &RawForm::default(), &FieldErrors::default(), None)
}

async fn submit(State(app): State<Arc<App>>, headers: HeaderMap, Form(raw): Form) -> Result<Response, AppError> {
    let json = wants_json(&headers);
    match app.apply.submit(&raw).await {
        Ok(sub) => {
            let a = sub.application();
            if json {
                // A replay answers exactly as the first submission did.
                Ok((StatusCode::CREATED, Json(json!({ "id": a.id, "status": a.status.code() }))).into_response())
            } else {
                Ok(Redirect::to(&format!("/applications/{}", a.id)).into_response())
            }
        }
        Err(AppError::Validation(errors)) if !json => {
            Ok(render_form(StatusCode::UNPROCESSABLE_ENTITY, &raw, &errors, Some("輸入資料有誤，請依欄位提示修正後再送出。")))
        }
        Err(e) => Err(e),
    }
}

async fn status_page(State(app): State<Arc<App>>, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    let a = app.apply.get(&id).await?;
    if wants_json(&headers) {
        return Ok(Json(status_json(&a)).into_response());
    }
    Ok(render_status(&a))
}


/// Masks an address for display on a page anyone with the link can open: `m***@vitamin.com.tw`.
fn mask_email(addr: &str) -> String {
    match addr.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

fn status_json(a: &Application) -> serde_json::Value {
    json!({
        "id": a.id,
        "status": a.status.code(),
        "status_label": a.status.label(),
        "company_name": a.form.company_name,
        "tax_id": a.form.tax_id,
        "submitted_at": a.submitted_at,
        "decided_at": a.decision.as_ref().map(|d| d.decided_at),
        "reason": a.decision.as_ref().and_then(|d| d.reason.clone()),
    })
}

fn render_status(a: &Application) -> Response {
    let class = match a.status {
        ApplicationStatus::Pending => "status-pending",
        ApplicationStatus::Approved => "status-approved",
        ApplicationStatus::Rejected => "status-rejected",
    };
    let body = html! {
        h1 { "碳星雲服務申請進度" }
        p class={ "status " (class) } data-status=(a.status.code()) { (a.status.label()) }
        @match a.status {
            ApplicationStatus::Pending => {
                p { "您的申請已送出，正在由審核單位進行資格審查與評估。審核時間通常需要 3-5 個工作天，審核結果將以 Email 寄送至 "
                    (mask_email(a.form.contact_email.as_str())) "。" }
            }
            ApplicationStatus::Approved => {
                p { "您申請的碳星雲服務平台帳號已通過審核！請" a href="/login" { "登入 EcoSphere 平台" }
                    "，點擊「碳星雲服務平台登入」即可開始使用服務，試用期間為 6 個月。" }
            }
            ApplicationStatus::Rejected => {
                p { "很抱歉，您申請的碳星雲服務平台帳號未通過審核。" }
                p { "退件原因：" }
                p.alert { (a.decision.as_ref().and_then(|d| d.reason.as_deref()).unwrap_or("（未提供）")) }
                p { "您可以修正後" a href="/apply" { "重新提出申請" } "。" }
            }
        }
        dl {
            dt { "公司名稱" } dd { (a.form.company_name) }
            dt { "公司統編" } dd { (a.form.tax_id.as_str()) }
            dt { "申請時間" } dd { (ecosphere::domain::taipei_minutes(a.submitted_at)) "（台北時間）" }
            @if let Some(d) = &a.decision {
                dt { "審核時間" } dd { (ecosphere::domain::taipei_minutes(d.decided_at)) }
            }
            dt { "申請編號" } dd { code { (a.id.as_str()) } }
        }
        p.notice { "請保存此頁網址以便查詢申請進度。" }
    };
    portal_page(StatusCode::OK, &format!("申請進度：{}", a.status.label()), body)
}

/// The form's fields for JSON clients: names, labels, required, caps and choices.
fn form_schema() -> serde_json::Value {
    let f = |s: FieldSpec| json!({ "name": s.name, "label": s.label, "required": s.required, "max_chars": s.max_chars });
    let choices = |all: Vec<(&str, &str)>| all.into_iter().map(|(c, l)| json!({ "value": c, "label": l })).collect::<Vec<_>>();
    json!({
        "title": "碳星雲服務申請表單",
        "fields": [
            f(fields::COMPANY_NAME), f(fields::TAX_ID), f(fields::PRODUCTS), f(fields::APPLICANT_NAME),
            f(fields::APPLICANT_DEPARTMENT), f(fields::APPLICANT_TITLE), f(fields::CONTACT_EMAIL), f(fields::CONTACT_PHONE),
            f(fields::NOTES),
        ],
        "regions": choices(Region::ALL.iter().map(|r| (r.code(), r.label())).collect()),
        "inventory_status": choices(InventoryStatus::ALL.iter().map(|r| (r.code(), r.label())).collect()),
        "interests": choices(Interest::ALL.iter().map(|r| (r.code(), r.label())).collect()),
        "notices": NOTICES,
    })
}

const NOTICES: [&str; 5] = [
    "一個公司(一個場域)目前開放申請一個帳號，如果有特殊情況請在備註告知，會有專人聯絡。",
    "審核完成後會發信通知審核結果；審核通過後，公司成員可由 EcoSphere 平台點擊「碳星雲服務平台登入」直接進入，無需另設帳號密碼。",
    "使用期間為6個月。",
    "參與專案者，具相關保密義務，本系統及相關文件，僅限申請公司使用，未經授權禁止交付第三方。",
    "主辦方保留最後審核通過權力。",
];

fn required_mark(spec: FieldSpec) -> Markup {
    html! { @if spec.required { span.req { "*" } } }
}

fn error_note(spec: FieldSpec, errors: &FieldErrors) -> Markup {
    html! { @if let Some(m) = errors.get(spec.name) { p.error id={ (spec.name) "-error" } { (m) } } }
}

fn text_input(spec: FieldSpec, raw: &RawForm, errors: &FieldErrors, kind: &str, placeholder: &str, hint: Option<&str>) -> Markup {
    let err = errors.get(spec.name).is_some();
    let described = err.then(|| format!("{}-error", spec.name));
    html! {
        div class=[err.then_some("has-error")] {
            label.field for=(spec.name) {
                (spec.label) (required_mark(spec))
                @if let Some(h) = hint { br; small { (h) } }
            }
            input type=(kind) id=(spec.name) name=(spec.name) value=(raw.first(spec.name).unwrap_or_default())
                maxlength=(spec.max_chars) placeholder=(placeholder) required[spec.required]
                aria-invalid=[err.then_some("true")] aria-describedby=[described];
            (error_note(spec, errors))
        }
    }
}

fn choice_group(spec: FieldSpec, raw: &RawForm, errors: &FieldErrors, kind: &str, options: &[(&str, &str)]) -> Markup {
    let selected: Vec<&str> = raw.all(spec.name).collect();
    let err = errors.get(spec.name).is_some();
    let hint = kind == "checkbox" && spec.name == fields::INTERESTS.name;
    html! {
        div class=[err.then_some("has-error")] {
            fieldset id=(spec.name) aria-describedby=[err.then(|| format!("{}-error", spec.name))] {
                legend.field { (spec.label) (required_mark(spec)) @if hint { "（可複選）" } }
                @for (code, label) in options {
                    label { input type=(kind) name=(spec.name) value=(code) checked[selected.contains(code)]; " " (label) } " "
                }
            }
            (error_note(spec, errors))
        }
    }
}

fn render_form(status: StatusCode, raw: &RawForm, errors: &FieldErrors, alert: Option<&str>) -> Response {
    let key = raw
        .first(fields::IDEMPOTENCY_KEY.name)
        .filter(|k| !k.is_empty() && k.len() <= 100)
        .map(str::to_string)
        .unwrap_or_else(uuid_like);
    let regions: Vec<(&str, &str)> = Region::ALL.iter().map(|r| (r.code(), r.label())).collect();
    let statuses: Vec<(&str, &str)> = InventoryStatus::ALL.iter().map(|r| (r.code(), r.label())).collect();
    let interests: Vec<(&str, &str)> = Interest::ALL.iter().map(|r| (r.code(), r.label())).collect();
    let body = html! {
        h1 { "碳星雲服務申請表單" }
        ul {
            li { span.req { "*" } " 字號為必填欄位" }
            li { "填寫完欄位資訊後，審核資料將會交由資策會進行審核，審核時間通常需要 3-5 個工作天" }
            li { "一個公司(一個場域)目前開放申請一個帳號，如提交申請後有通過審核，同公司的成員皆可使用同一組帳號進入碳星雲平台" }
            li { "審核無論通過與否，皆會發送通知信給申請者" }
        }
        div.notice { strong { "注意事項：" } ol { @for n in NOTICES { li { (n) } } } }
        @if let Some(a) = alert { p.alert role="alert" { (a) } }
        @if let Some(m) = errors.get(fields::IDEMPOTENCY_KEY.name) { p.alert { (m) } }
        form method="post" action="/apply" accept-charset="utf-8" novalidate {
            input type="hidden" name="idempotency_key" value=(key);
            div.grid {
                (text_input(fields::COMPANY_NAME, raw, errors, "text", "例如：維他命股份有限公司", None))
                (text_input(fields::APPLICANT_NAME, raw, errors, "text", "請輸入申請人姓名", None))
                (text_input(fields::TAX_ID, raw, errors, "text", "8 位數字，例如 99754141", None))
                (text_input(fields::APPLICANT_DEPARTMENT, raw, errors, "text", "請輸入申請人部門", None))
                (text_input(fields::PRODUCTS, raw, errors, "text", "請輸入公司服務項目及主要產品", None))
                (text_input(fields::APPLICANT_TITLE, raw, errors, "text", "請輸入申請人職務", None))
                (text_input(fields::CONTACT_EMAIL, raw, errors, "email", "請輸入申請人email",
                    Some("請用公司信箱，不接受免費信箱，例如 hotmail、gmail 等，有特殊情況請在下方備註告知")))
                (text_input(fields::CONTACT_PHONE, raw, errors, "tel", "請輸入申請人連絡電話", None))
            }
            (choice_group(fields::REGIONS, raw, errors, "checkbox", &regions))
            (choice_group(fields::INVENTORY_STATUS, raw, errors, "radio", &statuses))
            (choice_group(fields::INTERESTS, raw, errors, "checkbox", &interests))
            (text_input(fields::NOTES, raw, errors, "text", "有需要補充的問題可以放在這裡", None))
            p { "送出後系統將顯示「審核中」。" }
            p { button type="submit" { "送出" } }
        }
    };
    let mut resp = portal_page(status, "碳星雲服務申請表單", body);
    resp.headers_mut().insert(header::VARY, header::HeaderValue::from_static("accept"));
    resp
}

fn uuid_like() -> String {
    ecosphere::domain::ApplicationId::new().as_str().to_string()
}
