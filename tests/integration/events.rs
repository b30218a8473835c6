//! Every file in `events/` pushed through its function's handler, the way the Lambda
//! runtime does it (`lambda_http`'s adapter: API Gateway v2 event in, API Gateway
//! response out) — once on the local backend and once on the AWS emulator, where the
//! valid submission must land in DynamoDB and produce a stream record.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::common::{self, *};
use ecosphere::App;
use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt;
use lambda_http::{Context, LambdaEvent};

/// What each sample stream event must produce: how many e-mails (none of its records
/// may fail).
fn stream_expectation(function: &str, file: &str) -> usize {
    match (function, file) {
        ("notify", "insert-new-application.json") => 1,
        ("notify", "modify-approved.json") => 1,
        ("notify", "modify-unrelated-and-other-entities.json") => 0,
        ("notify", "remove-ttl.json") => 0,
        _ => panic!("events/{function}/{file} has no expectation: add one in tests/integration/events.rs"),
    }
}

/// What each sample S3 event must leave behind: for the dropped object, its file
/// status and activity count; `None` when the event is not for a dropped bill.
fn ingest_expectation(file: &str) -> Option<(&'static str, u32)> {
    match file {
        "s3-put-ledger-csv.json" => Some(("done", 2)),
        "s3-put-unknown-type.json" => Some(("failed", 0)),
        "s3-put-outside-drop.json" => None,
        "s3-removed.json" => None,
        _ => panic!("events/ingest/{file} has no expectation: add one in tests/integration/events.rs"),
    }
}

/// How many emission lines each sample activity stream event must produce.
fn calculate_expectation(file: &str) -> usize {
    match file {
        // 1234 kWh billed 2025-01-05..03-06: January, February and March.
        "insert-activity.json" => 3,
        "other-entity.json" => 0,
        _ => panic!("events/calculate/{file} has no expectation: add one in tests/integration/events.rs"),
    }
}

/// The sweeper's schedule of `ingest`: a read abandoned ten minutes ago (the ledger the
/// S3 events dropped, as another version) is read again to a final state, once.
async fn push_ingest_sweep(app: &Arc<App>, path: &Path) {
    let tax = ecosphere::domain::TaxId::parse("22099131").unwrap();
    let done = app.activities.list_files(&tax).await.unwrap();
    let ledger = done.iter().find(|f| f.status.as_str() == "done" && f.name.ends_with(".csv")).expect("the S3 events left a finished ledger");
    let mut abandoned = ledger.clone();
    abandoned.version = "abandoned-v2".into();
    abandoned.status = ecosphere::domain::inventory::FileStatus::Processing;
    let lease = chrono::Duration::minutes(5);
    let then = app.clock.now() - chrono::Duration::minutes(10);
    assert_eq!(app.activities.claim_file(&abandoned, then, lease).await.unwrap(), ecosphere::ports::FileClaim::Claimed);
    let payload: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let out = ingest::handle_event(app, payload.clone()).await.unwrap();
    assert_eq!((out["found"].as_u64(), out["finished"].as_u64(), out["failed"].as_u64()), (Some(1), Some(1), Some(0)), "{out}");
    let files = app.activities.list_files(&tax).await.unwrap();
    let swept = files.iter().find(|f| f.version == "abandoned-v2").unwrap();
    // The same bills as the finished version: read, and counted once (duplicates).
    assert_eq!((swept.status.as_str(), swept.duplicates), ("done", ledger.activities), "{swept:?}");
    let again = ingest::handle_event(app, payload).await.unwrap();
    assert_eq!(again["found"].as_u64(), Some(0), "nothing is left for the next sweep: {again}");
    assert!(ingest::handle_event(app, serde_json::json!({"task": "nap"})).await.is_err(), "an unknown task is refused");
}

async fn push_ingest(app: &Arc<App>, path: &Path, file: &str) {
    use ecosphere::adapters::drop::ObjectConsumer;
    let event: ecosphere::adapters::drop::S3Event =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: not an S3 event: {e}", path.display()));
    let obj = &event.records[0].s3.object;
    let key = ingest::decode_s3_key(obj.key.as_deref().unwrap()).unwrap();
    let name = key.rsplit('/').next().unwrap().to_string();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events").join(&name);
    if let (Ok(bytes), Some(k)) = (std::fs::read(&fixture), ecosphere::ports::BlobKey::parse(&key)) {
        assert_eq!(bytes.len() as i64, obj.size.unwrap(), "{file}: the event's size is the fixture's");
        app.blobs.put(&k, bytes, "application/octet-stream").await.unwrap();
    }
    let consumer = ingest::IngestConsumer::new(app.clone());
    consumer.handle(event.clone()).await.unwrap_or_else(|e| panic!("ingest/{file}: {e}"));
    let tax = ecosphere::domain::TaxId::parse("22099131").unwrap();
    let files = app.activities.list_files(&tax).await.unwrap();
    let found = files.iter().find(|f| f.key == key);
    match ingest_expectation(file) {
        Some((status, n)) => {
            let f = found.unwrap_or_else(|| panic!("ingest/{file}: no file record for {key}"));
            assert_eq!((f.status.as_str(), f.activities), (status, n), "ingest/{file}: {f:?}");
        }
        None => assert!(found.is_none(), "ingest/{file}: nothing is recorded"),
    }
    // Delivered again (S3 notifications are at-least-once): nothing new.
    let before = app.activities.list_activities(&tax, None).await.unwrap();
    consumer.handle(event).await.unwrap();
    assert_eq!(app.activities.list_activities(&tax, None).await.unwrap(), before, "ingest/{file}: redelivery changed nothing");
}

async fn push_calculate(app: &Arc<App>, path: &Path, file: &str) {
    let event: ecosphere::stream::StreamEvent =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: not a DynamoDB stream event: {e}", path.display()));
    // The activities the records are about exist in the store, as ingest wrote them.
    for r in &event.records {
        if let Some(a) = ecosphere::records::activity_from_image(&r.change.new_image) {
            let a = a.unwrap_or_else(|e| panic!("calculate/{file}: undecodable activity image: {e}"));
            let f = ecosphere::domain::inventory::FileRecord {
                tax_id: a.tax_id.clone(),
                batch_id: a.batch_id.clone(),
                key: a.document.clone(),
                blob_key: a.document.clone(),
                name: a.document.rsplit('/').next().unwrap().into(),
                version: "v1".into(),
                size: 1,
                status: ecosphere::domain::inventory::FileStatus::Processing,
                file_type: None,
                method: None,
                reason: None,
                activities: 0,
                needs_review: 0,
                duplicates: 0,
                received_at: a.updated_at.clone(),
                updated_at: a.updated_at.clone(),
            };
            app.activities.finish_file(&f, vec![a]).await.unwrap();
        }
    }
    let tax = ecosphere::domain::TaxId::parse("22099131").unwrap();
    let consumer = calculate::CalculateConsumer::new(app.clone());
    let before = app.activities.list_emissions(&tax, None).await.unwrap().len();
    for round in 0..2 {
        let resp = ecosphere::stream::StreamConsumer::handle(&consumer, event.clone()).await.unwrap();
        assert!(resp.batch_item_failures.is_empty(), "calculate/{file}: failures {:?}", resp.batch_item_failures);
        let lines = app.activities.list_emissions(&tax, None).await.unwrap();
        assert_eq!(lines.len() - before, calculate_expectation(file), "calculate/{file} (delivery {round}): {lines:?}");
    }
}

/// Where the sent e-mails can be counted.
enum Mails {
    Outbox(PathBuf),
    Moto(String),
}

impl Mails {
    async fn count(&self) -> usize {
        match self {
            Mails::Outbox(dir) => std::fs::read_dir(dir).map(|rd| rd.count()).unwrap_or(0),
            Mails::Moto(url) => moto_sent_emails(url).await.len(),
        }
    }
}

/// What each sample HTTP event must produce: status, and a text the body must contain.
fn expectation(function: &str, file: &str) -> (u16, &'static str) {
    match (function, file) {
        ("apply", "get-form.json") => (200, "碳星雲服務申請表單"),
        ("apply", "post-valid-form.json") => (303, ""),
        ("apply", "post-valid-json-accept.json") => (201, "\"status\":\"pending\""),
        ("apply", "post-invalid-tax-id-and-freemail.json") => (422, "統一編號檢查碼不正確"),
        ("apply", "post-crlf-injection.json") => (422, "換行"),
        ("apply", "post-not-a-form.json") => (400, "表單"),
        ("apply", "get-unknown-application.json") => (404, "查無此申請"),
        ("review", "get-forged-token.json") => (403, "審核連結無效"),
        ("review", "post-forged-token.json") => (403, "審核連結無效"),
        ("review", "get-malformed-token.json") => (403, "審核連結無效"),
        ("portal", "get-login.json") => (200, "寄送登入連結"),
        ("portal", "post-login-unknown-email.json") => (200, "若此 Email"),
        ("portal", "get-members-without-session.json") => (401, "請先登入"),
        ("portal", "get-company-without-session.json") => (401, "請先登入"),
        ("portal", "post-members-cross-site.json") => (403, "其他網站"),
        ("portal", "get-stylesheet.json") => (200, "--green"),
        ("sso", "get-jwks.json") => (200, "\"kty\":\"OKP\""),
        ("sso", "post-callback-forged-token.json") => (401, "單一登入失敗"),
        ("sso", "post-start-without-session.json") => (401, "請先登入"),
        ("carbon", "get-carbon-without-session.json") => (401, "碳星雲服務平台登入"),
        ("carbon", "get-verify-unknown-statement.json") => (404, "查無此憑證編號"),
        ("carbon", "get-statement-keys.json") => (200, "\"keys\""),
        ("staff", "get-staff-login.json") => (200, "寄送登入連結"),
        ("staff", "get-national-without-session.json") => (401, "請先登入計畫管理後台"),
        ("staff", "get-dead-letters-without-session.json") => (401, "請先登入計畫管理後台"),
        _ => panic!("events/{function}/{file} has no expectation: add one in tests/integration/events.rs"),
    }
}

fn router_for(function: &str, app: Arc<App>) -> axum::Router {
    match function {
        "apply" => ecosphere::web::finish(apply::router(app)),
        "review" => ecosphere::web::finish(review::router(app)),
        "portal" => ecosphere::web::finish(portal::router(app)),
        "sso" => ecosphere::web::finish(sso::router(app)),
        "carbon" => ecosphere::web::finish(carbon::router(app)),
        "staff" => ecosphere::web::finish(staff::router(app)),
        other => panic!("events/{other}/: no handler known for this function"),
    }
}

fn event_files() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap().flatten() {
        if !dir.path().is_dir() {
            panic!("events/ holds one folder per function, found {}", dir.path().display());
        }
        let function = dir.file_name().to_string_lossy().to_string();
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            out.push((function.clone(), f.path()));
        }
    }
    out.sort();
    assert!(!out.is_empty());
    out
}

async fn push_all(app: Arc<App>, mails: &Mails) -> Vec<(String, u16)> {
    let mut seen = Vec::new();
    for (function, path) in event_files() {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if function == "ingest" && file.starts_with("schedule-") {
            push_ingest_sweep(&app, &path).await;
            seen.push((file, 0));
            continue;
        }
        if function == "notify" && file.starts_with("schedule-") {
            let payload: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let before = mails.count().await;
            let out = notify::handle_event(&app, payload.clone()).await.unwrap_or_else(|e| panic!("notify/{file}: {e}"));
            assert_eq!(out["failed"].as_u64(), Some(0), "notify/{file}: {out}");
            let sent = mails.count().await - before;
            assert_eq!(out["finished"].as_u64(), Some(sent as u64), "notify/{file}: {out}");
            // Run again: everything already went out.
            let again = notify::handle_event(&app, payload).await.unwrap();
            assert_eq!(again["found"].as_u64(), Some(0), "notify/{file}: {again}");
            seen.push((file, 0));
            continue;
        }
        if function == "ingest" {
            push_ingest(&app, &path, &file).await;
            seen.push((file, 0));
            continue;
        }
        if function == "calculate" {
            push_calculate(&app, &path, &file).await;
            seen.push((file, 0));
            continue;
        }
        if function == "notify" {
            let expected = stream_expectation(&function, &file);
            let event: ecosphere::stream::StreamEvent = serde_json::from_slice(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: not a DynamoDB stream event: {e}", path.display()));
            let consumer = notify::NotifyConsumer::new(app.clone());
            let before = mails.count().await;
            let resp = ecosphere::stream::StreamConsumer::handle(&consumer, event.clone()).await.unwrap();
            assert!(resp.batch_item_failures.is_empty(), "{function}/{file}: failures {:?}", resp.batch_item_failures);
            assert_eq!(mails.count().await - before, expected, "{function}/{file}: e-mails sent");
            // Delivered again, as streams may: nothing more.
            ecosphere::stream::StreamConsumer::handle(&consumer, event).await.unwrap();
            assert_eq!(mails.count().await - before, expected, "{function}/{file}: redelivery sent again");
            seen.push((file, 0));
            continue;
        }
        let (status, needle) = expectation(&function, &file);
        let payload: LambdaRequest = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: not an API Gateway event: {e}", path.display()));
        let adapter = lambda_http::Adapter::from(router_for(&function, app.clone()));
        let resp = adapter.oneshot(LambdaEvent::new(payload, Context::default())).await.unwrap();
        let json = serde_json::to_value(&resp).unwrap();
        assert_eq!(json["statusCode"].as_u64(), Some(u64::from(status)), "{function}/{file}: {json}");
        let body = match (json["body"].as_str(), json["isBase64Encoded"].as_bool()) {
            (Some(b), Some(true)) => {
                use base64::Engine;
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap()).unwrap()
            }
            (Some(b), _) => b.to_string(),
            (None, _) => String::new(),
        };
        assert!(body.contains(needle), "{function}/{file}: body lacks {needle:?}: {body}");
        seen.push((file, status));
    }
    seen
}

#[tokio::test]
async fn every_event_through_its_handler_on_the_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::from_config(local_config(dir.path())).await.unwrap();
    let seen = push_all(app.clone(), &Mails::Outbox(dir.path().join("outbox"))).await;
    assert!(seen.len() >= 22);
    assert_eq!(app.applications.list_for_company(&"99754141".parse_tax()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn every_event_through_its_handler_on_the_aws_emulator_lands_in_dynamodb_and_the_stream() {
    let moto = Moto::start();
    common::set_aws_env();
    let sdk = sdk(&moto.url).await;
    create_resources(&sdk, "events-table", "events-bucket").await;
    let app = App::from_config(aws_config(&moto.url, "events-table", "events-bucket")).await.unwrap();
    push_all(app.clone(), &Mails::Moto(moto.url.clone())).await;
    let stored = app.applications.list_for_company(&"99754141".parse_tax()).await.unwrap();
    assert_eq!(stored.len(), 1, "the valid form landed in DynamoDB");
    let streamed: Vec<_> = stream_records(&sdk, "events-table")
        .await
        .into_iter()
        .filter(|(name, _)| name == "INSERT")
        .filter_map(|(_, img)| ecosphere::records::application_from_image(&img))
        .map(|r| r.unwrap())
        .collect();
    assert!(streamed.contains(&stored[0]), "the stream carries the stored application");
    assert_eq!(streamed.len(), 2, "two valid submissions (form and JSON), nothing from the refused ones");
}

trait ParseTax {
    fn parse_tax(&self) -> ecosphere::domain::TaxId;
}
impl ParseTax for &str {
    fn parse_tax(&self) -> ecosphere::domain::TaxId {
        ecosphere::domain::TaxId::parse(self).unwrap()
    }
}
