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
use chrono::{DateTime, FixedOffset, Utc};
use ecosphere::domain::{
    fields, Application, ApplicationStatus, FieldErrors, FieldSpec, Interest, InventoryStatus, RawForm, Region,
};
use ecosphere::error::AppError;
use ecosphere::web::{esc, html, wants_json, Form};
use ecosphere::App;
use serde_json::json;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/apply", get(form_page).post(submit))
        .route("/applications/{id}", get(status_page))
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

fn taipei(t: DateTime<Utc>) -> String {
    t.with_timezone(&FixedOffset::east_opt(8 * 3600).expect("valid offset")).format("%Y/%m/%d %H:%M").to_string()
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
    let (class, detail) = match a.status {
        ApplicationStatus::Pending => (
            "status-pending",
            format!(
                "<p>您的申請已送出，正在由審核單位進行資格審查與評估。審核時間通常需要 3-5 個工作天，審核結果將以 Email 寄送至 {}。</p>",
                esc(&mask_email(a.form.contact_email.as_str()))
            ),
        ),
        ApplicationStatus::Approved => (
            "status-approved",
            "<p>您申請的碳星雲服務平台帳號已通過審核！請登入 EcoSphere 平台，點擊「碳星雲服務平台登入」即可開始使用服務，試用期間為 6 個月。</p>".to_string(),
        ),
        ApplicationStatus::Rejected => (
            "status-rejected",
            format!(
                "<p>很抱歉，您申請的碳星雲服務平台帳號未通過審核。</p><p>退件原因：</p><p class=\"alert\">{}</p><p>您可以修正後<a href=\"/apply\">重新提出申請</a>。</p>",
                esc(a.decision.as_ref().and_then(|d| d.reason.as_deref()).unwrap_or("（未提供）"))
            ),
        ),
    };
    let decided = a
        .decision
        .as_ref()
        .map(|d| format!("<dt>審核時間</dt><dd>{}</dd>", taipei(d.decided_at)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>碳星雲服務申請進度</h1>
<p class="status {class}" data-status="{code}">{label}</p>
{detail}
<dl>
<dt>公司名稱</dt><dd>{company}</dd>
<dt>公司統編</dt><dd>{tax}</dd>
<dt>申請時間</dt><dd>{submitted}（台北時間）</dd>
{decided}
<dt>申請編號</dt><dd><code>{id}</code></dd>
</dl>
<p class="notice">請保存此頁網址以便查詢申請進度。</p>"#,
        code = a.status.code(),
        label = a.status.label(),
        company = esc(&a.form.company_name),
        tax = esc(a.form.tax_id.as_str()),
        submitted = taipei(a.submitted_at),
        id = esc(a.id.as_str()),
    );
    html(StatusCode::OK, &format!("申請進度：{}", a.status.label()), &body)
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

fn text_input(spec: FieldSpec, raw: &RawForm, errors: &FieldErrors, kind: &str, placeholder: &str, extra: &str) -> String {
    let value = raw.first(spec.name).unwrap_or_default();
    let err = errors.get(spec.name);
    format!(
        r#"<div class="{cls}"><label class="field" for="{n}">{label}{req}{extra}</label>
<input type="{kind}" id="{n}" name="{n}" value="{v}" maxlength="{max}" placeholder="{ph}"{required}{aria}>{msg}</div>"#,
        cls = if err.is_some() { "has-error" } else { "" },
        n = spec.name,
        label = esc(spec.label),
        req = if spec.required { "<span class=\"req\">*</span>" } else { "" },
        kind = kind,
        v = esc(value),
        max = spec.max_chars,
        ph = esc(placeholder),
        required = if spec.required { " required" } else { "" },
        aria = if err.is_some() { format!(" aria-invalid=\"true\" aria-describedby=\"{}-error\"", spec.name) } else { String::new() },
        msg = err.map(|m| format!("<p class=\"error\" id=\"{}-error\">{}</p>", spec.name, esc(m))).unwrap_or_default(),
    )
}

fn choice_group(spec: FieldSpec, raw: &RawForm, errors: &FieldErrors, kind: &str, options: &[(&str, &str)]) -> String {
    let selected: Vec<&str> = raw.all(spec.name).collect();
    let err = errors.get(spec.name);
    let mut inputs = String::new();
    for (code, label) in options {
        inputs.push_str(&format!(
            r#"<label><input type="{kind}" name="{n}" value="{code}"{checked}> {label}</label> "#,
            n = spec.name,
            checked = if selected.contains(code) { " checked" } else { "" },
            label = esc(label),
        ));
    }
    format!(
        r#"<div class="{cls}"><fieldset id="{n}"><legend class="field">{label}{req}{hint}</legend>{inputs}</fieldset>{msg}</div>"#,
        cls = if err.is_some() { "has-error" } else { "" },
        n = spec.name,
        label = esc(spec.label),
        req = if spec.required { "<span class=\"req\">*</span>" } else { "" },
        hint = if kind == "checkbox" && spec.name == fields::INTERESTS.name { "（可複選）" } else { "" },
        msg = err.map(|m| format!("<p class=\"error\" id=\"{}-error\">{}</p>", spec.name, esc(m))).unwrap_or_default(),
    )
}

fn render_form(status: StatusCode, raw: &RawForm, errors: &FieldErrors, alert: Option<&str>) -> Response {
    let key = raw
        .first(fields::IDEMPOTENCY_KEY.name)
        .filter(|k| !k.is_empty() && k.len() <= 100)
        .map(str::to_string)
        .unwrap_or_else(|| uuid_like());
    let notices: String = NOTICES.iter().map(|n| format!("<li>{}</li>", esc(n))).collect();
    let regions: Vec<(&str, &str)> = Region::ALL.iter().map(|r| (r.code(), r.label())).collect();
    let statuses: Vec<(&str, &str)> = InventoryStatus::ALL.iter().map(|r| (r.code(), r.label())).collect();
    let interests: Vec<(&str, &str)> = Interest::ALL.iter().map(|r| (r.code(), r.label())).collect();
    let alert = alert.map(|a| format!("<p class=\"alert\" role=\"alert\">{}</p>", esc(a))).unwrap_or_default();
    let key_error = errors.get(fields::IDEMPOTENCY_KEY.name).map(|m| format!("<p class=\"alert\">{}</p>", esc(m))).unwrap_or_default();
    let body = format!(
        r#"<h1>碳星雲服務申請表單</h1>
<ul>
<li><span class="req">*</span> 字號為必填欄位</li>
<li>填寫完欄位資訊後，審核資料將會交由資策會進行審核，審核時間通常需要 3-5 個工作天</li>
<li>一個公司(一個場域)目前開放申請一個帳號，如提交申請後有通過審核，同公司的成員皆可使用同一組帳號進入碳星雲平台</li>
<li>審核無論通過與否，皆會發送通知信給申請者</li>
</ul>
<div class="notice"><strong>注意事項：</strong><ol>{notices}</ol></div>
{alert}{key_error}
<form method="post" action="/apply" accept-charset="utf-8" novalidate>
<input type="hidden" name="idempotency_key" value="{key}">
<div class="grid">
{company}{applicant}{tax}{dept}{products}{title}
{email}{phone}
</div>
{regions}
{status_group}
{interests}
{notes}
<p>送出後系統將顯示「審核中」。</p>
<p><button type="submit">送出</button></p>
</form>"#,
        key = esc(&key),
        company = text_input(fields::COMPANY_NAME, raw, errors, "text", "例如：維他命股份有限公司", ""),
        applicant = text_input(fields::APPLICANT_NAME, raw, errors, "text", "請輸入申請人姓名", ""),
        tax = text_input(fields::TAX_ID, raw, errors, "text", "8 位數字，例如 99754141", ""),
        dept = text_input(fields::APPLICANT_DEPARTMENT, raw, errors, "text", "請輸入申請人部門", ""),
        products = text_input(fields::PRODUCTS, raw, errors, "text", "請輸入公司服務項目及主要產品", ""),
        title = text_input(fields::APPLICANT_TITLE, raw, errors, "text", "請輸入申請人職務", ""),
        email = text_input(
            fields::CONTACT_EMAIL,
            raw,
            errors,
            "email",
            "請輸入申請人email",
            "<br><small>請用公司信箱，不接受免費信箱，例如 hotmail、gmail 等，有特殊情況請在下方備註告知</small>"
        ),
        phone = text_input(fields::CONTACT_PHONE, raw, errors, "tel", "請輸入申請人連絡電話", ""),
        regions = choice_group(fields::REGIONS, raw, errors, "checkbox", &regions),
        status_group = choice_group(fields::INVENTORY_STATUS, raw, errors, "radio", &statuses),
        interests = choice_group(fields::INTERESTS, raw, errors, "checkbox", &interests),
        notes = text_input(fields::NOTES, raw, errors, "text", "有需要補充的問題可以放在這裡", ""),
    );
    let mut resp = html(status, "碳星雲服務申請表單", &body);
    resp.headers_mut().insert(header::VARY, header::HeaderValue::from_static("accept"));
    resp
}

fn uuid_like() -> String {
    ecosphere::domain::ApplicationId::new().as_str().to_string()
}
