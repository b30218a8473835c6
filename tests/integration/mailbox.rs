//! The dev mailbox (`/_dev/mailbox`) is served only where that is safe: on a loopback
//! server, or where `APP_DEV_MAILBOX=1` says so.

use super::common::*;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

/// The local config of the tests (`local_config`) with other settings.
fn config(dir: &std::path::Path, extra: &[(&str, &str)]) -> ecosphere::Config {
    let data_dir = dir.to_string_lossy().to_string();
    let extra: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ecosphere::Config::from_lookup(|k| {
        extra.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.clone()).or_else(|| match k {
            "APP_DATA_DIR" => Some(data_dir.clone()),
            "APP_ADDR" => Some("127.0.0.1:0".into()),
            "APP_REVIEWERS" => Some("reviewer@ecosphere.example.com".into()),
            _ => None,
        })
    })
    .unwrap()
}

/// The status of `GET path` on the merged router built for `config` (nothing is bound).
async fn status(config: ecosphere::Config, path: &str) -> StatusCode {
    let app = ecosphere::App::from_config(config).await.unwrap();
    let router = ecosphere_local::router(app);
    router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap().status()
}

#[tokio::test]
async fn a_server_listening_beyond_loopback_has_no_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let public = config(dir.path(), &[("APP_ADDR", "0.0.0.0:3000")]);
    assert_eq!(public.addr.to_string(), "0.0.0.0:3000");
    for path in ["/_dev/mailbox", "/_dev/mailbox/20260101T000000.000Z-x.eml"] {
        assert_eq!(status(public.clone(), path).await, StatusCode::NOT_FOUND, "{path}");
    }
    // Answered like any unknown route.
    assert_eq!(status(public.clone(), "/nope").await, StatusCode::NOT_FOUND);
    // The explicit setting turns it on; `0` keeps it off even on loopback.
    assert_eq!(status(config(dir.path(), &[("APP_ADDR", "0.0.0.0:3000"), ("APP_DEV_MAILBOX", "1")]), "/_dev/mailbox").await, StatusCode::OK);
    assert_eq!(status(config(dir.path(), &[("APP_DEV_MAILBOX", "0")]), "/_dev/mailbox").await, StatusCode::NOT_FOUND);
    assert_eq!(status(config(dir.path(), &[("APP_ADDR", "[::1]:0")]), "/_dev/mailbox").await, StatusCode::OK);
}

#[tokio::test]
async fn the_loopback_test_server_serves_the_mailbox_with_its_mails() {
    let dir = tempfile::tempdir().unwrap();
    let running = ecosphere_local::start(local_config(dir.path())).await.unwrap();
    let client = reqwest::Client::new();
    running.app.portal.request_login("nobody@vitamin.com.tw").await.unwrap();
    let page = client.get(format!("{}/_dev/mailbox", running.url())).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("本機信箱（開發用）"), "{html}");
    assert!(html.contains("（目前沒有信件）"), "an unknown address gets no mail");

    // A mail in the outbox is listed and shown, its HTML in a sandboxed frame.
    let mailer = ecosphere::adapters::OutboxMailer::new(
        running.app.local.as_ref().unwrap().outbox_dir.clone(),
        running.app.config.sender.clone(),
        running.app.clock.clone(),
    );
    use ecosphere::ports::Mailer;
    mailer
        .send(&ecosphere::ports::Email {
            to: vec![ecosphere::domain::EmailAddress::parse("ming@vitamin.com.tw").unwrap()],
            subject: "【EcoSphere】登入連結 <b>".into(),
            text: "登入：http://127.0.0.1/login/abc".into(),
            html: "<p>登入</p>".into(),
        })
        .await
        .unwrap();
    let html = client.get(format!("{}/_dev/mailbox", running.url())).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("【EcoSphere】登入連結 &lt;b&gt;") && html.contains("ming@vitamin.com.tw"), "{html}");
    let href = html.split("href=\"/_dev/mailbox/").nth(1).unwrap().split('"').next().unwrap().to_string();
    let mail = client.get(format!("{}/_dev/mailbox/{href}", running.url())).send().await.unwrap();
    assert_eq!(mail.status(), reqwest::StatusCode::OK);
    let html = mail.text().await.unwrap();
    assert!(html.contains("<a href=\"http://127.0.0.1/login/abc\">http://127.0.0.1/login/abc</a>"), "{html}");
    assert!(html.contains("<iframe class=\"mail-html\" sandbox srcdoc=\"&lt;p&gt;登入&lt;/p&gt;\">"), "{html}");
    running.stop().await;
}
