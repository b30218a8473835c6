//! Issue 3: reviewers decide from signed e-mail links; exactly one decision and exactly
//! one e-mail per state change — locally over HTTP, and on the AWS emulator.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ecosphere::ports::{Email, Mailer, ManualClock, SentEmail};
use ecosphere::stream::StreamConsumer;
use ecosphere::{App, AppError, AppResult};
use ecosphere_local::Running;
use reqwest::{header, redirect, Client, StatusCode};

use super::common::*;

struct Mail {
    to: String,
    subject: String,
    text: String,
    html: String,
}

fn parse_mail(raw: &[u8]) -> Mail {
    let m = mail_parser::MessageParser::default().parse(raw).expect("MIME");
    Mail {
        to: m.to().unwrap().first().unwrap().address().unwrap().to_string(),
        subject: m.subject().unwrap().to_string(),
        text: m.body_text(0).unwrap().into_owned(),
        html: m.body_html(0).unwrap().into_owned(),
    }
}

fn outbox(dir: &Path) -> Vec<Mail> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("outbox"))
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().map(|p| parse_mail(&std::fs::read(p).unwrap())).collect()
}

/// Waits until the outbox holds `n` e-mails, then a little longer to see no more come.
async fn wait_for_mails(dir: &Path, n: usize) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while outbox(dir).len() < n {
        assert!(Instant::now() < deadline, "expected {n} e-mails, have {}", outbox(dir).len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mails = outbox(dir);
    assert_eq!(mails.len(), n, "exactly {n} e-mails");
    mails
}

/// The link after `label` (核准 / 退件) in a reviewer e-mail's text, as a path.
fn link(mail: &Mail, label: &str) -> String {
    let line = mail.text.lines().find(|l| l.starts_with(&format!("{label}："))).expect("link line");
    let url = line.split_once('：').unwrap().1.trim();
    let path = url.splitn(4, '/').nth(3).expect("path");
    format!("/{path}")
}

struct Sys {
    running: Running,
    client: Client,
    dir: tempfile::TempDir,
    clock: ManualClock,
}

async fn sys() -> Sys {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(chrono::Utc::now());
    let running = ecosphere_local::start_with_clock(local_config(dir.path()), Arc::new(clock.clone())).await.unwrap();
    Sys { running, client: Client::builder().redirect(redirect::Policy::none()).build().unwrap(), dir, clock }
}

impl Sys {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.running.url())
    }
    async fn apply(&self, company: &str, tax: &str) -> String {
        let r = self.client.post(self.url("/apply")).form(&valid_form(company, tax)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        r.headers()[header::LOCATION].to_str().unwrap().to_string()
    }
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(self.url(path)).form(form).send().await.unwrap()
    }
    async fn status_of(&self, location: &str) -> String {
        let j: serde_json::Value =
            self.client.get(self.url(location)).header(header::ACCEPT, "application/json").send().await.unwrap().json().await.unwrap();
        j["status"].as_str().unwrap().to_string()
    }
}

#[tokio::test]
async fn approve_from_the_email_sends_exactly_one_approval() {
    let s = sys().await;
    let location = s.apply("<script>alert(1)</script>\u{00A0}維他命", "99754141").await;
    let mails = wait_for_mails(s.dir.path(), 1).await;
    let review = &mails[0];
    assert_eq!(review.to, "reviewer@ecosphere.example.com");
    assert!(review.subject.contains("待審核"));
    assert!(review.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "user input escaped in HTML");
    assert!(!review.html.contains("<script>"));
    let approve = link(review, "核准");
    let reject = link(review, "退件");
    assert_ne!(approve, reject);

    // GET shows a confirmation and changes nothing.
    let page = s.client.get(s.url(&approve)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("確認核准") && html.contains("&lt;script&gt;"));
    assert_eq!(s.status_of(&location).await, "pending");

    let r = s.post(&approve, &[("decision", "approve")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(s.status_of(&location).await, "approved");
    let mails = wait_for_mails(s.dir.path(), 2).await;
    let approval = &mails[1];
    assert_eq!(approval.to, "ming@vitamin.com.tw");
    assert_eq!(approval.subject, "【EcoSphere】您申請的碳星雲服務已通過審核，歡迎開始使用");
    assert!(approval.text.contains("您申請的碳星雲服務平台帳號已通過審核！"));
    assert!(approval.html.contains("點我前往"));
    assert!(approval.text.contains(&format!("{}{location}", s.running.url())), "plain login link");

    // The used link, and the other link: 409 naming the decision that won.
    let again = s.post(&approve, &[("decision", "approve")]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains("審核通過"));
    let other = s.client.post(s.url(&reject)).header(header::ACCEPT, "application/json").form(&[("decision", "reject"), ("reason", "x")]).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::CONFLICT);
    assert!(other.json::<serde_json::Value>().await.unwrap()["message"].as_str().unwrap().contains("reviewer@ecosphere.example.com"));
    wait_for_mails(s.dir.path(), 2).await;
    s.running.stop().await;
}

#[tokio::test]
async fn reject_needs_a_reason_and_the_company_may_apply_again() {
    let s = sys().await;
    let location = s.apply("乙公司", "22099131").await;
    let mails = wait_for_mails(s.dir.path(), 1).await;
    let reject = link(&mails[0], "退件");
    let page = s.client.get(s.url(&reject)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"reason\""));
    let r = s.client.post(s.url(&reject)).header(header::ACCEPT, "application/json").form(&[("decision", "reject"), ("reason", " ")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json::<serde_json::Value>().await.unwrap()["fields"]["reason"].as_str().unwrap().contains("退件原因"));
    assert_eq!(s.status_of(&location).await, "pending");
    // The reject link cannot approve.
    assert_eq!(s.post(&reject, &[("decision", "approve")]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.status_of(&location).await, "pending");

    let r = s.post(&reject, &[("decision", "reject"), ("reason", "公司資料不完整 <b>請補件</b>")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mails = wait_for_mails(s.dir.path(), 2).await;
    let letter = &mails[1];
    assert_eq!(letter.subject, "【EcoSphere】您申請的碳星雲服務審核未通過");
    assert!(letter.text.contains("公司資料不完整 <b>請補件</b>"));
    assert!(letter.html.contains("公司資料不完整 &lt;b&gt;請補件&lt;/b&gt;"));
    assert!(letter.text.contains("重新提出申請"));
    let status = s.client.get(s.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(status.contains("審核未通過") && status.contains("公司資料不完整"));
    // Rejected companies may apply again.
    s.apply("乙公司", "22099131").await;
    s.running.stop().await;
}

#[tokio::test]
async fn bad_links_are_403_410_409_and_change_nothing() {
    let s = sys().await;
    let a = s.apply("甲公司", "10458574").await;
    let b = s.apply("丙公司", "62140097").await;
    let mails = wait_for_mails(s.dir.path(), 2).await;
    let a_approve = link(mails.iter().find(|m| m.text.contains("10458574")).unwrap(), "核准");
    let b_approve = link(mails.iter().find(|m| m.text.contains("62140097")).unwrap(), "核准");

    // One byte changed anywhere in the token: 403.
    let token = a_approve.trim_start_matches("/review/").to_string();
    for i in [0, token.len() / 2, token.len() - 1] {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let bad = format!("/review/{}", String::from_utf8(bytes).unwrap());
        assert_eq!(s.client.get(s.url(&bad)).send().await.unwrap().status(), StatusCode::FORBIDDEN);
        assert_eq!(s.post(&bad, &[("decision", "approve")]).await.status(), StatusCode::FORBIDDEN);
    }
    // A's approve link carried over to B (B's claims with A's signature): 403.
    let (a_payload, a_sig) = token.split_once('.').unwrap();
    let (b_payload, _) = b_approve.trim_start_matches("/review/").split_once('.').unwrap();
    assert_ne!(a_payload, b_payload);
    let swapped = format!("/review/{b_payload}.{a_sig}");
    assert_eq!(s.post(&swapped, &[("decision", "approve")]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.client.get(s.url("/review/garbage")).send().await.unwrap().status(), StatusCode::FORBIDDEN);

    // Expired (the default lifetime is 7 days): 410.
    s.clock.advance(chrono::Duration::days(7) + chrono::Duration::seconds(1));
    let expired = s.client.get(s.url(&a_approve)).send().await.unwrap();
    assert_eq!(expired.status(), StatusCode::GONE);
    assert!(expired.text().await.unwrap().contains("過期"));
    assert_eq!(s.post(&a_approve, &[("decision", "approve")]).await.status(), StatusCode::GONE);
    assert_eq!((s.status_of(&a).await, s.status_of(&b).await), ("pending".into(), "pending".into()));
    s.running.stop().await;
}

#[tokio::test]
async fn a_hundred_racing_decisions_make_one_decision_and_one_email() {
    let s = Arc::new(sys().await);
    let location = s.apply("丁公司", "04595257").await;
    let mails = wait_for_mails(s.dir.path(), 1).await;
    let (approve, reject) = (link(&mails[0], "核准"), link(&mails[0], "退件"));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let (s, approve, reject) = (s.clone(), approve.clone(), reject.clone());
            tokio::spawn(async move {
                if i % 2 == 0 {
                    s.post(&approve, &[("decision", "approve")]).await.status()
                } else {
                    s.post(&reject, &[("decision", "reject"), ("reason", "race")]).await.status()
                }
            })
        })
        .collect();
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|c| **c == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|c| **c == StatusCode::CONFLICT).count(), 99);
    let mails = wait_for_mails(s.dir.path(), 2).await;
    let final_status = s.status_of(&location).await;
    assert!(mails[1].subject.contains(if final_status == "approved" { "已通過審核" } else { "審核未通過" }));
}

/// A mailer that fails the first `n` sends.
struct Flaky {
    inner: Arc<dyn Mailer>,
    failures_left: AtomicU32,
    sends: AtomicU32,
}

#[async_trait]
impl Mailer for Flaky {
    async fn send(&self, email: &Email) -> AppResult<SentEmail> {
        if self.failures_left.load(Ordering::SeqCst) > 0 {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err(AppError::Unavailable("throttled".into()));
        }
        self.sends.fetch_add(1, Ordering::SeqCst);
        self.inner.send(email).await
    }
}

#[tokio::test]
async fn redelivered_batches_send_nothing_twice_and_a_failed_send_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::from_config(local_config(dir.path())).await.unwrap();
    let raw = ecosphere::domain::RawForm(valid_form("戊公司", "12345675"));
    app.apply.submit(&raw).await.unwrap();
    let flaky = Arc::new(Flaky { inner: app.mailer.clone(), failures_left: AtomicU32::new(1), sends: AtomicU32::new(0) });
    let notify = app.notify.with_mailer(flaky.clone());
    let local = app.local.as_ref().unwrap();
    let feed = ecosphere::adapters::sqlite::feed::ChangeFeed::new(
        local.db.clone(),
        ecosphere::config::FeedConfig { base_backoff: Duration::from_millis(1), ..Default::default() },
        app.clock.clone(),
    );
    struct Consumer(ecosphere::services::notify::NotifyService);
    #[async_trait]
    impl StreamConsumer for Consumer {
        fn name(&self) -> &str {
            "notify-test"
        }
        async fn handle(&self, event: ecosphere::stream::StreamEvent) -> Result<ecosphere::stream::DynamoDbEventResponse, AppError> {
            let mut failed = vec![];
            for r in &event.records {
                let old = ecosphere::records::application_from_image(&r.change.old_image).map(|x| x.unwrap());
                let new = ecosphere::records::application_from_image(&r.change.new_image).map(|x| x.unwrap());
                if self.0.on_change(old.as_ref(), new.as_ref()).await.is_err() {
                    failed.push(r.change.sequence_number.clone().unwrap());
                }
            }
            Ok(ecosphere::stream::batch_response(failed))
        }
    }
    let c = Consumer(notify);
    let first = feed.poll(&c).await.unwrap();
    assert_eq!(first.retrying, Some(1), "the throttled send is reported as a batch item failure");
    assert!(outbox(dir.path()).is_empty());
    tokio::time::sleep(Duration::from_millis(5)).await;
    feed.drain(&c).await.unwrap();
    assert_eq!(outbox(dir.path()).len(), 1, "sent on retry");
    // The same records delivered again (a new consumer starts from the beginning): nothing more.
    let c2 = Consumer(app.notify.with_mailer(flaky.clone()));
    struct Renamed(Consumer);
    #[async_trait]
    impl StreamConsumer for Renamed {
        fn name(&self) -> &str {
            "notify-test-redelivery"
        }
        async fn handle(&self, e: ecosphere::stream::StreamEvent) -> Result<ecosphere::stream::DynamoDbEventResponse, AppError> {
            self.0.handle(e).await
        }
    }
    feed.drain(&Renamed(c2)).await.unwrap();
    assert_eq!(outbox(dir.path()).len(), 1);
    assert_eq!(flaky.sends.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_same_flow_on_the_emulator_sends_one_email_per_state_change() {
    let moto = Moto::start();
    set_aws_env();
    let sdk = sdk(&moto.url).await;
    create_resources(&sdk, "flow", "flow-bucket").await;
    let app = App::from_config(aws_config(&moto.url, "flow", "flow-bucket")).await.unwrap();
    let consumer = notify::NotifyConsumer::new(app.clone());
    app.apply.submit(&ecosphere::domain::RawForm(valid_form("己公司", "99754141"))).await.unwrap();

    let batch = stream_event(&sdk, "flow").await;
    let resp = consumer.handle(batch.clone()).await.unwrap();
    assert!(resp.batch_item_failures.is_empty());
    let sent = moto_sent_emails(&moto.url).await;
    assert_eq!(sent.len(), 1);
    let review = parse_mail(sent[0].1.as_bytes());
    assert_eq!(review.to, "reviewer@ecosphere.example.com");
    let approve = link(&review, "核准");
    assert!(review.text.contains("https://carbon.example.com/review/"));
    // Redelivery of the same batch: no second e-mail.
    consumer.handle(batch).await.unwrap();
    assert_eq!(moto_sent_emails(&moto.url).await.len(), 1);

    let token = approve.trim_start_matches("/review/");
    app.review.open(token).await.unwrap();
    let decided = app.review.decide(token, Some("approve"), None).await.unwrap();
    assert_eq!(decided.status, ecosphere::domain::ApplicationStatus::Approved);
    assert!(matches!(app.review.decide(token, Some("approve"), None).await, Err(AppError::Conflict(_))));

    // The whole stream again (INSERTs of lock/idempotency items, the MODIFY, the audit item): one more e-mail.
    let batch = stream_event(&sdk, "flow").await;
    assert!(batch.records.iter().any(|r| r.event_name == "MODIFY"));
    consumer.handle(batch.clone()).await.unwrap();
    consumer.handle(batch).await.unwrap();
    let sent = moto_sent_emails(&moto.url).await;
    assert_eq!(sent.len(), 2);
    let approval = parse_mail(sent[1].1.as_bytes());
    assert_eq!(approval.to, "ming@vitamin.com.tw");
    assert!(approval.subject.contains("已通過審核"));
}

#[tokio::test]
async fn applications_pending_over_three_working_days_remind_reviewers_once_a_day() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new("2026-11-19T02:00:00Z".parse().unwrap()); // Thursday, Taipei
    let app = App::with_clock(local_config(dir.path()), Arc::new(clock.clone())).await.unwrap();
    app.apply.submit(&ecosphere::domain::RawForm(valid_form("辛公司", "99754141"))).await.unwrap();
    let store = app.applications.clone();
    clock.set("2026-11-24T02:00:00Z".parse().unwrap()); // Tuesday: 3 working days, not overdue
    assert_eq!(app.notify.remind_overdue(store.as_ref()).await.unwrap(), 0);
    clock.set("2026-11-25T02:00:00Z".parse().unwrap()); // Wednesday: 4 working days
    assert_eq!(app.notify.remind_overdue(store.as_ref()).await.unwrap(), 1);
    assert_eq!(app.notify.remind_overdue(store.as_ref()).await.unwrap(), 0, "once a day");
    let mails = outbox(dir.path());
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject.contains("超過 3 個工作天"));
    assert!(mails[0].text.contains("辛公司") && mails[0].text.contains("已等待 4 個工作天"));
    // The reminder's links work.
    let token = link_in(&mails[0].text, "核准：");
    app.review.open(&token).await.unwrap();
    clock.set("2026-11-26T02:00:00Z".parse().unwrap());
    assert_eq!(app.notify.remind_overdue(store.as_ref()).await.unwrap(), 1, "next day, next reminder");
    // Decided applications are no longer reminded.
    app.review.decide(&token, Some("approve"), None).await.unwrap();
    clock.set("2026-11-27T02:00:00Z".parse().unwrap());
    assert_eq!(app.notify.remind_overdue(store.as_ref()).await.unwrap(), 0);
    // The Lambda entry point runs the same task.
    let out = notify::handle_event(&app, serde_json::json!({"task": "review_sla_reminder"})).await.unwrap();
    assert_eq!(out["sent"], 0);
    assert!(matches!(notify::handle_event(&app, serde_json::json!({"task": "nope"})).await, Err(AppError::BadRequest(_))));
}

/// The token of the first link after `label` in a text.
fn link_in(text: &str, label: &str) -> String {
    let after = text.split_once(label).expect("label").1;
    let url = after.split_whitespace().next().unwrap();
    url.rsplit('/').next().unwrap().to_string()
}
