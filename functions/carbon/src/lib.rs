//! Function `carbon`: the carbon platform's pages, reached through SSO (the carbon
//! session cookie set by `/sso/callback`). HTML by default, JSON with
//! `Accept: application/json`.
//!
//! - `GET /carbon` — dashboard: totals by scope and ISO category, monthly trend,
//!   hotspots, year-on-year (activity vs factor effect), review and batch counts.
//! - `GET /carbon/batches` — every dropped file: done / needs review / failed and why.
//! - `GET /carbon/review` — the review queue; `GET|POST /carbon/activities/{id}` shows
//!   the evidence beside the values and lets a person correct, confirm or exclude them.
//! - `GET /carbon/evidence/{id}` — the bill behind an activity (same company only).
//! - `GET /carbon/inventory` — the inventory table in the layout of MOENV's form.
//! - `GET /carbon/report`, `/carbon/report.pdf` — the one-click report (printable page
//!   with SVG charts, and a PDF); `/carbon/export.csv`, `/carbon/export.json`.
//! - `GET /carbon/factors` — the factor library and the scope/category crosswalk.
//! - `GET /carbon/statement.json|pdf?year=` — the signed carbon statement for a bank
//!   (碳排放查核參考憑證); 409 while anything of the year waits in review.
//! - `GET /verify/{id}` (public) — valid / superseded / revoked, with the figures and the
//!   evidence hashes only; `GET /.well-known/statement-keys.json` — the signing keys.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Datelike;
use ecosphere::domain::inventory::{Activity, ActivityStatus, FileStatus};
use ecosphere::domain::{ActivityKind, TaxId, Unit};
use ecosphere::error::AppError;
use ecosphere::factors::{category_label, scope_label};
use ecosphere::services::ingest::Correction;
use ecosphere::services::inventory::{emissions_csv, export_document, summarize, Summary};
use ecosphere::services::sso::SsoClaims;
use ecosphere::web::{esc, html, wants_json, Form};
use ecosphere::App;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub mod report_model;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/carbon", get(dashboard))
        .route("/carbon/batches", get(batches))
        .route("/carbon/review", get(review_queue))
        .route("/carbon/activities/{id}", get(activity_page).post(activity_post))
        .route("/carbon/evidence/{id}", get(evidence))
        .route("/carbon/inventory", get(inventory_page))
        .route("/carbon/report", get(report_page))
        .route("/carbon/report.pdf", get(report_pdf))
        .route("/carbon/export.csv", get(export_csv))
        .route("/carbon/export.json", get(export_json))
        .route("/carbon/factors", get(factors_page))
        .route("/carbon/logout", axum::routing::post(logout))
        .route("/carbon/statement.json", get(statement_json))
        .route("/carbon/statement.pdf", get(statement_pdf))
        .route("/verify/{id}", get(verify_page))
        .route("/.well-known/statement-keys.json", get(statement_keys))
        .layer(axum::middleware::from_fn_with_state(app.clone(), ecosphere::web::same_origin))
        .with_state(app)
}

const STYLE: &str = r#"<style>
table { border-collapse: collapse; width: 100%; margin: .8rem 0; font-size: .92rem; }
th, td { border-bottom: 1px solid #d6ded9; padding: .35rem .5rem; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
nav.carbon a { margin-right: 1rem; }
.tag { display: inline-block; padding: 0 .4rem; border-radius: 3px; font-size: .8rem; background: #eef6f1; }
.tag.warn { background: #fff4e0; color: #7a4a00; } .tag.bad { background: #fdecea; color: #b3261e; }
.kpi { font-size: 2rem; font-weight: 700; }
.evidence { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; }
.evidence img { max-width: 100%; border: 1px solid #d6ded9; }
.status { padding: .6rem .8rem; border-radius: 4px; font-size: 1.1rem; }
.status.ok { background: #e8f5e9; color: #1b5e20; } .status.warn { background: #fff4e0; color: #7a4a00; } .status.bad { background: #fdecea; color: #b3261e; }
code { word-break: break-all; }
</style>"#;

fn nav() -> &'static str {
    r#"<nav class="carbon"><a href="/carbon">總覽</a><a href="/carbon/batches">上傳批次</a><a href="/carbon/review">待確認</a><a href="/carbon/inventory">盤查清冊</a><a href="/carbon/report">碳管理報告</a><a href="/carbon/statement.pdf">碳排放查核參考憑證</a><a href="/carbon/factors">排放係數</a></nav>"#
}

fn carbon_html(title: &str, body: &str) -> Response {
    html(StatusCode::OK, title, &format!("{STYLE}{}<h1>{}</h1>{body}", nav(), esc(title)))
}

/// The CSRF token of a carbon session: derived from the session secret, so it needs no
/// storage and differs per session.
fn csrf_token(headers: &HeaderMap) -> String {
    let sid = ecosphere::web::session::cookie(headers, ecosphere::web::session::CARBON_COOKIE).unwrap_or_default();
    let d = Sha256::digest(format!("carbon-csrf:{sid}").as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn check_csrf(headers: &HeaderMap, given: Option<&str>) -> Result<(), AppError> {
    let want = csrf_token(headers);
    let given = given.unwrap_or_default();
    let same = given.len() == want.len() && given.bytes().zip(want.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same {
        Ok(())
    } else {
        Err(AppError::Forbidden("表單已過期或來源不明，請重新整理頁面後再試。".into()))
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct YearQuery {
    pub year: Option<String>,
}

async fn session(app: &App, headers: &HeaderMap) -> Result<SsoClaims, AppError> {
    Ok(ecosphere::web::CarbonSession::from_headers(app, headers).await?.claims)
}

/// The year asked for, or the latest year with data, or this year.
async fn pick_year(app: &App, tax: &TaxId, q: &YearQuery) -> Result<i32, AppError> {
    if let Some(y) = q.year.as_deref().filter(|s| !s.is_empty()) {
        return y
            .parse::<i32>()
            .ok()
            .filter(|y| (1990..=2100).contains(y))
            .ok_or_else(|| AppError::BadRequest("年度格式不正確（例如 2025）".into()));
    }
    let lines = app.activities.list_emissions(tax, None).await?;
    Ok(lines.iter().map(|l| l.year).max().unwrap_or_else(|| app.clock.now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("tz")).year()))
}

/// The summary of a company's year.
pub async fn company_summary(app: &App, tax: &TaxId, year: i32) -> Result<Summary, AppError> {
    let lines = app.activities.list_emissions(tax, Some(year)).await?;
    let previous = app.activities.list_emissions(tax, Some(year - 1)).await?;
    let activities = app.activities.list_activities(tax, Some(year)).await?;
    let mut s = summarize(tax.as_str(), year, &lines, &previous, &activities);
    s.restatements = app.activities.list_restatements(tax).await?;
    Ok(s)
}

fn kg(v: f64) -> String {
    format!("{v:.2}")
}
fn tonnes(v: f64) -> String {
    format!("{:.3}", v / 1000.0)
}

fn year_links(year: i32, path: &str) -> String {
    format!(
        r#"<p><a href="{path}?year={p}">‹ {p} 年</a> · <strong>{year} 年</strong> · <a href="{path}?year={n}">{n} 年 ›</a></p>"#,
        p = year - 1,
        n = year + 1
    )
}

async fn dashboard(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let year = pick_year(&app, &who.tax_id, &q).await?;
    let s = company_summary(&app, &who.tax_id, year).await?;
    if wants_json(&headers) {
        return Ok(Json(&s).into_response());
    }
    let files = app.activities.list_files(&who.tax_id).await?;
    let failed = files.iter().filter(|f| f.status == FileStatus::Failed).count();
    let mut body = format!(
        r#"<p>歡迎，{name}（公司統編 {tax}）。</p>{years}
<p>排放總量 <span class="kpi">{t}</span> 公噸CO2e（{k} kgCO2e）{prov}</p>
<p>已採用 {acc} 筆 · <a href="/carbon/review">待人工確認 {rev} 筆</a> · 重複單據 {dup} 筆 · <a href="/carbon/batches">失敗檔案 {failed} 個</a></p>
<form method="post" action="/carbon/logout"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">登出碳星雲</button></form>"#,
        csrf = esc(&csrf_token(&headers)),
        name = esc(&who.name),
        tax = esc(who.tax_id.as_str()),
        years = year_links(year, "/carbon"),
        t = tonnes(s.total_kg_co2e),
        k = kg(s.total_kg_co2e),
        prov = if s.provisional { r#" <span class="tag warn">含暫用係數</span>"# } else { "" },
        acc = s.accepted,
        rev = s.needs_review,
        dup = s.duplicates,
    );
    body.push_str("<h2>範疇別</h2><table><tr><th>範疇</th><th class=n>kgCO2e</th><th class=n>占比</th></tr>");
    for (scope, v) in &s.by_scope {
        body.push_str(&format!("<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td></tr>", esc(scope_label(*scope)), kg(*v), pct(*v, s.total_kg_co2e)));
    }
    body.push_str("</table><h2>ISO 14064-1 類別</h2><table><tr><th>類別</th><th class=n>kgCO2e</th><th class=n>占比</th></tr>");
    for (cat, v) in &s.by_category {
        body.push_str(&format!("<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td></tr>", esc(category_label(*cat)), kg(*v), pct(*v, s.total_kg_co2e)));
    }
    body.push_str("</table><h2>月別趨勢</h2>");
    {
        use ecosphere::report::svg::{stacked_bars, Series};
        let labels: Vec<String> = s.monthly.iter().map(|m| m.month[5..].trim_start_matches('0').to_string() + "月").collect();
        use ecosphere::report::model::{SCOPE_COLORS, SCOPE_NAMES};
        // The report's palette and legend, so a scope has one colour everywhere.
        let series: Vec<Series> = SCOPE_NAMES.iter().zip(SCOPE_COLORS).map(|(label, color)| Series { label: (*label).into(), color: color.into() }).collect();
        let values: Vec<Vec<f64>> = s.monthly.iter().map(|m| m.by_scope.to_vec()).collect();
        body.push_str(&stacked_bars(&format!("{year} 年每月排放量"), "kgCO2e", &labels, &series, &values));
    }
    body.push_str("<table><tr><th>月份</th><th class=n>範疇一</th><th class=n>範疇二</th><th class=n>範疇三</th><th class=n>合計 kgCO2e</th></tr>");
    for m in &s.monthly {
        body.push_str(&format!(
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(&m.month),
            kg(m.by_scope[0]),
            kg(m.by_scope[1]),
            kg(m.by_scope[2]),
            kg(m.total)
        ));
    }
    body.push_str("</table><h2>排放熱區</h2><p>占總排放 80% 的主要排放源：</p>");
    {
        use ecosphere::report::svg::{horizontal_bars, HBar};
        let mut cum = 0.0;
        let bars: Vec<HBar> = s
            .hotspots
            .iter()
            .map(|h| {
                cum += h.share;
                HBar { label: h.label.clone(), value: h.kg_co2e, note: format!("{:.1}%｜累計 {:.1}%", h.share * 100.0, cum * 100.0) }
            })
            .collect();
        body.push_str(&horizontal_bars("排放熱區", "kgCO2e", "排放量", ecosphere::report::model::HOTSPOT_COLOR, &bars));
    }
    body.push_str("<table><table><tr><th>排放源</th><th class=n>kgCO2e</th><th class=n>占比</th></tr>");
    for h in &s.hotspots {
        body.push_str(&format!("<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td></tr>", esc(&h.label), kg(h.kg_co2e), pct(h.kg_co2e, s.total_kg_co2e)));
    }
    body.push_str("</table>");
    if let Some(y) = &s.yoy {
        body.push_str(&format!(
            "<h2>與 {} 年比較</h2><p>{} 年 {} kgCO2e → {} 年 {} kgCO2e，變化 {} kgCO2e：活動量效果 {}、係數效果 {}。</p>",
            y.previous_year,
            y.previous_year,
            kg(y.previous_total),
            year,
            kg(s.total_kg_co2e),
            kg(y.change),
            kg(y.activity_effect),
            kg(y.factor_effect)
        ));
    }
    body.push_str(&format!(
        r#"<p><a class="button" href="/carbon/report?year={year}">一鍵產出碳管理報告</a> <a href="/carbon/report.pdf?year={year}">PDF</a> · <a href="/carbon/export.csv?year={year}">CSV</a> · <a href="/carbon/export.json?year={year}">JSON</a></p>"#
    ));
    if !s.restatements.is_empty() {
        body.push_str("<h2>重新計算紀錄</h2><p>排放係數公告或更正後，受影響的結果已重新計算：</p><table><tr><th>時間</th><th>活動數據</th><th class=n>原 kgCO2e</th><th class=n>新 kgCO2e</th></tr>");
        for r in s.restatements.iter().rev().take(50) {
            body.push_str(&format!(
                "<tr><td>{}</td><td><a href=\"/carbon/activities/{}\">{}</a></td><td class=n>{}</td><td class=n>{}</td></tr>",
                esc(&r.at),
                esc(&r.activity_id),
                esc(&r.activity_id),
                kg(r.old_kg_co2e),
                kg(r.new_kg_co2e)
            ));
        }
        body.push_str("</table>");
    }
    for n in s.notes.iter().map(String::as_str).chain([ecosphere::report::model::ROUNDING_NOTE, ecosphere::report::model::GWP_NOTE]) {
        body.push_str(&format!("<p class=\"notice\">{}</p>", esc(n)));
    }
    Ok(carbon_html("碳星雲服務平台", &body))
}

fn pct(v: f64, total: f64) -> String {
    if total > 0.0 {
        format!("{:.1}%", v / total * 100.0)
    } else {
        "—".into()
    }
}

/// Files the local drop watcher refused before they were stored (a bad name, too large),
/// from `{rejected_dir}/{統一編號}/{批次}/…reason.txt`, as failed files of their batch.
fn rejected_drops(app: &App, tax: &TaxId) -> Vec<ecosphere::domain::inventory::FileRecord> {
    let Some(local) = &app.local else { return Vec::new() };
    let root = local.rejected_dir.join(tax.as_str());
    let mut out = Vec::new();
    for batch in std::fs::read_dir(&root).into_iter().flatten().flatten().filter(|e| e.path().is_dir()) {
        let batch_id = batch.file_name().to_string_lossy().to_string();
        for note in std::fs::read_dir(batch.path()).into_iter().flatten().flatten() {
            let path = note.path();
            let file_name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let Some(stored) = file_name.strip_suffix(".reason.txt") else { continue };
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let reason = text.lines().next().unwrap_or("檔案被拒收").to_string();
            let name = text.lines().find_map(|l| l.strip_prefix("原檔名：")).unwrap_or(stored).to_string();
            let at = note.metadata().ok().and_then(|m| m.modified().ok()).map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()).unwrap_or_default();
            out.push(ecosphere::domain::inventory::FileRecord {
                tax_id: tax.to_string(),
                batch_id: batch_id.clone(),
                key: format!("drop/{tax}/{batch_id}/{name}"),
                blob_key: String::new(),
                name,
                version: String::new(),
                size: 0,
                status: FileStatus::Failed,
                file_type: None,
                method: None,
                reason: Some(format!("未收件：{reason}")),
                activities: 0,
                needs_review: 0,
                duplicates: 0,
                received_at: at.clone(),
                updated_at: at,
            });
        }
    }
    out
}

async fn batches(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let mut files = app.activities.list_files(&who.tax_id).await?;
    files.extend(rejected_drops(&app, &who.tax_id));
    files.sort_by(|a, b| a.batch_id.cmp(&b.batch_id));
    if wants_json(&headers) {
        let mut by_batch: std::collections::BTreeMap<String, serde_json::Value> = Default::default();
        for f in &files {
            let e = by_batch.entry(f.batch_id.clone()).or_insert_with(|| {
                serde_json::json!({ "batch_id": f.batch_id, "total": 0, "processing": 0, "done": 0, "needs_review": 0, "failed": 0, "files": [] })
            });
            e["total"] = (e["total"].as_u64().unwrap_or(0) + 1).into();
            let k = f.status.as_str();
            e[k] = (e[k].as_u64().unwrap_or(0) + 1).into();
            if let Some(list) = e["files"].as_array_mut() {
                list.push(serde_json::json!({ "name": f.name, "status": k, "reason": f.reason, "activities": f.activities,
                    "needs_review": f.needs_review, "duplicates": f.duplicates, "method": f.method.map(|m| m.as_str()),
                    "file_type": f.file_type }));
            }
        }
        return Ok(Json(serde_json::json!({ "ocr_engine": app.ingest.extractor_name(), "batches": by_batch.into_values().collect::<Vec<_>>() })).into_response());
    }
    let mut body = format!(
        "<p>將帳單放入 <code>drop/{}/批次名稱/</code>（本機）或上傳到 S3 同一路徑，系統會自動辨識。支援 PNG、JPEG、PDF 與 CSV。文字辨識引擎：{}</p>",
        esc(who.tax_id.as_str()),
        esc(app.ingest.extractor_name())
    );
    let mut current = None;
    for f in &files {
        if current.as_deref() != Some(f.batch_id.as_str()) {
            if current.is_some() {
                body.push_str("</table>");
            }
            let of = |st: FileStatus| files.iter().filter(|g| g.batch_id == f.batch_id && g.status == st).count();
            let total = files.iter().filter(|g| g.batch_id == f.batch_id).count();
            body.push_str(&format!(
                "<h2>批次 {}</h2><p>共 {total} 個檔案：完成 {}、待人工確認 {}、失敗 {}、處理中 {}</p><table><tr><th>檔案</th><th>狀態</th><th class=n>筆數</th><th>說明</th></tr>",
                esc(&f.batch_id),
                of(FileStatus::Done),
                of(FileStatus::NeedsReview),
                of(FileStatus::Failed),
                of(FileStatus::Processing)
            ));
            current = Some(f.batch_id.clone());
        }
        let tag = match f.status {
            FileStatus::Failed => "tag bad",
            FileStatus::NeedsReview | FileStatus::Processing => "tag warn",
            FileStatus::Done => "tag",
        };
        let mut note = f.reason.clone().unwrap_or_default();
        if f.duplicates > 0 {
            note.push_str(&format!(" 重複單據 {} 筆（只計一次）", f.duplicates));
        }
        body.push_str(&format!(
            "<tr><td>{}</td><td><span class=\"{tag}\">{}</span></td><td class=n>{}</td><td>{}</td></tr>",
            esc(&f.name),
            f.status.label(),
            f.activities,
            esc(note.trim())
        ));
    }
    if current.is_some() {
        body.push_str("</table>");
    } else {
        body.push_str("<p>尚未上傳任何檔案。</p>");
    }
    Ok(carbon_html("上傳批次", &body))
}

fn activity_json(a: &Activity) -> serde_json::Value {
    serde_json::json!({
        "id": a.id, "kind": a.kind.map(|k| k.as_str()), "detail": a.detail, "quantity": a.quantity,
        "unit": a.unit.map(|u| u.as_str()), "period_start": a.period_start, "period_end": a.period_end,
        "meter_id": a.meter_id, "invoice_number": a.invoice_number, "amount_ntd": a.amount_ntd,
        "status": a.status.as_str(), "issues": a.issues, "confidence": a.confidence, "method": a.method.as_str(),
        "document": { "blob_key": a.document, "page": a.page }, "duplicate_of": a.duplicate_of, "version": a.version,
    })
}

fn describe(a: &Activity) -> String {
    let q = match (a.quantity, a.unit) {
        (Some(q), Some(u)) => format!("{q} {}", u.as_str()),
        _ => "（未讀到用量）".into(),
    };
    let period = match (a.period_start, a.period_end) {
        (Some(s), Some(e)) if s == e => s.to_string(),
        (Some(s), Some(e)) => format!("{s} ~ {e}"),
        _ => "（未讀到期間）".into(),
    };
    format!("{} · {} · {}", a.kind.map_or("未辨識", |k| k.label()), q, period)
}

async fn review_queue(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let all = app.activities.list_activities(&who.tax_id, None).await?;
    let queue: Vec<&Activity> = all.iter().filter(|a| a.status == ActivityStatus::NeedsReview).collect();
    if wants_json(&headers) {
        return Ok(Json(queue.iter().map(|a| activity_json(a)).collect::<Vec<_>>()).into_response());
    }
    let mut body = String::from("<p>下列數值信心不足、檢核未通過或缺少資料，確認或修正後才會計入盤查；系統不會把讀不到的數值當成 0。</p><table><tr><th>單據</th><th>讀到的內容</th><th>原因</th><th></th></tr>");
    for a in &queue {
        body.push_str(&format!(
            "<tr><td>{} 第 {} 頁</td><td>{}</td><td>{}</td><td><a href=\"/carbon/activities/{}\">確認／修正</a></td></tr>",
            esc(a.document.rsplit('/').next().unwrap_or_default()),
            a.page,
            esc(&describe(a)),
            esc(&a.issues.join("；")),
            esc(&a.id)
        ));
    }
    body.push_str("</table>");
    if queue.is_empty() {
        body.push_str("<p>目前沒有待確認的資料。</p>");
    }
    Ok(carbon_html("待人工確認", &body))
}

async fn load_activity(app: &App, tax: &TaxId, id: &str) -> Result<Activity, AppError> {
    app.activities.get_activity(tax, id).await?.ok_or_else(|| AppError::NotFound("找不到這筆活動數據".into()))
}

fn activity_form(a: &Activity, csrf: &str, errors: &ecosphere::domain::FieldErrors, values: Option<&Correction>) -> String {
    let err = |f: &str| errors.0.get(f).map(|m| format!("<div class=\"error\">{}</div>", esc(m))).unwrap_or_default();
    let v = |f: &str, current: String| -> String {
        match values {
            Some(c) => match f {
                "detail" => c.detail.clone(),
                "quantity" => c.quantity.clone(),
                "period_start" => c.period_start.clone(),
                "period_end" => c.period_end.clone(),
                "meter_id" => c.meter_id.clone(),
                "amount_ntd" => c.amount_ntd.clone(),
                _ => current,
            },
            None => current,
        }
    };
    let kind_now = values.map(|c| c.kind.clone()).unwrap_or_else(|| a.kind.map(|k| k.as_str().to_string()).unwrap_or_default());
    let unit_now = values.map(|c| c.unit.clone()).unwrap_or_else(|| a.unit.map(|u| u.as_str().to_string()).unwrap_or_default());
    let kinds: String = ActivityKind::ALL
        .iter()
        .map(|k| format!("<option value=\"{}\"{}>{}</option>", k.as_str(), if kind_now == k.as_str() { " selected" } else { "" }, k.label()))
        .collect();
    let units: String = [Unit::Kwh, Unit::M3, Unit::Litre, Unit::Kg, Unit::PersonHour]
        .iter()
        .map(|u| format!("<option value=\"{}\"{}>{}</option>", u.as_str(), if unit_now == u.as_str() { " selected" } else { "" }, u.label()))
        .collect();
    let opt = |x: Option<String>| x.unwrap_or_default();
    format!(
        r#"<form method="post"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="version" value="{ver}">
<label class="field">類別 <select name="kind"><option value="">請選擇</option>{kinds}</select></label>{ek}
<label class="field">細項（油品、冷媒種類等）<input type="text" name="detail" value="{detail}"></label>{ed}
<label class="field">用量 <input type="text" name="quantity" value="{qty}" inputmode="decimal"></label>{eq}
<label class="field">單位 <select name="unit"><option value="">請選擇</option>{units}</select></label>{eu}
<label class="field">起日 <input type="text" name="period_start" value="{ps}" placeholder="2025-01-05"></label>{eps}
<label class="field">迄日 <input type="text" name="period_end" value="{pe}" placeholder="2025-03-06"></label>{epe}
<label class="field">電號／水號 <input type="text" name="meter_id" value="{meter}"></label>{em}
<label class="field">金額（新臺幣）<input type="text" name="amount_ntd" value="{amount}"></label>{ea}
<p><button type="submit" name="action" value="confirm">確認並計入</button> <button type="submit" name="action" value="reject" formnovalidate>不是能源單據，排除</button></p></form>"#,
        csrf = esc(csrf),
        ver = a.version,
        detail = esc(&v("detail", opt(a.detail.clone()))),
        qty = esc(&v("quantity", a.quantity.map(|q| q.to_string()).unwrap_or_default())),
        ps = esc(&v("period_start", a.period_start.map(|d| d.to_string()).unwrap_or_default())),
        pe = esc(&v("period_end", a.period_end.map(|d| d.to_string()).unwrap_or_default())),
        meter = esc(&v("meter_id", opt(a.meter_id.clone()))),
        amount = esc(&v("amount_ntd", a.amount_ntd.map(|q| q.to_string()).unwrap_or_default())),
        ek = err("kind"),
        ed = err("detail"),
        eq = err("quantity"),
        eu = err("unit"),
        eps = err("period_start"),
        epe = err("period_end"),
        em = err("meter_id"),
        ea = err("amount_ntd"),
    )
}

fn activity_body(a: &Activity, form: &str) -> String {
    let evidence = if a.document.to_lowercase().ends_with(".pdf") || a.document.to_lowercase().ends_with(".csv") {
        format!("<p><a href=\"/carbon/evidence/{}\">開啟原始檔案</a>（第 {} 頁／列）</p>", esc(&a.id), a.page)
    } else {
        format!("<img src=\"/carbon/evidence/{}\" alt=\"單據影像\">", esc(&a.id))
    };
    format!(
        r#"<p>狀態：<span class="tag warn">{st}</span> 讀取方式：{method}，信心 {conf:.0}%</p>{issues}
<div class="evidence"><div><h2>單據</h2>{evidence}<p>{doc}</p></div><div><h2>讀到的數值</h2>{form}</div></div>"#,
        st = a.status.label(),
        method = esc(a.method.as_str()),
        conf = a.confidence * 100.0,
        issues = if a.issues.is_empty() { String::new() } else { format!("<div class=\"alert\">{}</div>", esc(&a.issues.join("；"))) },
        doc = esc(&a.document),
    )
}

async fn activity_page(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let a = load_activity(&app, &who.tax_id, &id).await?;
    if wants_json(&headers) {
        return Ok(Json(activity_json(&a)).into_response());
    }
    let form = activity_form(&a, &csrf_token(&headers), &Default::default(), None);
    Ok(carbon_html("確認活動數據", &activity_body(&a, &form)))
}

async fn activity_post(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, Form(raw): Form) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    check_csrf(&headers, raw.first("csrf"))?;
    let a = load_activity(&app, &who.tax_id, &id).await?;
    // The optimistic lock is never skipped: a missing or malformed version is refused.
    let expected: u32 = raw
        .first("version")
        .filter(|v| !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| AppError::BadRequest("表單缺少版本資訊或格式不正確，請重新整理頁面後再試。".into()))?;
    let now = ecosphere::records::timestamp(app.clock.now());
    let mut b = a.clone();
    match raw.first("action").unwrap_or("confirm") {
        "reject" => {
            b.status = ActivityStatus::Rejected;
            b.confirmed_by = Some(who.email.clone());
            b.updated_at = now;
        }
        "confirm" => {
            let c = Correction {
                kind: raw.first("kind").unwrap_or_default().into(),
                detail: raw.first("detail").unwrap_or_default().into(),
                quantity: raw.first("quantity").unwrap_or_default().into(),
                unit: raw.first("unit").unwrap_or_default().into(),
                period_start: raw.first("period_start").unwrap_or_default().into(),
                period_end: raw.first("period_end").unwrap_or_default().into(),
                meter_id: raw.first("meter_id").unwrap_or_default().into(),
                amount_ntd: raw.first("amount_ntd").unwrap_or_default().into(),
                version: raw.first("version").unwrap_or_default().into(),
            };
            if let Err(e) = c.apply(&mut b, &who.email, &now) {
                if let (AppError::Validation(errors), false) = (&e, wants_json(&headers)) {
                    let form = activity_form(&a, &csrf_token(&headers), errors, Some(&c));
                    let mut resp = carbon_html("確認活動數據", &activity_body(&a, &form));
                    *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    return Ok(resp);
                }
                return Err(e);
            }
        }
        _ => return Err(AppError::BadRequest("未知的操作".into())),
    }
    let stored = app.activities.update_activity(&b, expected).await?;
    tracing::info!(activity = %stored.id, status = stored.status.as_str(), "activity reviewed");
    if wants_json(&headers) {
        return Ok(Json(activity_json(&stored)).into_response());
    }
    Ok(Redirect::to("/carbon/review").into_response())
}

async fn evidence(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let a = load_activity(&app, &who.tax_id, &id).await?;
    // The document key is under the company's own prefix (checked again, defence in depth).
    if !a.document.starts_with(&format!("drop/{}/", who.tax_id)) {
        return Err(AppError::NotFound("找不到單據".into()));
    }
    let key = ecosphere::ports::BlobKey::parse(&a.document).ok_or_else(|| AppError::NotFound("找不到單據".into()))?;
    let blob = app.blobs.get(&key).await?.ok_or_else(|| AppError::NotFound("找不到單據（檔案可能已依保存期限刪除）".into()))?;
    let ct = match ecosphere::ingest::sniff::sniff(&blob.bytes) {
        Ok(t) => t.content_type(),
        Err(_) => "application/octet-stream",
    };
    let mut resp = blob.bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    Ok(resp)
}

async fn inventory_page(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let year = pick_year(&app, &who.tax_id, &q).await?;
    let s = company_summary(&app, &who.tax_id, year).await?;
    if wants_json(&headers) {
        return Ok(Json(serde_json::json!({ "year": year, "sources": s.sources, "total_kg_co2e": s.total_kg_co2e })).into_response());
    }
    let mut body = format!(
        "{}<p>依環境部溫室氣體盤查表單格式（排放源鑑別與排放量計算）列出，單位：活動數據依其單位，排放量 kg。</p><table><tr><th>範疇</th><th>類別</th><th>排放源</th><th class=n>活動數據</th><th>單位</th><th class=n>CO2</th><th class=n>CH4</th><th class=n>N2O</th><th class=n>其他(CO2e)</th><th class=n>CO2e</th><th class=n>占比</th><th>單據數</th><th>係數</th></tr>",
        year_links(year, "/carbon/inventory")
    );
    for r in &s.sources {
        let flags = format!(
            "{}{}",
            if r.provisional { r#" <span class="tag warn">暫用</span>"# } else { "" },
            if r.unverified { r#" <span class="tag warn">未查證</span>"# } else { "" }
        );
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}{flags}</td><td class=n>{:.2}</td><td>{}</td><td class=n>{:.2}</td><td class=n>{:.4}</td><td class=n>{:.4}</td><td class=n>{:.2}</td><td class=n>{:.2}</td><td class=n>{}</td><td>{}</td><td>{}</td></tr>",
            r.scope,
            r.category,
            esc(&r.label),
            r.quantity,
            r.unit.as_str(),
            r.co2_kg,
            r.ch4_kg,
            r.n2o_kg,
            r.other_kg_co2e,
            r.kg_co2e,
            pct(r.kg_co2e, s.total_kg_co2e),
            r.documents,
            esc(&r.factor_refs.join(", "))
        ));
    }
    body.push_str(&format!(
        "<tr><th colspan=9>合計</th><th class=n>{:.2}</th><th class=n>100%</th><th colspan=2></th></tr></table>",
        s.total_kg_co2e
    ));
    Ok(carbon_html("溫室氣體盤查清冊", &body))
}

async fn report_inputs(app: &App, who: &SsoClaims, q: &YearQuery) -> Result<ecosphere::report::ReportModel, AppError> {
    let year = pick_year(app, &who.tax_id, q).await?;
    let s = company_summary(app, &who.tax_id, year).await?;
    let company = company_name(app, &who.tax_id).await?;
    Ok(report_model::build(&s, &company, app.calculate.library(), app.clock.now()))
}

async fn report_page(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let model = report_inputs(&app, &who, &q).await?;
    if wants_json(&headers) {
        return Ok(Json(&model).into_response());
    }
    let mut resp = axum::response::Html(ecosphere::report::report_html(&model)).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

fn download(bytes: Vec<u8>, content_type: &'static str, filename: String) -> Response {
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

async fn report_pdf(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let model = report_inputs(&app, &who, &q).await?;
    let pdf = ecosphere::report::report_pdf(&model).map_err(|e| AppError::internal(format!("report PDF: {e}")))?;
    Ok(download(pdf, "application/pdf", format!("carbon-report-{}-{}.pdf", who.tax_id, model.year)))
}

async fn export_csv(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let year = pick_year(&app, &who.tax_id, &q).await?;
    let lines = app.activities.list_emissions(&who.tax_id, Some(year)).await?;
    Ok(download(emissions_csv(&lines).into_bytes(), "text/csv; charset=utf-8", format!("emissions-{}-{year}.csv", who.tax_id)))
}

/// The export document of a company (and year): the same JSON as the `export` subcommand.
pub async fn export(app: &App, tax: &TaxId, year: Option<i32>) -> Result<serde_json::Value, AppError> {
    let files = app.activities.list_files(tax).await?;
    let activities = app.activities.list_activities(tax, year).await?;
    let lines = app.activities.list_emissions(tax, year).await?;
    Ok(export_document(&files, &activities, &lines))
}

async fn export_json(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let year = pick_year(&app, &who.tax_id, &q).await?;
    let doc = export(&app, &who.tax_id, Some(year)).await?;
    let mut resp = Json(doc).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(resp)
}

async fn factors_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, AppError> {
    session(&app, &headers).await?;
    let entries = app.calculate.library().entries();
    if wants_json(&headers) {
        return Ok(Json(serde_json::json!({ "fingerprint": app.calculate.library().fingerprint(), "factors": entries,
            "crosswalk": ecosphere::factors::CROSSWALK.iter().map(|r| serde_json::json!({ "item": r.item_zh, "description": r.description_zh,
                "scope": r.scope, "iso_category": r.iso_category, "ghg_protocol": r.ghg_protocol, "note": r.note_zh })).collect::<Vec<_>>() })).into_response());
    }
    let mut body = String::from("<table><tr><th>係數</th><th>版本</th><th class=n>數值</th><th>單位</th><th>來源</th><th>公告日</th><th>適用期間</th><th>狀態</th></tr>");
    for e in &entries {
        let status = match e.status {
            ecosphere::factors::FactorStatus::Official => "已查證".to_string(),
            ecosphere::factors::FactorStatus::Unverified => "<span class=\"tag warn\">未查證</span>".to_string(),
        };
        body.push_str(&format!(
            "<tr><td>{} <small>{}</small></td><td>{}</td><td class=n>{}</td><td>{}</td><td>{} {}{}</td><td>{}</td><td>{}</td><td>{status}</td></tr>",
            esc(&e.label),
            esc(&e.id),
            esc(&e.version),
            e.value,
            esc(&e.unit),
            esc(&e.source.publisher),
            esc(&e.source.title),
            e.source.reference.as_deref().map(|r| format!(" {}", esc(r))).unwrap_or_default(),
            esc(&e.published),
            esc(&e.valid_period),
        ));
    }
    body.push_str("</table><h2>範疇與類別對照（ISO 14064-1:2018 與 GHG Protocol）</h2><table><tr><th>項目</th><th>內容</th><th>範疇</th><th>ISO 類別</th><th>GHG Protocol</th><th>說明</th></tr>");
    for r in ecosphere::factors::CROSSWALK {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(r.item_zh),
            esc(r.description_zh),
            esc(scope_label(r.scope)),
            esc(category_label(r.iso_category)),
            esc(r.ghg_protocol),
            esc(r.note_zh)
        ));
    }
    body.push_str("</table>");
    Ok(carbon_html("排放係數與對照", &body))
}

/// The company's name as approved.
async fn company_name(app: &App, tax: &TaxId) -> Result<String, AppError> {
    Ok(app
        .applications
        .list_for_company(tax)
        .await?
        .into_iter()
        .find(|a| a.status == ecosphere::domain::ApplicationStatus::Approved)
        .map(|a| a.form.company_name.to_string())
        .unwrap_or_else(|| tax.to_string()))
}

async fn issue_statement(app: &App, who: &SsoClaims, q: &YearQuery) -> Result<(ecosphere::statement::StatementRecord, serde_json::Value), AppError> {
    use ecosphere::services::statement::Firm;
    use ecosphere::statement::Preparer;
    let year = pick_year(app, &who.tax_id, q).await?;
    let firm = Firm { tax_id: who.tax_id.clone(), name: company_name(app, &who.tax_id).await?, industry: None, county: None };
    let role = if who.roles.iter().any(|r| r == "admin") { "firm_admin" } else { "firm_member" };
    let preparer = Preparer { role: role.into(), name: who.name.clone(), certificate: None };
    let record = app.statement.issue(&firm, year, preparer).await?;
    let doc: serde_json::Value = serde_json::from_str(&record.document).map_err(AppError::internal)?;
    Ok((record, doc))
}

async fn statement_json(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let (record, doc) = issue_statement(&app, &who, &q).await?;
    let mut resp = Json(doc).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{}.json\"", record.id)) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

async fn statement_pdf(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let who = session(&app, &headers).await?;
    let (record, doc) = issue_statement(&app, &who, &q).await?;
    let pdf = ecosphere::statement::pdf::statement_pdf(&doc).map_err(|e| AppError::internal(format!("statement PDF: {e}")))?;
    Ok(download(pdf, "application/pdf", format!("carbon-statement-{}.pdf", record.id)))
}

async fn statement_keys(State(app): State<Arc<App>>) -> Response {
    let mut resp = Json(app.statement.jwks()).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    resp
}

/// The public check page: the status, the figures and the evidence hashes — nothing else.
async fn verify_page(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, AppError> {
    use ecosphere::services::statement::Status;
    let not_found = || AppError::NotFound("查無此憑證編號。請確認網址或憑證上的編號是否正確。".into());
    let record = app.statement.get(&id).await?.ok_or_else(not_found)?;
    let status = app.statement.status(&record).await?;
    let doc: serde_json::Value = serde_json::from_str(&record.document).map_err(AppError::internal)?;
    // Only what a bank needs to compare: no bill images, no personal data beyond the preparer's name.
    let evidence: Vec<serde_json::Value> = doc["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| serde_json::json!({"document_sha256": e["document_sha256"], "kind": e["kind"], "period_start": e["period_start"], "period_end": e["period_end"]}))
        .collect();
    let superseded_by = match &status {
        Status::Superseded { by } => by.clone(),
        _ => None,
    };
    let public = serde_json::json!({
        "id": record.id,
        "status": status.code(),
        "status_label": status.label(),
        "superseded_by": superseded_by,
        "revoked_reason": match &status { Status::Revoked { reason } => Some(reason.clone()), _ => None },
        "firm": {"tax_id": doc["firm"]["tax_id"], "name": doc["firm"]["name"]},
        "year": doc["year"],
        "issued_at": doc["issued_at"],
        "figures": {"total_kg_co2e": doc["figures"]["total_kg_co2e"], "by_scope": doc["figures"]["by_scope"], "by_category": doc["figures"]["by_category"]},
        "pcaf_weighted_score": doc["data_quality"]["pcaf_weighted_score"],
        "inventory_sha256": doc["inventory_sha256"],
        "documents": doc["documents"].as_array().into_iter().flatten().map(|d| d["sha256"].clone()).collect::<Vec<_>>(),
        "evidence": evidence,
        "prepared_by": doc["prepared_by"]["name"],
    });
    if wants_json(&headers) {
        return Ok(Json(public).into_response());
    }
    let (class, explain) = match &status {
        Status::Valid => ("ok", "此憑證由碳星雲簽發，內容與簽發時相同，且其數據與平台目前的盤查結果一致。".to_string()),
        Status::Superseded { by: Some(by) } => (
            "warn",
            format!("此憑證的數據已重新計算，已由較新的憑證 <a href=\"/verify/{0}\">{0}</a> 取代。請以新憑證為準。", esc(by)),
        ),
        Status::Superseded { by: None } => ("warn", "此憑證簽發後，該年度的數據已更正或依新公告係數重新計算；請向公司索取新版憑證。".to_string()),
        Status::Revoked { reason } => ("bad", format!("此憑證已撤銷：{}", esc(reason))),
    };
    let f = &doc["figures"];
    let mut rows = String::new();
    for x in f["by_scope"].as_array().into_iter().flatten() {
        let kg_v = x["kg_co2e"].as_f64().unwrap_or(0.0);
        rows.push_str(&format!("<tr><td>{}</td><td class=\"n\">{}</td></tr>", esc(scope_label(x["scope"].as_u64().unwrap_or(0) as u8)), esc(&ecosphere::report::model::fmt_kg(kg_v))));
    }
    for x in f["by_category"].as_array().into_iter().flatten() {
        let kg_v = x["kg_co2e"].as_f64().unwrap_or(0.0);
        if kg_v != 0.0 {
            rows.push_str(&format!("<tr><td>{}</td><td class=\"n\">{}</td></tr>", esc(category_label(x["category"].as_u64().unwrap_or(0) as u8)), esc(&ecosphere::report::model::fmt_kg(kg_v))));
        }
    }
    let mut ev = String::new();
    for e in public["evidence"].as_array().into_iter().flatten() {
        let period = match (e["period_start"].as_str(), e["period_end"].as_str()) {
            (Some(a), Some(b)) => format!("{a}～{b}"),
            _ => "—".into(),
        };
        ev.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(e["kind"].as_str().unwrap_or("—")),
            esc(e["document_sha256"].as_str().unwrap_or("（單據已不在保存期限內）")),
            esc(&period)
        ));
    }
    let total = f["total_kg_co2e"].as_f64().unwrap_or(0.0);
    let body = format!(
        r#"{STYLE}<h1>碳排放查核參考憑證查驗</h1>
<p class="status {class}"><strong>狀態：{label}</strong></p><p>{explain}</p>
<table><tbody>
<tr><th>憑證編號</th><td><code>{id}</code></td></tr>
<tr><th>公司名稱</th><td>{name}</td></tr>
<tr><th>統一編號</th><td>{tax}</td></tr>
<tr><th>盤查年度</th><td>{year}</td></tr>
<tr><th>簽發時間（UTC）</th><td>{issued}</td></tr>
<tr><th>製表人</th><td>{prep}</td></tr>
<tr><th>排放總量</th><td>{t} 公噸CO2e（{kg} kgCO2e）</td></tr>
<tr><th>PCAF 資料品質分數</th><td>{pcaf}</td></tr>
<tr><th>數據雜湊值</th><td><code>{digest}</code></td></tr>
</tbody></table>
<h2>範疇與類別（kgCO2e）</h2><table><tbody>{rows}</tbody></table>
<h2>單據雜湊值（SHA-256）</h2><p>將您收到的單據檔案計算 SHA-256，應與下列其中一筆相同。</p>
<table><thead><tr><th>類型</th><th>SHA-256</th><th>期間</th></tr></thead><tbody>{ev}</tbody></table>
<p>簽章公開金鑰：<a href="/.well-known/statement-keys.json">/.well-known/statement-keys.json</a>（JWKS）。離線查驗：<code>ecosphere verify 憑證.pdf</code>。</p>"#,
        label = esc(status.label()),
        id = esc(&record.id),
        name = esc(public["firm"]["name"].as_str().unwrap_or_default()),
        tax = esc(public["firm"]["tax_id"].as_str().unwrap_or_default()),
        year = esc(&public["year"].to_string()),
        issued = esc(public["issued_at"].as_str().unwrap_or_default()),
        prep = esc(public["prepared_by"].as_str().unwrap_or_default()),
        t = esc(&ecosphere::report::model::fmt_tonnes(total)),
        kg = esc(&ecosphere::report::model::fmt_kg(total)),
        pcaf = esc(&public["pcaf_weighted_score"].as_f64().map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into())),
        digest = esc(public["inventory_sha256"].as_str().unwrap_or_default()),
    );
    Ok(html(StatusCode::OK, "碳排放查核參考憑證查驗", &body))
}

/// Ends the carbon session (the portal session stays) and clears its cookie.
async fn logout(State(app): State<Arc<App>>, headers: HeaderMap, Form(raw): Form) -> Result<Response, AppError> {
    session(&app, &headers).await?;
    check_csrf(&headers, raw.first("csrf"))?;
    ecosphere::web::CarbonSession::from_headers(&app, &headers).await?.end(&app).await?;
    let mut resp = Redirect::to("/portal").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, ecosphere::web::session::clear_cookie(&app, ecosphere::web::session::CARBON_COOKIE));
    Ok(resp)
}
