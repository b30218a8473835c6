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
//!
//! Every page is a maud template (escaping on by default) in the shared layout; sessions
//! and CSRF come from `ecosphere::web::session` ([`CarbonSession`], [`Guarded`]).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Datelike;
use ecosphere::domain::inventory::{Activity, ActivityStatus, FileRecord, FileStatus};
use ecosphere::domain::{ActivityKind, FieldErrors, TaxId, Unit};
use ecosphere::error::AppError;
use ecosphere::factors::{category_label, scope_label, FactorView};
use ecosphere::report::model::{fmt_kg, fmt_num, fmt_pct, fmt_tonnes, share_of};
use ecosphere::national::benchmark::{Benchmark, NoBenchmark};
use ecosphere::services::ingest::Correction;
use ecosphere::services::inventory::{emissions_csv, export_document, summarize, Summary};
use ecosphere::services::sso::SsoClaims;
use ecosphere::web::layout::trusted_svg;
use ecosphere::web::session::{clear_cookie, CARBON_COOKIE};
use ecosphere::web::{render, wants_json, Area, CarbonSession, Guarded};
use ecosphere::App;
use maud::{html, Markup};
use serde::Deserialize;

pub mod report_model;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/carbon", get(dashboard))
        .route(
            "/carbon/batches",
            get(batches)
                .post(upload)
                .layer(axum::extract::DefaultBodyLimit::max(ecosphere::services::upload::MAX_UPLOAD_BYTES + 1024 * 1024)),
        )
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

/// A carbon-platform page: the shared layout (with the carbon navigation, `path` marked)
/// around the page's heading and body.
fn carbon_page(status: StatusCode, path: &'static str, title: &str, body: Markup) -> Response {
    render(status, Area::Carbon(path), title, html! { h1 { (title) } (body) })
}

#[derive(Debug, Deserialize, Default)]
pub struct YearQuery {
    pub year: Option<String>,
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

/// `v` as a share of `total` ("12.3%"), or "—" when there is no total to share.
fn share_text(v: f64, total: f64) -> String {
    if total > 0.0 {
        fmt_pct(share_of(v, total))
    } else {
        "—".into()
    }
}

/// A value as read or typed (exact, no rounding), never "-0".
fn plain(v: f64) -> String {
    (v + 0.0).to_string()
}

/// Where a company drops its bills, as shown to its members.
fn drop_folder(tax: &str) -> Markup {
    html! { code { "drop/" (tax) "/批次名稱/" } }
}

fn year_links(year: i32, path: &str) -> Markup {
    html! {
        p {
            a href={ (path) "?year=" (year - 1) } { "‹ " (year - 1) " 年" }
            " · " strong { (year) " 年" } " · "
            a href={ (path) "?year=" (year + 1) } { (year + 1) " 年 ›" }
        }
    }
}

async fn dashboard(State(app): State<Arc<App>>, who: CarbonSession, headers: HeaderMap, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let tax = &who.claims.tax_id;
    let year = pick_year(&app, tax, &q).await?;
    let s = company_summary(&app, tax, year).await?;
    if wants_json(&headers) {
        return Ok(Json(&s).into_response());
    }
    let files = app.activities.list_files(tax).await?;
    let failed = files.iter().filter(|f| f.status == FileStatus::Failed).count();
    let view = Dashboard { name: &who.claims.name, tax: tax.as_str(), year, csrf: &who.csrf, files: files.len(), failed };
    let bench = app.benchmark.for_firm(tax, year).await?;
    let body = html! { (dashboard_body(&view, &s)) @if files.len() > 0 { (benchmark_section(&bench)) } };
    Ok(carbon_page(StatusCode::OK, "/carbon", "碳星雲服務平台", body))
}

/// What the dashboard shows besides the summary.
pub struct Dashboard<'a> {
    pub name: &'a str,
    pub tax: &'a str,
    pub year: i32,
    pub csrf: &'a str,
    /// Files stored for the company (any year).
    pub files: usize,
    pub failed: usize,
}

fn logout_form(csrf: &str) -> Markup {
    html! {
        form method="post" action="/carbon/logout" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { "登出碳星雲" }
        }
    }
}

/// The dashboard: the empty state before any file, else the year's figures.
pub fn dashboard_body(d: &Dashboard, s: &Summary) -> Markup {
    let year = d.year;
    let has_data = !s.sources.is_empty() || s.total_kg_co2e != 0.0;
    html! {
        p { "歡迎，" (d.name) "（公司統編 " (d.tax) "）。" }
        @if d.files == 0 {
            div.notice {
                h2 { "開始建立您的溫室氣體盤查" }
                p { "目前還沒有任何帳單資料。把電費、水費、燃料、冷媒等單據交給系統，系統會自動辨識、計算排放量，結果就會顯示在這裡。" }
                ol {
                    li { "在 " a href="/carbon/batches" { "上傳批次" } " 頁選擇檔案上傳，或將帳單檔案放入資料夾 " (drop_folder(d.tax)) "（本機；雲端則上傳到 S3 的同一路徑）；批次名稱可自訂，例如 " code { "2025-第一季" } "。" }
                    li { "支援的檔案類型：PNG、JPEG、PDF 與 CSV。" }
                    li { "到 " a href="/carbon/batches" { "上傳批次" } " 查看每個檔案的處理結果；讀不清楚的數值會列在 " a href="/carbon/review" { "待確認" } "，確認後才會計入盤查。" }
                }
                p { a.button href="/carbon/batches" { "前往上傳批次" } }
            }
            (logout_form(d.csrf))
        } @else {
            (year_links(year, "/carbon"))
            p {
                "排放總量 " span.kpi { (fmt_tonnes(s.total_kg_co2e)) } " 公噸CO2e（" (fmt_kg(s.total_kg_co2e)) " kgCO2e）"
                @if s.provisional { " " span.tag.warn { "含暫用係數" } }
            }
            p {
                "已採用 " (s.accepted) " 筆 · "
                a href="/carbon/review" { "待人工確認 " (s.needs_review) " 筆" }
                " · 重複單據 " (s.duplicates) " 筆 · "
                a href="/carbon/batches" { "失敗檔案 " (d.failed) " 個" }
            }
            (logout_form(d.csrf))
            @if has_data {
                (dashboard_figures(year, s))
            } @else {
                div.notice {
                    p { (year) " 年尚無已計算的排放量。" }
                    @if s.needs_review > 0 {
                        p { "有 " (s.needs_review) " 筆資料等待人工確認，確認後才會計入：" a href="/carbon/review" { "前往待確認" } }
                    }
                    p {
                        "要加入此年度的帳單，請將檔案放入 " (drop_folder(d.tax)) "（支援 PNG、JPEG、PDF 與 CSV），處理結果見 "
                        a href="/carbon/batches" { "上傳批次" } "。"
                    }
                }
            }
            @if !s.restatements.is_empty() {
                h2 { "重新計算紀錄" }
                p { "排放係數公告或更正後，受影響的結果已重新計算：" }
                table {
                    thead { tr { th scope="col" { "時間" } th scope="col" { "活動數據" } th.n scope="col" { "原 kgCO2e" } th.n scope="col" { "新 kgCO2e" } } }
                    tbody {
                        @for r in s.restatements.iter().rev().take(50) {
                            tr {
                                td { (r.at) }
                                td { a href={ "/carbon/activities/" (r.activity_id) } { (r.activity_id) } }
                                td.n { (fmt_kg(r.old_kg_co2e)) }
                                td.n { (fmt_kg(r.new_kg_co2e)) }
                            }
                        }
                    }
                }
            }
            @for n in &s.notes { p.notice { (n) } }
            @if has_data {
                p.notice { (ecosphere::report::model::ROUNDING_NOTE) }
                p.notice { (ecosphere::report::model::GWP_NOTE) }
            }
        }
    }
}

/// A "label, kgCO2e, share" table.
fn share_table(head: &str, rows: &[(&str, f64)], total: f64) -> Markup {
    html! {
        table {
            thead { tr { th scope="col" { (head) } th.n scope="col" { "kgCO2e" } th.n scope="col" { "占比" } } }
            tbody {
                @for (label, v) in rows {
                    tr { td { (label) } td.n { (fmt_kg(*v)) } td.n { (share_text(*v, total)) } }
                }
            }
        }
    }
}

/// The dashboard's figures of a year with data: tables, charts, year-on-year, exports.
/// 行業對標: the peer group, intensities against its quartiles, shares by source and
/// the suggested first actions (or why there is no comparison yet).
pub fn benchmark_section(b: &Result<Benchmark, NoBenchmark>) -> Markup {
    let pct = |p: f64| format!("{}", fmt_num(p, 0));
    html! {
        section aria-labelledby="benchmark-title" {
            h2 id="benchmark-title" { "行業對標" }
            @match b {
                Err(no) => {
                    p.notice { (no.reason) " " a href="/company" { "公司資料維護" } }
                }
                Ok(b) => {
                    p { "比較對象：" strong { (b.group.definition) } "（" (b.group.firms) " 家企業，" (b.year) " 年）。百分位越高代表排放強度高於越多同業。" }
                    @if !b.group.rolled_up_from.is_empty() {
                        p.hint { "較小的群組不公開（保護個別企業資料）：" (b.group.rolled_up_from.join("；")) }
                    }
                    div.table-scroll {
                        table {
                            thead { tr {
                                th scope="col" { "排放強度" } th.n scope="col" { "貴公司" } th.n scope="col" { "同業 25 百分位" }
                                th.n scope="col" { "同業中位數" } th.n scope="col" { "同業 75 百分位" } th.n scope="col" { "貴公司百分位" }
                            } }
                            tbody {
                                @for m in &b.metrics {
                                    tr {
                                        th scope="row" { (m.label) br; small { (m.unit) "，n = " (m.n) } }
                                        td.n { (fmt_num(m.firm, 3)) } td.n { (fmt_num(m.q1, 3)) } td.n { (fmt_num(m.median, 3)) }
                                        td.n { (fmt_num(m.q3, 3)) } td.n { (pct(m.percentile)) }
                                    }
                                }
                            }
                        }
                    }
                    h3 { "各排放源占比" }
                    div.table-scroll {
                        table {
                            thead { tr {
                                th scope="col" { "排放源" } th.n scope="col" { "貴公司占比" } th.n scope="col" { "同業占比中位數" } th.n scope="col" { "每百萬元營收強度百分位" }
                            } }
                            tbody {
                                @for s in &b.sources {
                                    tr {
                                        th scope="row" { (s.label) }
                                        td.n { (fmt_pct(s.firm_share)) } td.n { (fmt_pct(s.group_median_share)) }
                                        td.n { @if let Some(p) = s.percentile { (pct(p)) } @else { "—" } }
                                    }
                                }
                            }
                        }
                    }
                    h3 { "對標建議" }
                    @if b.advice.is_empty() {
                        p { "各排放源的強度都不高於同業 75 百分位，請持續記錄並逐年比較。" }
                    } @else {
                        ol {
                            @for a in &b.advice {
                                li {
                                    strong { (a.title) } "：" (a.because) "。"
                                    ul { @for act in &a.actions { li { (act) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn dashboard_figures(year: i32, s: &Summary) -> Markup {
    use ecosphere::report::model::{HOTSPOT_COLOR, SCOPE_COLORS, SCOPE_NAMES};
    use ecosphere::report::svg::{horizontal_bars, stacked_bars, HBar, Series};
    let total = s.total_kg_co2e;
    let scopes: Vec<(&str, f64)> = s.by_scope.iter().map(|(k, v)| (scope_label(*k), *v)).collect();
    let categories: Vec<(&str, f64)> = s.by_category.iter().map(|(k, v)| (category_label(*k), *v)).collect();
    let hotspots: Vec<(&str, f64)> = s.hotspots.iter().map(|h| (h.label.as_str(), h.kg_co2e)).collect();
    let trend = {
        let labels: Vec<String> = s.monthly.iter().map(|m| m.month[5..].trim_start_matches('0').to_string() + "月").collect();
        // The report's palette and legend, so a scope has one colour everywhere.
        let series: Vec<Series> = SCOPE_NAMES.iter().zip(SCOPE_COLORS).map(|(label, color)| Series { label: (*label).into(), color: color.into() }).collect();
        let values: Vec<Vec<f64>> = s.monthly.iter().map(|m| m.by_scope.to_vec()).collect();
        stacked_bars(&format!("{year} 年每月排放量"), "kgCO2e", &labels, &series, &values)
    };
    let hot = {
        let mut cum = 0.0;
        let bars: Vec<HBar> = s
            .hotspots
            .iter()
            .map(|h| {
                cum += h.share;
                HBar { label: h.label.clone(), value: h.kg_co2e, note: format!("{}｜累計 {}", fmt_pct(h.share), fmt_pct(cum)) }
            })
            .collect();
        horizontal_bars("排放熱區", "kgCO2e", "排放量", HOTSPOT_COLOR, &bars)
    };
    html! {
        h2 { "範疇別" }
        (share_table("範疇", &scopes, total))
        h2 { "ISO 14064-1 類別" }
        (share_table("類別", &categories, total))
        h2 { "月別趨勢" }
        div.chart { (trusted_svg(trend)) }
        table {
            thead { tr { th scope="col" { "月份" } th.n scope="col" { "範疇一" } th.n scope="col" { "範疇二" } th.n scope="col" { "範疇三" } th.n scope="col" { "合計 kgCO2e" } } }
            tbody {
                @for m in &s.monthly {
                    tr {
                        td { (m.month) }
                        @for v in m.by_scope { td.n { (fmt_kg(v)) } }
                        td.n { (fmt_kg(m.total)) }
                    }
                }
            }
        }
        h2 { "排放熱區" }
        p { "占總排放 80% 的主要排放源：" }
        div.chart { (trusted_svg(hot)) }
        (share_table("排放源", &hotspots, total))
        @if let Some(y) = &s.yoy {
            h2 { "與 " (y.previous_year) " 年比較" }
            p {
                (y.previous_year) " 年 " (fmt_kg(y.previous_total)) " kgCO2e → " (year) " 年 " (fmt_kg(total)) " kgCO2e，變化 "
                (fmt_kg(y.change)) " kgCO2e：活動量效果 " (fmt_kg(y.activity_effect)) "、係數效果 " (fmt_kg(y.factor_effect)) "。"
            }
        }
        p {
            a.button href={ "/carbon/report?year=" (year) } { "一鍵產出碳管理報告" } " "
            a href={ "/carbon/report.pdf?year=" (year) } { "PDF" } " · "
            a href={ "/carbon/export.csv?year=" (year) } { "CSV" } " · "
            a href={ "/carbon/export.json?year=" (year) } { "JSON" }
        }
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

/// What the batch page says after an upload (`?uploaded=N&batch=…`).
#[derive(Debug, Deserialize, Default)]
pub struct UploadedQuery {
    pub uploaded: Option<usize>,
    pub batch: Option<String>,
}

/// The upload form (local system; on AWS the page will upload with a presigned S3 POST).
pub fn upload_form(csrf: &str, done: &UploadedQuery) -> Markup {
    use ecosphere::ingest::sniff::MAX_FILE_BYTES;
    use ecosphere::services::upload::MAX_UPLOAD_FILES;
    html! {
        @if let (Some(n), Some(batch)) = (done.uploaded, done.batch.as_deref()) {
            p.notice role="status" { "已收到 " (n) " 個檔案（批次 " (batch) "），系統正在辨識；稍候重新整理本頁即可看到每個檔案的結果。" }
        }
        form.upload method="post" action="/carbon/batches" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(csrf);
            p {
                label.field for="files" { "選擇帳單檔案（可複選）" }
                input type="file" id="files" name="files" multiple required
                    accept=".pdf,.png,.jpg,.jpeg,.csv,application/pdf,image/png,image/jpeg,text/csv" aria-describedby="files-hint";
                small id="files-hint" { "PDF、PNG、JPEG 或 CSV；每個檔案 " (MAX_FILE_BYTES / 1024 / 1024) " MB 以內，一次最多 " (MAX_UPLOAD_FILES) " 個。" }
            }
            p {
                label.field for="batch" { "批次名稱（選填）" }
                input type="text" id="batch" name="batch" maxlength="60" placeholder="例如 2025-第一季；留空則以上傳時間命名";
            }
            p { button type="submit" { "上傳" } }
        }
    }
}

/// `POST /carbon/batches`: the upload form. Every file is checked first; only when all are
/// acceptable are they stored, exactly as a drop of `drop/{統一編號}/{批次}/{檔名}`.
async fn upload(State(app): State<Arc<App>>, headers: HeaderMap, g: ecosphere::web::GuardedUpload<CarbonSession>) -> Result<Response, AppError> {
    use ecosphere::services::upload::{check, default_batch, store_in_drop_folder};
    let Some(local) = &app.local else {
        return Err(AppError::NotFound("此環境請將檔案上傳到 S3 的 drop/{統一編號}/{批次}/ 路徑。".into()));
    };
    let tax = &g.session.claims.tax_id;
    let batch = g.fields.first("batch").filter(|b| !b.trim().is_empty()).map(str::to_string).unwrap_or_else(|| default_batch(app.clock.now()));
    let checked = check(tax, g.fields.first("tax_id"), &batch, g.files)?;
    let n = store_in_drop_folder(&local.drop_dir, &checked)?;
    tracing::info!(files = n, "browser upload stored for ingest");
    if wants_json(&headers) {
        return Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "batch": checked.batch, "files": n }))).into_response());
    }
    let q = serde_urlencoded::to_string([("uploaded", n.to_string()), ("batch", checked.batch)]).map_err(AppError::internal)?;
    Ok(Redirect::to(&format!("/carbon/batches?{q}")).into_response())
}

async fn batches(State(app): State<Arc<App>>, who: CarbonSession, headers: HeaderMap, Query(done): Query<UploadedQuery>) -> Result<Response, AppError> {
    let tax = &who.claims.tax_id;
    let mut files = app.activities.list_files(tax).await?;
    files.extend(rejected_drops(&app, tax));
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
    let body = html! {
        @if app.local.is_some() { (upload_form(&who.csrf, &done)) }
        (batches_body(tax.as_str(), app.ingest.extractor_name(), &files))
    };
    Ok(carbon_page(StatusCode::OK, "/carbon/batches", "上傳批次", body))
}

/// The batch page: every file of every batch (`files` sorted by batch), or how to add one.
pub fn batches_body(tax: &str, ocr_engine: &str, files: &[FileRecord]) -> Markup {
    html! {
        p {
            "將帳單放入 " (drop_folder(tax)) "（本機）或上傳到 S3 同一路徑，系統會自動辨識。支援 PNG、JPEG、PDF 與 CSV。文字辨識引擎：" (ocr_engine)
        }
        @if files.is_empty() {
            div.notice {
                h2 { "尚未上傳任何檔案。" }
                ol {
                    li { "用本頁上方的表單選擇檔案上傳，或在資料夾 " (drop_folder(tax)) " 中建立一個批次資料夾（名稱可自訂，例如 " code { "2025-第一季" } "），把帳單檔案放進去；在雲端則上傳到 S3 的同一路徑。" }
                    li { "支援的檔案類型：PNG、JPEG、PDF 與 CSV。" }
                    li { "系統收件後會自動辨識，每個檔案的結果（完成、待人工確認、失敗及原因）會列在本頁；讀不清楚的數值請到 " a href="/carbon/review" { "待確認" } " 確認。" }
                }
            }
        }
        @for batch in files.chunk_by(|a, b| a.batch_id == b.batch_id) {
            @let of = |st: FileStatus| batch.iter().filter(|g| g.status == st).count();
            h2 { "批次 " (batch[0].batch_id) }
            p {
                "共 " (batch.len()) " 個檔案：完成 " (of(FileStatus::Done)) "、待人工確認 " (of(FileStatus::NeedsReview))
                "、失敗 " (of(FileStatus::Failed)) "、處理中 " (of(FileStatus::Processing))
            }
            table {
                thead { tr { th scope="col" { "檔案" } th scope="col" { "狀態" } th.n scope="col" { "筆數" } th scope="col" { "說明" } } }
                tbody {
                    @for f in batch {
                        @let tag = match f.status {
                            FileStatus::Failed => "tag bad",
                            FileStatus::NeedsReview | FileStatus::Processing => "tag warn",
                            FileStatus::Done => "tag",
                        };
                        tr {
                            td { (f.name) }
                            td { span class=(tag) { (f.status.label()) } }
                            td.n { (f.activities) }
                            td {
                                (f.reason.as_deref().unwrap_or_default().trim())
                                @if f.duplicates > 0 {
                                    @if f.reason.as_deref().is_some_and(|r| !r.trim().is_empty()) { " " }
                                    "重複單據 " (f.duplicates) " 筆（只計一次）"
                                }
                            }
                        }
                    }
                }
            }
        }
    }
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
        (Some(q), Some(u)) => format!("{} {}", plain(q), u.as_str()),
        _ => "（未讀到用量）".into(),
    };
    let period = match (a.period_start, a.period_end) {
        (Some(s), Some(e)) if s == e => s.to_string(),
        (Some(s), Some(e)) => format!("{s} ~ {e}"),
        _ => "（未讀到期間）".into(),
    };
    format!("{} · {} · {}", a.kind.map_or("未辨識", |k| k.label()), q, period)
}

async fn review_queue(State(app): State<Arc<App>>, who: CarbonSession, headers: HeaderMap) -> Result<Response, AppError> {
    let all = app.activities.list_activities(&who.claims.tax_id, None).await?;
    let queue: Vec<&Activity> = all.iter().filter(|a| a.status == ActivityStatus::NeedsReview).collect();
    if wants_json(&headers) {
        return Ok(Json(queue.iter().map(|a| activity_json(a)).collect::<Vec<_>>()).into_response());
    }
    Ok(carbon_page(StatusCode::OK, "/carbon/review", "待人工確認", review_body(&queue)))
}

/// The review queue, or what happens next when nothing waits.
pub fn review_body(queue: &[&Activity]) -> Markup {
    html! {
        @if queue.is_empty() {
            div.notice {
                p { "目前沒有待確認的資料。" }
                p { "新上傳的帳單處理完成後，信心不足、檢核未通過或缺少資料的數值會列在這裡，請對照單據確認或修正；其餘數值已自動計入盤查。" }
                p { "查看 " a href="/carbon/batches" { "上傳批次" } " 的處理結果，或回到 " a href="/carbon" { "總覽" } " 查看排放量。" }
            }
        } @else {
            p { "下列數值信心不足、檢核未通過或缺少資料，確認或修正後才會計入盤查；系統不會把讀不到的數值當成 0。" }
            table {
                thead {
                    tr {
                        th scope="col" { "單據" } th scope="col" { "讀到的內容" } th scope="col" { "原因" }
                        th scope="col" { span.visually-hidden { "操作" } }
                    }
                }
                tbody {
                    @for a in queue {
                        tr {
                            td { (a.document.rsplit('/').next().unwrap_or_default()) " 第 " (a.page) " 頁" }
                            td { (describe(a)) }
                            td { (a.issues.join("；")) }
                            td { a href={ "/carbon/activities/" (a.id) } { "確認／修正" } }
                        }
                    }
                }
            }
        }
    }
}

async fn load_activity(app: &App, tax: &TaxId, id: &str) -> Result<Activity, AppError> {
    app.activities.get_activity(tax, id).await?.ok_or_else(|| AppError::NotFound("找不到這筆活動數據".into()))
}

/// The correction form of an activity: its values, or the values just posted with their errors.
fn activity_form(a: &Activity, csrf: &str, errors: &FieldErrors, values: Option<&Correction>) -> Markup {
    let err = |f: &str| html! { @if let Some(m) = errors.0.get(f) { div.error { (m) } } };
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
    let opt = |x: Option<String>| x.unwrap_or_default();
    html! {
        form method="post" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="version" value=(a.version);
            label.field {
                "類別 "
                select name="kind" {
                    option value="" { "請選擇" }
                    @for k in ActivityKind::ALL {
                        option value=(k.as_str()) selected[kind_now == k.as_str()] { (k.label()) }
                    }
                }
            }
            (err("kind"))
            label.field { "細項（油品、冷媒種類等）" input type="text" name="detail" value=(v("detail", opt(a.detail.clone()))); }
            (err("detail"))
            label.field { "用量 " input type="text" name="quantity" value=(v("quantity", a.quantity.map(plain).unwrap_or_default())) inputmode="decimal"; }
            (err("quantity"))
            label.field {
                "單位 "
                select name="unit" {
                    option value="" { "請選擇" }
                    @for u in [Unit::Kwh, Unit::M3, Unit::Litre, Unit::Kg, Unit::PersonHour] {
                        option value=(u.as_str()) selected[unit_now == u.as_str()] { (u.label()) }
                    }
                }
            }
            (err("unit"))
            label.field { "起日 " input type="text" name="period_start" value=(v("period_start", a.period_start.map(|d| d.to_string()).unwrap_or_default())) placeholder="2025-01-05"; }
            (err("period_start"))
            label.field { "迄日 " input type="text" name="period_end" value=(v("period_end", a.period_end.map(|d| d.to_string()).unwrap_or_default())) placeholder="2025-03-06"; }
            (err("period_end"))
            label.field { "電號／水號 " input type="text" name="meter_id" value=(v("meter_id", opt(a.meter_id.clone()))); }
            (err("meter_id"))
            label.field { "金額（新臺幣）" input type="text" name="amount_ntd" value=(v("amount_ntd", a.amount_ntd.map(plain).unwrap_or_default())); }
            (err("amount_ntd"))
            p {
                button type="submit" name="action" value="confirm" { "確認並計入" } " "
                button type="submit" name="action" value="reject" formnovalidate { "不是能源單據，排除" }
            }
        }
    }
}

/// The evidence beside the correction form.
fn activity_body(a: &Activity, form: Markup) -> Markup {
    let doc = a.document.to_lowercase();
    html! {
        p {
            "狀態：" span.tag.warn { (a.status.label()) }
            " 讀取方式：" (a.method.as_str()) "，信心 " (fmt_num(f64::from(a.confidence) * 100.0, 0)) "%"
        }
        @if !a.issues.is_empty() { div.alert { (a.issues.join("；")) } }
        div.evidence {
            div {
                h2 { "單據" }
                @if doc.ends_with(".pdf") || doc.ends_with(".csv") {
                    p { a href={ "/carbon/evidence/" (a.id) } { "開啟原始檔案" } "（第 " (a.page) " 頁／列）" }
                } @else {
                    img src={ "/carbon/evidence/" (a.id) } alt="單據影像";
                }
                p { (a.document) }
            }
            div {
                h2 { "讀到的數值" }
                (form)
            }
        }
    }
}

async fn activity_page(State(app): State<Arc<App>>, who: CarbonSession, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, AppError> {
    let a = load_activity(&app, &who.claims.tax_id, &id).await?;
    if wants_json(&headers) {
        return Ok(Json(activity_json(&a)).into_response());
    }
    let form = activity_form(&a, &who.csrf, &Default::default(), None);
    Ok(carbon_page(StatusCode::OK, "/carbon/activities", "確認活動數據", activity_body(&a, form)))
}

async fn activity_post(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Guarded { session: who, form: raw }: Guarded<CarbonSession>,
) -> Result<Response, AppError> {
    let a = load_activity(&app, &who.claims.tax_id, &id).await?;
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
            b.confirmed_by = Some(who.claims.email.clone());
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
            if let Err(e) = c.apply(&mut b, &who.claims.email, &now) {
                if let (AppError::Validation(errors), false) = (&e, wants_json(&headers)) {
                    let form = activity_form(&a, &who.csrf, errors, Some(&c));
                    return Ok(carbon_page(StatusCode::UNPROCESSABLE_ENTITY, "/carbon/activities", "確認活動數據", activity_body(&a, form)));
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

async fn evidence(State(app): State<Arc<App>>, who: CarbonSession, Path(id): Path<String>) -> Result<Response, AppError> {
    let a = load_activity(&app, &who.claims.tax_id, &id).await?;
    // The document key is under the company's own prefix (checked again, defence in depth).
    if !a.document.starts_with(&format!("drop/{}/", who.claims.tax_id)) {
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

async fn inventory_page(State(app): State<Arc<App>>, who: CarbonSession, headers: HeaderMap, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let tax = &who.claims.tax_id;
    let year = pick_year(&app, tax, &q).await?;
    let s = company_summary(&app, tax, year).await?;
    if wants_json(&headers) {
        return Ok(Json(serde_json::json!({ "year": year, "sources": s.sources, "total_kg_co2e": s.total_kg_co2e })).into_response());
    }
    Ok(carbon_page(StatusCode::OK, "/carbon/inventory", "溫室氣體盤查清冊", inventory_body(tax.as_str(), year, &s)))
}

/// The inventory table of a year (MOENV's layout), or what to do when it has no sources.
pub fn inventory_body(tax: &str, year: i32, s: &Summary) -> Markup {
    html! {
        (year_links(year, "/carbon/inventory"))
        @if s.sources.is_empty() {
            div.notice {
                p { (year) " 年的盤查清冊目前沒有排放源。" }
                @if s.needs_review > 0 {
                    p { "有 " (s.needs_review) " 筆資料等待人工確認，確認後會列入清冊：" a href="/carbon/review" { "前往待確認" } }
                }
                p {
                    "將此年度的帳單放入 " (drop_folder(tax)) "（支援 PNG、JPEG、PDF 與 CSV），系統辨識並計算後，排放源會依環境部盤查表單格式列在這裡。處理結果見 "
                    a href="/carbon/batches" { "上傳批次" } "。"
                }
            }
        } @else {
            p { "依環境部溫室氣體盤查表單格式（排放源鑑別與排放量計算）列出，單位：活動數據依其單位，排放量 kg。" }
            div.table-scroll {
                table {
                    thead {
                        tr {
                            th scope="col" { "範疇" } th scope="col" { "類別" } th scope="col" { "排放源" } th.n scope="col" { "活動數據" }
                            th scope="col" { "單位" } th.n scope="col" { "CO2" } th.n scope="col" { "CH4" } th.n scope="col" { "N2O" }
                            th.n scope="col" { "其他(CO2e)" } th.n scope="col" { "CO2e" } th.n scope="col" { "占比" } th scope="col" { "單據數" } th scope="col" { "係數" }
                        }
                    }
                    tbody {
                        @for r in &s.sources {
                            tr {
                                td { (r.scope) }
                                td { (r.category) }
                                td {
                                    (r.label)
                                    @if r.provisional { " " span.tag.warn { "暫用" } }
                                    @if r.unverified { " " span.tag.warn { "未查證" } }
                                }
                                td.n { (fmt_num(r.quantity, 2)) }
                                td { (r.unit.as_str()) }
                                td.n { (fmt_kg(r.co2_kg)) }
                                td.n { (fmt_num(r.ch4_kg, 4)) }
                                td.n { (fmt_num(r.n2o_kg, 4)) }
                                td.n { (fmt_kg(r.other_kg_co2e)) }
                                td.n { (fmt_kg(r.kg_co2e)) }
                                td.n { (share_text(r.kg_co2e, s.total_kg_co2e)) }
                                td { (r.documents) }
                                td { (r.factor_refs.join(", ")) }
                            }
                        }
                    }
                    tfoot {
                        tr {
                            th scope="row" colspan="9" { "合計" }
                            td.n { (fmt_kg(s.total_kg_co2e)) }
                            td.n { "100%" }
                            td colspan="2" {}
                        }
                    }
                }
            }
        }
    }
}

async fn report_inputs(app: &App, who: &SsoClaims, q: &YearQuery) -> Result<ecosphere::report::ReportModel, AppError> {
    let year = pick_year(app, &who.tax_id, q).await?;
    let s = company_summary(app, &who.tax_id, year).await?;
    let company = company_name(app, &who.tax_id).await?;
    Ok(report_model::build(&s, &company, app.calculate.library(), app.clock.now()))
}

async fn report_page(State(app): State<Arc<App>>, who: CarbonSession, headers: HeaderMap, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let model = report_inputs(&app, &who.claims, &q).await?;
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

async fn report_pdf(State(app): State<Arc<App>>, who: CarbonSession, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let model = report_inputs(&app, &who.claims, &q).await?;
    let pdf = ecosphere::report::report_pdf(&model).map_err(|e| AppError::internal(format!("report PDF: {e}")))?;
    Ok(download(pdf, "application/pdf", format!("carbon-report-{}-{}.pdf", who.claims.tax_id, model.year)))
}

async fn export_csv(State(app): State<Arc<App>>, who: CarbonSession, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let tax = &who.claims.tax_id;
    let year = pick_year(&app, tax, &q).await?;
    let lines = app.activities.list_emissions(tax, Some(year)).await?;
    Ok(download(emissions_csv(&lines).into_bytes(), "text/csv; charset=utf-8", format!("emissions-{tax}-{year}.csv")))
}

/// The export document of a company (and year): the same JSON as the `export` subcommand.
pub async fn export(app: &App, tax: &TaxId, year: Option<i32>) -> Result<serde_json::Value, AppError> {
    let files = app.activities.list_files(tax).await?;
    let activities = app.activities.list_activities(tax, year).await?;
    let lines = app.activities.list_emissions(tax, year).await?;
    Ok(export_document(&files, &activities, &lines))
}

async fn export_json(State(app): State<Arc<App>>, who: CarbonSession, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let tax = &who.claims.tax_id;
    let year = pick_year(&app, tax, &q).await?;
    let doc = export(&app, tax, Some(year)).await?;
    let mut resp = Json(doc).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(resp)
}

async fn factors_page(State(app): State<Arc<App>>, _who: CarbonSession, headers: HeaderMap) -> Result<Response, AppError> {
    let entries = app.calculate.library().entries();
    if wants_json(&headers) {
        return Ok(Json(serde_json::json!({ "fingerprint": app.calculate.library().fingerprint(), "factors": entries,
            "crosswalk": ecosphere::factors::CROSSWALK.iter().map(|r| serde_json::json!({ "item": r.item_zh, "description": r.description_zh,
                "scope": r.scope, "iso_category": r.iso_category, "ghg_protocol": r.ghg_protocol, "note": r.note_zh })).collect::<Vec<_>>() })).into_response());
    }
    Ok(carbon_page(StatusCode::OK, "/carbon/factors", "排放係數與對照", factors_body(&entries)))
}

/// The factor library and the scope/category crosswalk.
fn factors_body(entries: &[FactorView]) -> Markup {
    html! {
        div.table-scroll {
            table {
                thead {
                    tr {
                        th scope="col" { "係數" } th scope="col" { "版本" } th.n scope="col" { "數值" } th scope="col" { "單位" }
                        th scope="col" { "來源" } th scope="col" { "公告日" } th scope="col" { "適用期間" } th scope="col" { "狀態" }
                    }
                }
                tbody {
                    @for e in entries {
                        tr {
                            td { (e.label) " " small { (e.id) } }
                            td { (e.version) }
                            td.n { (plain(e.value)) }
                            td { (e.unit) }
                            td { (e.source.publisher) " " (e.source.title) @if let Some(r) = &e.source.reference { " " (r) } }
                            td { (e.published) }
                            td { (e.valid_period) }
                            td {
                                @match e.status {
                                    ecosphere::factors::FactorStatus::Official => { "已查證" }
                                    ecosphere::factors::FactorStatus::Unverified => span.tag.warn { "未查證" },
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "範疇與類別對照（ISO 14064-1:2018 與 GHG Protocol）" }
        div.table-scroll {
            table {
                thead {
                    tr {
                        th scope="col" { "項目" } th scope="col" { "內容" } th scope="col" { "範疇" }
                        th scope="col" { "ISO 類別" } th scope="col" { "GHG Protocol" } th scope="col" { "說明" }
                    }
                }
                tbody {
                    @for r in ecosphere::factors::CROSSWALK {
                        tr {
                            td { (r.item_zh) } td { (r.description_zh) } td { (scope_label(r.scope)) }
                            td { (category_label(r.iso_category)) } td { (r.ghg_protocol) } td { (r.note_zh) }
                        }
                    }
                }
            }
        }
    }
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

async fn statement_json(State(app): State<Arc<App>>, who: CarbonSession, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let (record, doc) = issue_statement(&app, &who.claims, &q).await?;
    let mut resp = Json(doc).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{}.json\"", record.id)) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

async fn statement_pdf(State(app): State<Arc<App>>, who: CarbonSession, Query(q): Query<YearQuery>) -> Result<Response, AppError> {
    let (record, doc) = issue_statement(&app, &who.claims, &q).await?;
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
        Status::Valid => ("ok", html! { "此憑證由碳星雲簽發，內容與簽發時相同，且其數據與平台目前的盤查結果一致。" }),
        Status::Superseded { by: Some(by) } => (
            "warn",
            html! { "此憑證的數據已重新計算，已由較新的憑證 " a href={ "/verify/" (by) } { (by) } " 取代。請以新憑證為準。" },
        ),
        Status::Superseded { by: None } => ("warn", html! { "此憑證簽發後，該年度的數據已更正或依新公告係數重新計算；請向公司索取新版憑證。" }),
        Status::Revoked { reason } => ("bad", html! { "此憑證已撤銷：" (reason) }),
    };
    let f = &doc["figures"];
    let mut rows: Vec<(&str, f64)> = Vec::new();
    for x in f["by_scope"].as_array().into_iter().flatten() {
        rows.push((scope_label(x["scope"].as_u64().unwrap_or(0) as u8), x["kg_co2e"].as_f64().unwrap_or(0.0)));
    }
    for x in f["by_category"].as_array().into_iter().flatten() {
        let kg_v = x["kg_co2e"].as_f64().unwrap_or(0.0);
        if kg_v != 0.0 {
            rows.push((category_label(x["category"].as_u64().unwrap_or(0) as u8), kg_v));
        }
    }
    let total = f["total_kg_co2e"].as_f64().unwrap_or(0.0);
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let body = html! {
        h1 { "碳排放查核參考憑證查驗" }
        p class={ "verdict " (class) } { strong { "狀態：" (status.label()) } }
        p { (explain) }
        table {
            tbody {
                tr { th scope="row" { "憑證編號" } td { code { (record.id) } } }
                tr { th scope="row" { "公司名稱" } td { (text(&public["firm"]["name"])) } }
                tr { th scope="row" { "統一編號" } td { (text(&public["firm"]["tax_id"])) } }
                tr { th scope="row" { "盤查年度" } td { (public["year"].to_string()) } }
                tr { th scope="row" { "簽發時間（UTC）" } td { (text(&public["issued_at"])) } }
                tr { th scope="row" { "製表人" } td { (text(&public["prepared_by"])) } }
                tr { th scope="row" { "排放總量" } td { (fmt_tonnes(total)) " 公噸CO2e（" (fmt_kg(total)) " kgCO2e）" } }
                tr { th scope="row" { "PCAF 資料品質分數" } td { (public["pcaf_weighted_score"].as_f64().map(|v| fmt_num(v, 1)).unwrap_or_else(|| "—".into())) } }
                tr { th scope="row" { "數據雜湊值" } td { code { (text(&public["inventory_sha256"])) } } }
            }
        }
        h2 { "範疇與類別（kgCO2e）" }
        table {
            thead { tr { th scope="col" { "範疇／類別" } th.n scope="col" { "kgCO2e" } } }
            tbody {
                @for (label, v) in &rows { tr { th scope="row" { (label) } td.n { (fmt_kg(*v)) } } }
            }
        }
        h2 { "單據雜湊值（SHA-256）" }
        p { "將您收到的單據檔案計算 SHA-256，應與下列其中一筆相同。" }
        table {
            thead { tr { th scope="col" { "類型" } th scope="col" { "SHA-256" } th scope="col" { "期間" } } }
            tbody {
                @for e in public["evidence"].as_array().into_iter().flatten() {
                    tr {
                        td { (e["kind"].as_str().unwrap_or("—")) }
                        td { code { (e["document_sha256"].as_str().unwrap_or("（單據已不在保存期限內）")) } }
                        td {
                            @match (e["period_start"].as_str(), e["period_end"].as_str()) {
                                (Some(a), Some(b)) => { (a) "～" (b) }
                                _ => { "—" }
                            }
                        }
                    }
                }
            }
        }
        p {
            "簽章公開金鑰：" a href="/.well-known/statement-keys.json" { "/.well-known/statement-keys.json" } "（JWKS）。離線查驗："
            code { "ecosphere verify 憑證.pdf" } "。"
        }
    };
    Ok(render(StatusCode::OK, Area::Public, "碳排放查核參考憑證查驗", body))
}

/// Ends the carbon session (the portal session stays) and clears its cookie.
async fn logout(State(app): State<Arc<App>>, Guarded { session, .. }: Guarded<CarbonSession>) -> Result<Response, AppError> {
    session.end(&app).await?;
    let mut resp = Redirect::to("/portal").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, clear_cookie(&app, CARBON_COOKIE));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecosphere::domain::ExtractionMethod;

    const XSS: &str = "<img src=x onerror=alert(1)>";

    fn file(batch: &str, name: &str, status: FileStatus, reason: Option<&str>) -> FileRecord {
        FileRecord {
            tax_id: "22099131".into(),
            batch_id: batch.into(),
            key: format!("drop/22099131/{batch}/{name}"),
            blob_key: String::new(),
            name: name.into(),
            version: "1".into(),
            size: 10,
            status,
            file_type: None,
            method: None,
            reason: reason.map(Into::into),
            activities: 0,
            needs_review: 0,
            duplicates: 1,
            received_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn activity(detail: &str) -> Activity {
        Activity {
            id: "act-1".into(),
            tax_id: "22099131".into(),
            batch_id: "b1".into(),
            document: format!("drop/22099131/b1/{XSS}.png"),
            page: 1,
            kind: Some(ActivityKind::ALL[0]),
            detail: Some(detail.into()),
            quantity: Some(-0.0),
            unit: Some(Unit::Litre),
            period_start: None,
            period_end: None,
            meter_id: None,
            invoice_number: None,
            amount_ntd: None,
            unit_price: None,
            confidence: 0.4,
            method: ExtractionMethod::Csv,
            status: ActivityStatus::NeedsReview,
            issues: vec![format!("缺少用量 {XSS}")],
            dedupe_key: None,
            duplicate_of: None,
            version: 3,
            updated_at: String::new(),
            confirmed_by: None,
        }
    }

    fn no_raw_markup(page: &str) {
        assert!(!page.contains("<img src=x"), "{page}");
        assert!(!page.contains("<script"), "{page}");
    }

    #[test]
    fn the_batch_page_escapes_file_names_and_reasons() {
        let files = vec![
            file("2025-Q1", &format!("{XSS}.csv"), FileStatus::Failed, Some("<script>alert(2)</script>")),
            file("2025-Q1", "ok.pdf", FileStatus::Done, None),
            file(&format!("{XSS}批次"), "b.png", FileStatus::NeedsReview, None),
        ];
        let page = batches_body("22099131", "tesseract", &files).into_string();
        no_raw_markup(&page);
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;.csv"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(2)&lt;/script&gt; 重複單據 1 筆（只計一次）"), "{page}");
        assert_eq!(page.matches("<table>").count(), 2, "one table per batch: {page}");
        assert_eq!(page.matches("<thead>").count(), 2);
        assert!(page.contains("共 2 個檔案：完成 1、待人工確認 0、失敗 1、處理中 0"), "{page}");
        assert!(!page.contains("尚未上傳任何檔案"));
    }

    #[test]
    fn the_review_queue_and_form_escape_what_was_read() {
        let a = activity(&format!("{XSS}\"' onfocus=alert(3)"));
        let page = review_body(&[&a]).into_string();
        no_raw_markup(&page);
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;.png 第 1 頁"), "{page}");
        assert!(page.contains("缺少用量 &lt;img"), "{page}");
        assert!(page.contains("href=\"/carbon/activities/act-1\""));
        assert!(!page.contains("-0 L"), "a read -0 is shown as 0: {page}");
        let form = activity_body(&a, activity_form(&a, "tok\"en", &Default::default(), None)).into_string();
        no_raw_markup(&form);
        assert!(form.contains("value=\"&lt;img src=x onerror=alert(1)&gt;&quot;' onfocus=alert(3)\""), "{form}");
        assert!(form.contains("name=\"csrf\" value=\"tok&quot;en\""), "{form}");
        assert!(form.contains("name=\"version\" value=\"3\""), "{form}");
        assert!(form.contains("name=\"quantity\" value=\"0\""), "{form}");
        let mut errors = FieldErrors::default();
        errors.0.insert("quantity".into(), format!("用量須為 0 以上的數字 {XSS}"));
        let again = activity_form(&a, "t", &errors, None).into_string();
        assert!(again.contains("<div class=\"error\">用量須為 0 以上的數字 &lt;img"), "{again}");
    }

    #[test]
    fn empty_pages_say_what_to_do_next() {
        let s = summarize("22099131", 2025, &[], &[], &[]);
        let d = Dashboard { name: XSS, tax: "22099131", year: 2025, csrf: "t", files: 0, failed: 0 };
        let page = dashboard_body(&d, &s).into_string();
        no_raw_markup(&page);
        assert!(page.contains("<code>drop/22099131/批次名稱/</code>") && page.contains("PNG、JPEG、PDF 與 CSV"), "{page}");
        assert!(page.contains("href=\"/carbon/batches\">上傳批次</a>"), "{page}");
        assert!(!page.contains("<table") && !page.contains("<svg") && !page.contains("0.00"), "no tables of zeros: {page}");
        assert!(page.contains("action=\"/carbon/logout\"") && page.contains("name=\"csrf\" value=\"t\""));
        let review = review_body(&[]).into_string();
        assert!(review.contains("目前沒有待確認的資料") && !review.contains("<table"), "{review}");
        let inventory = inventory_body("22099131", 2025, &s).into_string();
        assert!(inventory.contains("2025 年的盤查清冊目前沒有排放源") && !inventory.contains("<table"), "{inventory}");
        let batches = batches_body("22099131", "tesseract", &[]).into_string();
        assert!(batches.contains("尚未上傳任何檔案") && batches.contains("drop/22099131/批次名稱/") && !batches.contains("<table"), "{batches}");
        // Files exist, but not for this year.
        let d = Dashboard { files: 3, ..d };
        let page = dashboard_body(&d, &s).into_string();
        assert!(page.contains("2025 年尚無已計算的排放量") && !page.contains("<table"), "{page}");
        assert!(!page.contains("-0"), "{page}");
    }

    #[test]
    fn figures_never_show_a_negative_zero() {
        let mut s = summarize("22099131", 2025, &[], &[], &[]);
        s.total_kg_co2e = -0.0;
        s.by_scope = vec![(1, -0.0), (2, -0.0001), (3, 0.0)];
        s.by_category = vec![(1, -0.0)];
        for m in &mut s.monthly {
            m.by_scope = [-0.0, -0.001, 0.0];
            m.total = -0.0;
        }
        let page = dashboard_figures(2025, &s).into_string();
        for bad in ["-0.00", "-0.0%", ">-0<"] {
            assert!(!page.contains(bad), "{bad} in {page}");
        }
        assert!(!page.contains("<table><table"));
        let inventory = inventory_body("22099131", 2025, &s).into_string();
        assert!(!inventory.contains("-0."), "{inventory}");
    }
}
