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
        ("portal", "post-members-cross-site.json") => (403, "其他網站"),
        ("sso", "get-jwks.json") => (200, "\"kty\":\"OKP\""),
        ("sso", "post-callback-forged-token.json") => (401, "單一登入失敗"),
        ("sso", "post-start-without-session.json") => (401, "請先登入"),
        ("carbon", "get-carbon-without-session.json") => (401, "碳星雲服務平台登入"),
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
        seen.push((file, status as u16));
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
