//! Function `staff`: the programme staff console.
//!
//! - `GET/POST /staff/login`, `GET/POST /staff/login/{secret}`, `POST /staff/logout`:
//!   sign-in by e-mailed single-use link for the addresses in `APP_STAFF`;
//! - `GET /staff`: the console's home;
//! - `GET /staff/national?year=` (各產業、各縣市歷年碳排分析): t CO2e, firms and intensity
//!   by county (a choropleth map of the 22 counties), by 大類 over four years, and the
//!   中類 × county cells — only what the privacy rules publish; JSON with
//!   `Accept: application/json`;
//! - `GET /staff/national.csv?year=&table=cells|counties|sections`: each table as CSV,
//!   withheld figures marked 不公開, never their values;
//! - `GET /staff/dead-letters` (待處理的失敗項目): locally, the change feed's dead letters
//!   and the drop events whose quick retries ran out (attempts, reason, first time, never
//!   the event body); on AWS, where to find them (the on-failure SQS queues). JSON with
//!   `Accept: application/json`: `{"backend", "items"}` (`items` null on AWS).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ecosphere::adapters::sqlite::dead_letters::{DeadLetterItem, DeadLetterKind, SqliteDeadLetters};
use ecosphere::domain::{taipei_minutes, Counties, FieldErrors, IndustryTable};
use ecosphere::error::AppError;
use ecosphere::national::{compute, firm_years, publish_groups, FirmYear, GroupFigure, National};
use ecosphere::services::portal::SESSION_HOURS;
use ecosphere::web::layout::render;
use ecosphere::web::session::{clear_cookie, set_cookie, STAFF_COOKIE};
use ecosphere::web::{signin, wants_json, Area, Form, Guarded, StaffSession};
use ecosphere::App;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/staff/login", get(login_page).post(request_link))
        .route("/staff/login/{secret}", get(confirm_page).post(sign_in))
        .route("/staff/logout", post(sign_out))
        .route("/staff", get(home))
        .route("/staff/national", get(national_page))
        .route("/staff/national.csv", get(national_csv))
        .route("/staff/dead-letters", get(dead_letters_page))
        .layer(axum::middleware::from_fn_with_state(app.clone(), ecosphere::web::same_origin))
        .with_state(app)
}

fn staff_page(status: StatusCode, path: &'static str, title: &str, body: Markup) -> Response {
    render(status, Area::Staff(path), title, html! { h1 { (title) } (body) })
}

async fn login_page() -> Response {
    signin::login_page("計畫管理後台登入", "輸入您的計畫管理人員 Email，我們會寄送一次性的登入連結（15 分鐘內有效），無需密碼。", "/staff/login")
}

async fn request_link(State(app): State<Arc<App>>, ext: axum::http::Extensions, headers: HeaderMap, Form(raw): Form) -> Result<Response, AppError> {
    let client = ecosphere::web::client_key(&ext);
    app.staff.request_login(raw.first("email").unwrap_or_default(), Some(&client)).await?;
    Ok(signin::link_sent(&headers, "若此 Email 是計畫管理人員，您將在幾分鐘內收到登入連結（15 分鐘內有效）。"))
}

async fn confirm_page(State(app): State<Arc<App>>, Path(secret): Path<String>) -> Result<Response, AppError> {
    if !app.staff.link_valid(&secret).await? {
        return Err(AppError::Gone("登入連結已失效（已使用或超過 15 分鐘），請重新申請登入連結。".into()));
    }
    Ok(signin::confirm_page("確認登入計畫管理後台", "按下按鈕即登入計畫管理後台。", &format!("/staff/login/{secret}")))
}

async fn sign_in(State(app): State<Arc<App>>, Path(secret): Path<String>) -> Result<Response, AppError> {
    let (sid, _) = app.staff.sign_in(&secret).await?;
    let mut resp = Redirect::to("/staff").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, set_cookie(&app, STAFF_COOKIE, &sid, SESSION_HOURS * 3600));
    Ok(resp)
}

async fn sign_out(State(app): State<Arc<App>>, g: Guarded<StaffSession>) -> Result<Response, AppError> {
    app.staff.sign_out(ecosphere::web::session::Session::secret(&g.session)).await?;
    let mut resp = Redirect::to("/staff/login").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, clear_cookie(&app, STAFF_COOKIE));
    Ok(resp)
}

async fn home(State(app): State<Arc<App>>, s: StaffSession) -> Result<Response, AppError> {
    let year = app.firms.default_year();
    Ok(staff_page(
        StatusCode::OK,
        "/staff",
        "計畫管理後台",
        html! {
            p { "您好，" (s.who.email) "。" }
            ul {
                li { a href={ "/staff/national?year=" (year) } { "全國統計：各產業、各縣市歷年碳排分析" } }
                li { a href="/staff/dead-letters" { "待處理的失敗項目" } }
            }
            form method="post" action="/staff/logout" {
                input type="hidden" name="csrf" value=(s.csrf);
                button.secondary type="submit" { "登出" }
            }
        },
    ))
}

#[derive(Deserialize)]
struct NationalQuery {
    year: Option<String>,
    table: Option<String>,
}

fn year_of(app: &App, q: &NationalQuery) -> Result<i32, AppError> {
    let year = match q.year.as_deref().map(str::trim).filter(|y| !y.is_empty()) {
        None => app.firms.default_year(),
        Some(y) => y.parse().map_err(|_| AppError::Validation(FieldErrors::single("year", "年度須為西元年，例如 2025")))?,
    };
    app.firms.check_year(year)
}

/// Everything the national page shows for a year.
struct NationalView {
    year: i32,
    cells: National,
    counties: Vec<GroupFigure>,
    /// (year, figures by 大類) for the year and the three before it.
    sections: Vec<(i32, Vec<GroupFigure>)>,
}

fn by_county(firms: &[FirmYear]) -> BTreeMap<String, (String, Vec<&FirmYear>)> {
    let mut g: BTreeMap<String, (String, Vec<&FirmYear>)> =
        Counties::builtin().counties.iter().map(|c| (c.code.clone(), (c.name.clone(), Vec::new()))).collect();
    for f in firms {
        if let Some(e) = f.county.as_ref().and_then(|c| g.get_mut(c)) {
            e.1.push(f);
        }
    }
    g
}

fn by_section(firms: &[FirmYear]) -> BTreeMap<String, (String, Vec<&FirmYear>)> {
    let table = IndustryTable::builtin();
    let mut g: BTreeMap<String, (String, Vec<&FirmYear>)> = BTreeMap::new();
    for f in firms {
        if let Some(d) = f.industry.as_ref().and_then(|i| table.division(i)) {
            g.entry(d.section.clone()).or_insert_with(|| (d.section_name.clone(), Vec::new())).1.push(f);
        }
    }
    g
}

/// The national page's HTML for a year (what `GET /staff/national` sends; also timed by
/// the national benchmark).
pub async fn national_html(app: &App, year: i32) -> Result<String, AppError> {
    let v = load(app, year).await?;
    let title = "全國統計：各產業、各縣市歷年碳排分析";
    Ok(ecosphere::web::layout::layout(Area::Staff("/staff/national"), title, html! { h1 { (title) } (national_body(year, &v)) }).into_string())
}

async fn load(app: &App, year: i32) -> Result<NationalView, AppError> {
    let t = app.benchmark.thresholds();
    let (totals, profiles) = (app.calculate.totals(), app.firms.store());
    let firms = firm_years(totals.as_ref(), profiles.as_ref(), year).await?;
    let cells = compute(year, &firms, &t);
    let counties = publish_groups(&by_county(&firms), &t);
    let mut sections = Vec::new();
    for y in (year - 3)..=year {
        let fy = if y == year { firms.clone() } else { firm_years(totals.as_ref(), profiles.as_ref(), y).await? };
        sections.push((y, publish_groups(&by_section(&fy), &t)));
    }
    Ok(NationalView { year, cells, counties, sections })
}

fn fmt_t(t: Option<f64>) -> String {
    t.map_or_else(|| "不公開".to_string(), |t| format!("{t:.1}"))
}

fn fmt_i(t: Option<f64>) -> String {
    t.map_or_else(|| "—".to_string(), |t| format!("{t:.2}"))
}

#[derive(Deserialize)]
struct MapFile {
    #[serde(rename = "viewBox")]
    view_box: String,
    locations: Vec<MapLocation>,
}

#[derive(Deserialize)]
struct MapLocation {
    county: String,
    path: String,
}

fn map_data() -> &'static MapFile {
    static M: OnceLock<MapFile> = OnceLock::new();
    M.get_or_init(|| serde_json::from_str(include_str!("../../../shared/data/map/taiwan.json")).expect("shared/data/map/taiwan.json is valid"))
}

/// Five greens from light to dark, and grey for withheld counties.
const SHADES: [&str; 5] = ["#e8f5e9", "#a5d6a7", "#66bb6a", "#388e3c", "#1b5e20"];
const WITHHELD: &str = "#bdbdbd";

/// The choropleth: every county once, shaded by its published t CO2e (quintile classes)
/// or grey when withheld; each outline carries its figure as a title.
pub fn county_map(year: i32, counties: &[GroupFigure]) -> Markup {
    let mut shown: Vec<f64> = counties.iter().filter_map(|c| c.t_co2e).collect();
    shown.sort_by(f64::total_cmp);
    let class = |t: f64| -> usize {
        if shown.len() < 2 {
            return 2;
        }
        let rank = shown.iter().filter(|x| **x < t).count();
        (rank * SHADES.len() / shown.len()).min(SHADES.len() - 1)
    };
    let by_code: BTreeMap<&str, &GroupFigure> = counties.iter().map(|c| (c.key.as_str(), c)).collect();
    let m = map_data();
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(m.view_box) width="360" role="img" aria-labelledby="map-title" {
                title id="map-title" { (year) " 年各縣市排放量（公噸CO2e）" }
                @for loc in &m.locations {
                    @let g = by_code.get(loc.county.as_str());
                    @let (fill, label) = match g {
                        Some(g) => match g.t_co2e {
                            Some(t) => (SHADES[class(t)], format!("{}：{:.1} 公噸CO2e（{} 家）", g.label, t, g.firms)),
                            None if g.firms == 0 => (SHADES[0], format!("{}：尚無企業資料", g.label)),
                            None => (WITHHELD, format!("{}：家數不足或少數企業占比過高，不公開", g.label)),
                        },
                        None => (WITHHELD, loc.county.clone()),
                    };
                    path d=(loc.path) fill=(fill) stroke="#ffffff" stroke-width="1.5" data-county=(loc.county) data-withheld=[(fill == WITHHELD).then_some("true")] {
                        title { (label) }
                    }
                }
            }
            figcaption {
                "顏色越深排放量越高（依公開縣市的五分位）；"
                span.swatch-withheld { "灰色" } "：不公開。"
            }
        }
    }
}

fn group_table(caption: &str, first: &str, rows: &[GroupFigure]) -> Markup {
    html! {
        div.table-scroll {
            table {
                caption { (caption) }
                thead { tr { th scope="col" { (first) } th.n scope="col" { "企業數" } th.n scope="col" { "公噸CO2e" } th.n scope="col" { "公噸CO2e／百萬元營收" } } }
                tbody {
                    @for g in rows.iter().filter(|g| g.firms > 0) {
                        tr { th scope="row" { (g.label) } td.n { (g.firms) } td.n { (fmt_t(g.t_co2e)) } td.n { (fmt_i(g.t_per_million_ntd)) } }
                    }
                }
            }
        }
    }
}

async fn national_page(State(app): State<Arc<App>>, _s: StaffSession, headers: HeaderMap, Query(q): Query<NationalQuery>) -> Result<Response, AppError> {
    let year = year_of(&app, &q)?;
    let v = load(&app, year).await?;
    if wants_json(&headers) {
        return Ok(Json(json!({
            "year": v.year,
            "national": v.cells,
            "counties": v.counties,
            "sections": v.sections.iter().map(|(y, g)| json!({ "year": y, "groups": g })).collect::<Vec<_>>(),
        }))
        .into_response());
    }
    Ok(staff_page(StatusCode::OK, "/staff/national", "全國統計：各產業、各縣市歷年碳排分析", national_body(year, &v)))
}

fn national_body(year: i32, v: &NationalView) -> Markup {
    let table = IndustryTable::builtin();
    let counties = Counties::builtin();
    let years: Vec<i32> = v.sections.iter().map(|(y, _)| *y).collect();
    let section_keys: Vec<(String, String)> = {
        let mut k: BTreeMap<String, String> = BTreeMap::new();
        for (_, gs) in &v.sections {
            for g in gs {
                k.insert(g.key.clone(), g.label.clone());
            }
        }
        k.into_iter().collect()
    };
    let p = &v.cells.privacy;
    html! {
        p {
            "年度："
            @for y in ((year - 3)..=(year + 1)).rev() {
                @if y == year { strong aria-current="page" { (y) } } @else { a href={ "/staff/national?year=" (y) } { (y) } } " "
            }
        }
        p {
            (year) " 年共 " strong { (v.cells.firms) } " 家企業，排放總量 " strong { (format!("{:.1}", v.cells.total_t_co2e)) } " 公噸CO2e"
            @if v.cells.unclassified_firms > 0 { "（其中 " (v.cells.unclassified_firms) " 家尚未填寫公司資料，只計入總量）" }
            "。"
        }
        p.hint { "隱私規則：每一格至少 " (p.min_firms) " 家企業，且最大兩家合計不超過 " (format!("{:.0}", p.max_top2_share * 100.0)) "%；不符合的格子與為保護它而一併隱藏的格子標示「不公開」，其數值不會出現在頁面或匯出檔。" }
        h2 { "各縣市" }
        (county_map(year, &v.counties))
        (group_table(&format!("{year} 年各縣市排放量"), "縣市", &v.counties))
        p { a href={ "/staff/national.csv?year=" (year) "&table=counties" } { "下載 CSV（各縣市）" } }
        h2 { "各產業歷年趨勢（大類）" }
        div.table-scroll {
            table {
                caption { "各大類排放量（公噸CO2e），" (years.first().copied().unwrap_or(year)) "–" (year) " 年" }
                thead { tr { th scope="col" { "大類" } @for y in &years { th.n scope="col" { (y) } } } }
                tbody {
                    @for (key, label) in &section_keys {
                        tr {
                            th scope="row" { (key) " " (label) }
                            @for (_, gs) in &v.sections {
                                td.n { @match gs.iter().find(|g| &g.key == key) { Some(g) => (fmt_t(g.t_co2e)), None => "—" } }
                            }
                        }
                    }
                }
            }
        }
        p { a href={ "/staff/national.csv?year=" (year) "&table=sections" } { "下載 CSV（各大類歷年）" } }
        h2 { "中類 × 縣市" }
        p { "公開 " (v.cells.cells.len()) " 格，不公開 " (v.cells.suppressed) " 格。" }
        div.table-scroll {
            table {
                caption { (year) " 年中類 × 縣市（只列出公開的格子）" }
                thead { tr { th scope="col" { "中類" } th scope="col" { "縣市" } th.n scope="col" { "企業數" } th.n scope="col" { "公噸CO2e" } } }
                tbody {
                    @for c in &v.cells.cells {
                        tr {
                            th scope="row" { (c.industry) " " (table.division(&c.industry).map_or("", |d| d.name.as_str())) }
                            td { (counties.get(&c.county).map_or(c.county.as_str(), |x| x.name.as_str())) }
                            td.n { (c.firms) } td.n { (format!("{:.1}", c.t_co2e)) }
                        }
                    }
                }
            }
        }
        p { a href={ "/staff/national.csv?year=" (year) "&table=cells" } { "下載 CSV（中類 × 縣市）" } }
    }
}

/// A CSV field, quoted when needed; a leading formula character is neutralised.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

async fn national_csv(State(app): State<Arc<App>>, _s: StaffSession, Query(q): Query<NationalQuery>) -> Result<Response, AppError> {
    let year = year_of(&app, &q)?;
    let v = load(&app, year).await?;
    let table = IndustryTable::builtin();
    let counties = Counties::builtin();
    let mut out = String::from("\u{feff}");
    let mut row = |cells: Vec<String>| {
        out += &cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",");
        out += "\r\n";
    };
    let name = match q.table.as_deref().unwrap_or("cells") {
        "cells" => {
            row(vec!["年度".into(), "中類".into(), "中類名稱".into(), "縣市代碼".into(), "縣市".into(), "企業數".into(), "公噸CO2e".into()]);
            for c in &v.cells.cells {
                let d = table.division(&c.industry).map_or(String::new(), |d| d.name.clone());
                let n = counties.get(&c.county).map_or(String::new(), |x| x.name.clone());
                row(vec![year.to_string(), c.industry.clone(), d, c.county.clone(), n, c.firms.to_string(), format!("{:.3}", c.t_co2e)]);
            }
            row(vec![year.to_string(), "不公開".into(), format!("{} 格", v.cells.suppressed), String::new(), String::new(), String::new(), "不公開".into()]);
            row(vec![year.to_string(), "全國合計".into(), String::new(), String::new(), String::new(), v.cells.firms.to_string(), format!("{:.3}", v.cells.total_t_co2e)]);
            "cells"
        }
        "counties" => {
            row(vec!["年度".into(), "縣市代碼".into(), "縣市".into(), "企業數".into(), "公噸CO2e".into(), "公噸CO2e／百萬元營收".into()]);
            for g in v.counties.iter().filter(|g| g.firms > 0) {
                row(vec![year.to_string(), g.key.clone(), g.label.clone(), g.firms.to_string(), fmt_t(g.t_co2e), fmt_i(g.t_per_million_ntd)]);
            }
            "counties"
        }
        "sections" => {
            row(vec!["年度".into(), "大類".into(), "大類名稱".into(), "企業數".into(), "公噸CO2e".into(), "公噸CO2e／百萬元營收".into()]);
            for (y, gs) in &v.sections {
                for g in gs {
                    row(vec![y.to_string(), g.key.clone(), g.label.clone(), g.firms.to_string(), fmt_t(g.t_co2e), fmt_i(g.t_per_million_ntd)]);
                }
            }
            "sections"
        }
        other => {
            return Err(AppError::Validation(FieldErrors::single("table", format!("不支援的表格「{}」：請用 cells、counties 或 sections", other.chars().take(20).collect::<String>()))));
        }
    };
    let mut resp = out.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!("attachment; filename=\"national-{year}-{name}.csv\"");
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(AppError::internal)?);
    Ok(resp)
}

const DEAD_LETTERS_TITLE: &str = "待處理的失敗項目";

/// The SQS queues the AWS functions send what they gave up on to (`infra/template.yaml`,
/// the on-failure destinations): (logical name, what goes there).
pub const AWS_DEAD_LETTER_QUEUES: [(&str, &str); 2] = [
    ("NotifyDeadLetterQueue", "通知信：處理失敗的申請／審核串流批次，以及失敗的排程提醒"),
    ("PipelineDeadLetterQueue", "帳單處理：處理失敗的投遞檔案（ingest）與排放計算批次（calculate）"),
];

async fn dead_letters_page(State(app): State<Arc<App>>, _s: StaffSession, headers: HeaderMap) -> Result<Response, AppError> {
    let items = match &app.local {
        Some(local) => Some(SqliteDeadLetters::new(local.db.clone()).list(app.config.feed.max_attempts).await?),
        None => None,
    };
    Ok(dead_letters_response(items.as_deref(), app.config.feed.redrive_interval, wants_json(&headers)))
}

/// The page (or JSON) for the local system's items, or for AWS when `items` is `None`.
pub fn dead_letters_response(items: Option<&[DeadLetterItem]>, redrive_every: std::time::Duration, json: bool) -> Response {
    if json {
        return Json(json!({ "backend": if items.is_some() { "local" } else { "aws" }, "items": items })).into_response();
    }
    let body = match items {
        Some(items) => local_dead_letters(items, redrive_every),
        None => aws_dead_letters(),
    };
    staff_page(StatusCode::OK, "/staff/dead-letters", DEAD_LETTERS_TITLE, body)
}


fn every(d: std::time::Duration) -> String {
    match d.as_secs() {
        60 => "每分鐘".to_string(),
        s if s % 60 == 0 => format!("每 {} 分鐘", s / 60),
        s => format!("每 {s} 秒"),
    }
}

fn consumer_label(consumer: &str) -> &str {
    match consumer {
        "notify" => "通知信（notify）",
        "calculate" => "排放計算（calculate）",
        other => other,
    }
}

/// The reason in zh-TW where the change feed's own wording is known; the detail as recorded.
fn reason(error: &str) -> String {
    if error.is_empty() {
        "（未記錄原因）".to_string()
    } else if error == "reported as a batch item failure" {
        "處理程式回報此筆處理失敗".to_string()
    } else if let Some(detail) = error.strip_prefix("batch failed: ") {
        format!("整批處理失敗：{detail}")
    } else {
        error.to_string()
    }
}

fn local_dead_letters(items: &[DeadLetterItem], redrive_every: std::time::Duration) -> Markup {
    let streams: Vec<(&str, i64, &DeadLetterItem)> = items
        .iter()
        .filter_map(|i| match &i.kind {
            DeadLetterKind::Stream { consumer, seq } => Some((consumer.as_str(), *seq, i)),
            DeadLetterKind::File { .. } => None,
        })
        .collect();
    let files: Vec<(&str, &str, &DeadLetterItem)> = items
        .iter()
        .filter_map(|i| match &i.kind {
            DeadLetterKind::File { key, file_name } => Some((key.as_str(), file_name.as_str(), i)),
            DeadLetterKind::Stream { .. } => None,
        })
        .collect();
    html! {
        p {
            "以下是多次重試仍未成功、暫時擱置的項目。執行中的系統" (every(redrive_every)) "會自動再試一次，成功後即從清單中移除。"
            "串流事件也可以在伺服器上執行 " code { "cargo run -- dead-letters --redrive" } " 立即重送；投遞檔案由執行中的系統自動重送。"
        }
        p.hint { "時間為台北時間（UTC+8）。為保護個人資料，這裡不顯示事件內容。" }
        h2 { "串流事件" }
        @if streams.is_empty() {
            p.empty { "目前沒有失敗項目。" }
        } @else {
            div.table-scroll {
                table {
                    caption { "串流事件（" (streams.len()) " 筆）" }
                    thead { tr { th scope="col" { "處理程式" } th.n scope="col" { "序號" } th.n scope="col" { "次數" } th scope="col" { "原因" } th scope="col" { "首次發生時間" } } }
                    tbody {
                        @for (consumer, seq, i) in &streams {
                            tr data-kind="stream" {
                                th scope="row" { (consumer_label(consumer)) }
                                td.n { (seq) }
                                td.n { (i.attempts) }
                                td { (reason(&i.error)) }
                                td { time datetime=(i.created_at.to_rfc3339()) { (taipei_minutes(i.created_at)) } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "投遞檔案" }
        @if files.is_empty() {
            p.empty { "目前沒有失敗項目。" }
        } @else {
            div.table-scroll {
                table {
                    caption { "投遞檔案（" (files.len()) " 筆）" }
                    thead { tr { th scope="col" { "檔案" } th.n scope="col" { "次數" } th scope="col" { "原因" } th scope="col" { "首次發生時間" } } }
                    tbody {
                        @for (key, name, i) in &files {
                            tr data-kind="file" {
                                th scope="row" { span title=(key) { (name) } br; small { code { (key) } } }
                                td.n { (i.attempts) }
                                td { (reason(&i.error)) }
                                td { time datetime=(i.created_at.to_rfc3339()) { (taipei_minutes(i.created_at)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn aws_dead_letters() -> Markup {
    html! {
        p { "系統在 AWS 上執行：多次重試仍失敗的項目不在本頁，而是送到下列 SQS 佇列（CloudFormation 堆疊中的資源名稱），有訊息時會觸發 CloudWatch 警示：" }
        ul {
            @for (queue, what) in AWS_DEAD_LETTER_QUEUES {
                li { code { (queue) } "：" (what) }
            }
        }
        p.hint { "佇列訊息說明哪個事件或批次失敗；串流紀錄 24 小時後即過期，請儘快處理。" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> String {
        String::from_utf8(axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn on_aws_the_page_names_the_on_failure_queues_and_json_has_no_items() {
        let every = std::time::Duration::from_secs(60);
        let html = body(dead_letters_response(None, every, false)).await;
        assert!(html.contains(DEAD_LETTERS_TITLE));
        for (queue, _) in AWS_DEAD_LETTER_QUEUES {
            assert!(html.contains(queue), "{queue}");
        }
        let template = include_str!("../../../infra/template.yaml");
        for (queue, _) in AWS_DEAD_LETTER_QUEUES {
            assert!(template.contains(&format!("Destination: !GetAtt {queue}.Arn")), "{queue} is an on-failure destination in the template");
        }
        let v: serde_json::Value = serde_json::from_str(&body(dead_letters_response(None, every, true)).await).unwrap();
        assert_eq!(v, json!({ "backend": "aws", "items": null }));
    }

    #[tokio::test]
    async fn an_empty_local_system_says_so() {
        let html = body(dead_letters_response(Some(&[]), std::time::Duration::from_secs(60), false)).await;
        assert_eq!(html.matches("目前沒有失敗項目").count(), 2);
        assert!(html.contains("每分鐘") && html.contains("cargo run -- dead-letters --redrive"));
        let v: serde_json::Value = serde_json::from_str(&body(dead_letters_response(Some(&[]), std::time::Duration::from_secs(60), true)).await).unwrap();
        assert_eq!(v, json!({ "backend": "local", "items": [] }));
    }
}
