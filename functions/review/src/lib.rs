//! Function `review`: the approve/reject links in reviewers' e-mails.
//!
//! - `GET /review/{token}` shows the application and a confirmation form and changes
//!   nothing (mail scanners open links before people do);
//! - `POST /review/{token}` with `decision` (and `reason`, required for reject) decides.
//!
//! Tampered link 403, expired 410, already decided 409 naming the decision that won.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ecosphere::domain::{Application, ReviewAction};
use ecosphere::error::AppError;
use ecosphere::web::{esc, html, wants_json, Form};
use ecosphere::App;
use serde_json::json;

pub fn router(app: Arc<App>) -> Router {
    Router::new().route("/review/{token}", get(confirm).post(decide)).with_state(app)
}

fn summary(a: &Application) -> String {
    let f = &a.form;
    let rows = [
        ("公司名稱", f.company_name.clone()),
        ("公司統編", f.tax_id.to_string()),
        ("公司服務項目及主要產品", f.products.clone()),
        ("申請人", format!("{} {} {}", f.applicant_name, f.applicant_department, f.applicant_title)),
        ("聯絡 email", f.contact_email.as_str().to_string()),
        ("聯絡電話", f.contact_phone.clone()),
        ("盤查據點", f.regions.iter().map(|r| r.label()).collect::<Vec<_>>().join("、")),
        ("碳盤查狀況", f.inventory_status.label().to_string()),
        ("有興趣的議題", f.interests.iter().map(|i| i.label()).collect::<Vec<_>>().join("、")),
        ("備註", f.notes.clone()),
    ];
    let dl: String = rows.iter().map(|(k, v)| format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(v))).collect();
    format!("<dl>{dl}</dl>")
}

async fn confirm(State(app): State<Arc<App>>, Path(token): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    let view = app.review.open(&token).await?;
    let action = view.claims.action;
    if wants_json(&headers) {
        return Ok(Json(json!({
            "application_id": view.application.id,
            "action": action.code(),
            "reviewer": view.claims.reviewer,
            "company_name": view.application.form.company_name,
        }))
        .into_response());
    }
    let reason = if action == ReviewAction::Reject {
        r#"<p><label class="field" for="reason">退件原因<span class="req">*</span>（申請人會在通知信中看到）</label>
<textarea id="reason" name="reason" rows="5" maxlength="1000" required style="width:100%"></textarea></p>"#
    } else {
        ""
    };
    let body = format!(
        r#"<h1>碳星雲服務申請審核：確認{label}</h1>
<p>審核人：{reviewer}</p>
{summary}
<form method="post" action="/review/{token}">
<input type="hidden" name="decision" value="{code}">
{reason}
<p><button type="submit">確認{label}</button></p>
</form>
<p class="notice">開啟此頁不會變更申請狀態；按下按鈕後才會送出審核結果，並通知申請人。</p>"#,
        label = action.label(),
        reviewer = esc(view.claims.reviewer.as_str()),
        summary = summary(&view.application),
        token = esc(&token),
        code = action.code(),
    );
    Ok(html(StatusCode::OK, &format!("確認{}", action.label()), &body))
}

async fn decide(State(app): State<Arc<App>>, Path(token): Path<String>, headers: HeaderMap, Form(raw): Form) -> Result<Response, AppError> {
    let a = app.review.decide(&token, raw.first("decision"), raw.first("reason")).await?;
    if wants_json(&headers) {
        return Ok(Json(json!({ "id": a.id, "status": a.status.code(), "version": a.version })).into_response());
    }
    let body = format!(
        "<h1>審核結果已送出</h1><p class=\"status status-{code}\">{label}</p><p>{company}（{tax}）的申請已審核為「{label}」，系統將寄送通知信給申請人。</p>",
        code = a.status.code(),
        label = a.status.label(),
        company = esc(&a.form.company_name),
        tax = esc(a.form.tax_id.as_str()),
    );
    Ok(html(StatusCode::OK, "審核結果已送出", &body))
}
