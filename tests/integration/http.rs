//! The local system started on port 0 and driven over HTTP, as a browser or script would.

use super::common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::*;
use ecosphere::domain::{Application, TaxId};
use ecosphere::stream::{batch_response, DynamoDbEventResponse, StreamConsumer, StreamEvent};
use ecosphere::AppError;
use ecosphere_local::Running;
use reqwest::{header, redirect, Client, StatusCode};

struct System {
    running: Running,
    client: Client,
    _dir: tempfile::TempDir,
}

async fn system() -> System {
    let dir = tempfile::tempdir().unwrap();
    let running = ecosphere_local::start(local_config(dir.path())).await.unwrap();
    let client = Client::builder().redirect(redirect::Policy::none()).build().unwrap();
    System { running, client, _dir: dir }
}

impl System {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.url())
    }
    async fn post_form(&self, form: &[(String, String)], json: bool) -> reqwest::Response {
        let mut req = self.client.post(self.url("/apply")).form(form);
        if json {
            req = req.header(header::ACCEPT, "application/json");
        }
        req.send().await.unwrap()
    }
    async fn stored(&self, tax_id: &str) -> Vec<Application> {
        self.running.app.applications.list_for_company(&TaxId::parse(tax_id).unwrap()).await.unwrap()
    }
}

/// Collects what the change feed delivers.
#[derive(Default)]
struct Collect(Mutex<Vec<StreamEvent>>);

#[async_trait]
impl StreamConsumer for Collect {
    fn name(&self) -> &str {
        "test-collector"
    }
    async fn handle(&self, event: StreamEvent) -> Result<DynamoDbEventResponse, AppError> {
        self.0.lock().unwrap().push(event);
        Ok(batch_response(Vec::<String>::new()))
    }
}

fn with(form: &[(String, String)], field: &str, value: &str) -> Vec<(String, String)> {
    let mut f: Vec<_> = form.iter().filter(|(k, _)| k != field).cloned().collect();
    f.push((field.into(), value.into()));
    f
}

#[tokio::test]
async fn the_form_has_every_field_and_notice_of_the_seed() {
    let s = system().await;
    let resp = s.client.get(s.url("/apply")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let body = resp.text().await.unwrap();
    assert!(body.contains("碳星雲服務申請表單"));
    for field in [
        "company_name", "tax_id", "products", "applicant_name", "applicant_department", "applicant_title", "contact_email",
        "contact_phone", "regions", "inventory_status", "interests", "notes", "idempotency_key",
    ] {
        assert!(body.contains(&format!("name=\"{field}\"")), "form lacks {field}");
    }
    for value in [
        "north", "central", "south", "east", "verified", "completed_unverified", "in_progress", "not_started", "ghg_inventory",
        "supply_chain", "energy_management", "iso50001", "product_footprint", "iso20400", "subsidy",
    ] {
        assert!(body.contains(&format!("value=\"{value}\"")), "form lacks option {value}");
    }
    for notice in ["一個公司(一個場域)目前開放申請一個帳號", "使用期間為6個月", "保密義務", "3-5 個工作天", "不接受免費信箱", "審核中"] {
        assert!(body.contains(notice), "form lacks notice {notice}");
    }
    let json: serde_json::Value =
        s.client.get(s.url("/apply")).header(header::ACCEPT, "application/json").send().await.unwrap().json().await.unwrap();
    assert_eq!(json["fields"].as_array().unwrap().len(), 9);
    assert_eq!(json["interests"].as_array().unwrap().len(), 7);
    s.running.stop().await;
}

#[tokio::test]
async fn a_valid_application_reaches_pending_is_stored_and_streamed() {
    let s = system().await;
    let form = with(&valid_form("維他命股份有限公司", "99754141"), "tax_id", "９９７５４１４１");
    let resp = s.post_form(&form, false).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()[header::LOCATION].to_str().unwrap().to_string();
    assert!(location.starts_with("/applications/"));
    let page = s.client.get(s.url(&location)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("審核中"));
    assert!(html.contains("維他命股份有限公司"));
    assert!(html.contains("m***@vitamin.com.tw"), "e-mail is masked on the status page");
    assert!(!html.contains("ming@vitamin.com.tw"));

    let stored = s.stored("99754141").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(location, format!("/applications/{}", stored[0].id));
    assert_eq!(stored[0].form.tax_id.as_str(), "99754141", "full-width digits normalised");

    let status: serde_json::Value =
        s.client.get(s.url(&location)).header(header::ACCEPT, "application/json").send().await.unwrap().json().await.unwrap();
    assert_eq!(status["status"], "pending");
    assert_eq!(status["status_label"], "審核中");

    // The change feed delivers exactly one INSERT carrying the stored application.
    let c = Collect::default();
    s.running.feed.as_ref().unwrap().drain(&c).await.unwrap();
    let events = c.0.lock().unwrap().clone();
    let records: Vec<_> = events.iter().flat_map(|e| e.records.iter()).collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].event_name, "INSERT");
    let app = ecosphere::records::application_from_image(&records[0].change.new_image).unwrap().unwrap();
    assert_eq!(app, stored[0]);
    s.running.stop().await;
}

#[tokio::test]
async fn json_clients_get_201_and_the_same_result_on_resubmission() {
    let s = system().await;
    let form = with(&valid_form("宏碁測試", "22099131"), "idempotency_key", "form-abc-123");
    let first = s.post_form(&form, true).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: serde_json::Value = first.json().await.unwrap();
    assert_eq!(first["status"], "pending");
    let again = s.post_form(&form, true).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<serde_json::Value>().await.unwrap(), first);
    // A browser double-submit lands on the same status page.
    let html = s.post_form(&form, false).await;
    assert_eq!(html.status(), StatusCode::SEE_OTHER);
    assert_eq!(html.headers()[header::LOCATION].to_str().unwrap(), format!("/applications/{}", first["id"].as_str().unwrap()));
    assert_eq!(s.stored("22099131").await.len(), 1);
    s.running.stop().await;
}

#[tokio::test]
async fn a_second_application_for_a_company_is_409_in_html_and_json() {
    let s = system().await;
    assert_eq!(s.post_form(&valid_form("甲", "10458574"), false).await.status(), StatusCode::SEE_OTHER);
    let dup = s.post_form(&valid_form("甲 second", "10458574"), false).await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    let body = dup.text().await.unwrap();
    assert!(body.contains("<html") && body.contains("審核中"), "{body}");
    let dup = s.post_form(&valid_form("甲 third", "10458574"), true).await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    let j: serde_json::Value = dup.json().await.unwrap();
    assert_eq!(j["error"], "conflict");
    assert_eq!(s.stored("10458574").await.len(), 1);
    s.running.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_4xx_in_chinese_and_writes_nothing() {
    let s = system().await;
    let good = valid_form("乙公司", "62140097");
    let cases: Vec<(&str, Vec<(String, String)>, &str, &str)> = vec![
        ("bad checksum", with(&good, "tax_id", "62140096"), "tax_id", "檢查碼"),
        ("letters in tax id", with(&good, "tax_id", "6214009A"), "tax_id", "8 位數字"),
        ("free mail", with(&good, "contact_email", "Wang <wang@Gmail.com>"), "contact_email", "備註"),
        ("header injection", with(&good, "company_name", "乙公司\r\nBcc: x@evil.example"), "company_name", "換行"),
        ("too long", with(&good, "products", &"產".repeat(501)), "products", "500"),
        ("no interest", good.iter().filter(|(k, _)| k != "interests").cloned().collect(), "interests", "至少"),
        ("unknown status", with(&good, "inventory_status", "done"), "inventory_status", "選項"),
    ];
    for (name, form, field, text) in &cases {
        let resp = s.post_form(form, true).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let j: serde_json::Value = resp.json().await.unwrap();
        let msg = j["fields"][field].as_str().unwrap_or_else(|| panic!("{name}: no message for {field}: {j}"));
        assert!(msg.contains(text), "{name}: {msg}");
        // The browser gets the form back with the message and what was typed.
        let resp = s.post_form(form, false).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let html = resp.text().await.unwrap();
        assert!(html.contains(&maud::html! { (msg) }.into_string()), "{name}: form lacks the message");
        assert!(html.contains("value=\"乙公司") || *field == "company_name", "{name}: typed values kept");
    }
    // Not a form, not UTF-8, too big.
    let r = s.client.post(s.url("/apply")).header(header::CONTENT_TYPE, "application/json").body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("表單"));
    let r = s
        .client
        .post(s.url("/apply"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(vec![b'a', b'=', 0xff, 0xfe])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = s
        .client
        .post(s.url("/apply"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("notes={}", "x".repeat(200_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    assert!(s.stored("62140097").await.is_empty());
    let c = Collect::default();
    s.running.feed.as_ref().unwrap().drain(&c).await.unwrap();
    assert!(c.0.lock().unwrap().is_empty(), "nothing reached the change log");
    s.running.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_posts_for_one_company_store_one() {
    let s = Arc::new(system().await);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let form = with(&valid_form("丁公司", "04595257"), "notes", &format!("try {i}"));
                s.post_form(&form, true).await.status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 19, "{statuses:?}");
    assert_eq!(s.stored("04595257").await.len(), 1);
}

#[tokio::test]
async fn user_text_is_escaped_and_unknown_pages_are_404() {
    let s = system().await;
    let form = with(&valid_form("<script>alert(1)</script>", "12345675"), "applicant_name", "\"><img src=x onerror=alert(1)>");
    let resp = s.post_form(&form, false).await;
    let location = resp.headers()[header::LOCATION].to_str().unwrap().to_string();
    let html = s.client.get(s.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert(1)"));
    let bad = with(&form, "tax_id", "x");
    let html = s.post_form(&bad, false).await.text().await.unwrap();
    assert!(!html.contains("<img src=x"), "re-rendered form escapes values");

    for path in ["/applications/0192f0e2-0000-7000-8000-000000000000", "/applications/not-an-id", "/nope"] {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains("<html") && (body.contains("查無此申請") || body.contains("找不到")), "{path}: {body}");
    }
    let r = s.client.get(s.url("/nope")).header(header::ACCEPT, "application/json").send().await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "not_found");
    let mailbox = s.client.get(s.url("/_dev/mailbox")).send().await.unwrap();
    assert_eq!(mailbox.status(), StatusCode::OK);
    s.running.stop().await;
}

/// Issue 13: a body announced above the limit is refused at once (not waited for while it
/// trickles in), and percent-encoded bytes that are not UTF-8 are refused, not stored as U+FFFD.
#[tokio::test]
async fn oversized_announced_bodies_and_invalid_utf8_escapes_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = system().await;
    let mut tcp = tokio::net::TcpStream::connect(s.running.addr).await.unwrap();
    let head = "POST /apply HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000\r\n\r\ncompany_name=";
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read(&mut buf)).await.expect("answered without the body").unwrap();
    let resp = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");

    let body = "company_name=%FF%FE&tax_id=22099131";
    let r = s.client.post(s.url("/apply")).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("UTF-8"));
    assert!(s.stored("22099131").await.is_empty(), "nothing stored");
    s.running.stop().await;
}
