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
use ecosphere::web::{portal_page, wants_json, Form};
use maud::{html, Markup};
use ecosphere::App;
use serde_json::json;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/review/{token}", get(confirm).post(decide))
        .layer(axum::middleware::from_fn_with_state(app.clone(), ecosphere::web::same_origin))
        .with_state(app)
}

fn summary(a: &Application) -> Markup {
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
    html! { dl { @for (k, v) in &rows { dt { (k) } dd { (v) } } } }
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
    let label = action.label();
    let body = html! {
        h1 { "碳星雲服務申請審核：確認" (label) }
        p { "審核人：" (view.claims.reviewer.as_str()) }
        (summary(&view.application))
        form method="post" action={ "/review/" (token) } {
            input type="hidden" name="decision" value=(action.code());
            @if action == ReviewAction::Reject {
                p {
                    label.field for="reason" { "退件原因" span.req { "*" } "（申請人會在通知信中看到）" }
                    textarea id="reason" name="reason" rows="5" maxlength="1000" required {}
                }
            }
            p { button type="submit" { "確認" (label) } }
        }
        p.notice { "開啟此頁不會變更申請狀態；按下按鈕後才會送出審核結果，並通知申請人。" }
    };
    Ok(portal_page(StatusCode::OK, &format!("確認{label}"), body))
}

async fn decide(State(app): State<Arc<App>>, Path(token): Path<String>, headers: HeaderMap, Form(raw): Form) -> Result<Response, AppError> {
    let a = app.review.decide(&token, raw.first("decision"), raw.first("reason")).await?;
    if wants_json(&headers) {
        return Ok(Json(json!({ "id": a.id, "status": a.status.code(), "version": a.version })).into_response());
    }
    let label = a.status.label();
    let body = html! {
        h1 { "審核結果已送出" }
        p class={ "status status-" (a.status.code()) } { (label) }
        p { (a.form.company_name) "（" (a.form.tax_id.as_str()) "）的申請已審核為「" (label) "」，系統將寄送通知信給申請人。" }
    };
    Ok(portal_page(StatusCode::OK, "審核結果已送出", body))
}
