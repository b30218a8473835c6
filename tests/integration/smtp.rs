//! The SMTP mailer against a tiny fake SMTP server on 127.0.0.1: a real e-mail arrives
//! with its envelope, subject and HTML part; a refusal is an error the caller sees.

use std::sync::{Arc, Mutex};

use ecosphere::adapters::SmtpMailer;
use ecosphere::domain::EmailAddress;
use ecosphere::ports::{Email, Mailer, SystemClock};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What one SMTP session delivered.
#[derive(Debug, Clone, Default)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: Vec<u8>,
}

/// A fake SMTP server on 127.0.0.1: answers `rcpt_reply` to every RCPT TO; stops after
/// `sessions` connections (so a test never leaves it running).
async fn fake_smtp(rcpt_reply: &'static str, sessions: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let store = got.clone();
    tokio::spawn(async move {
        for _ in 0..sessions {
            let Ok(Ok((sock, _))) = tokio::time::timeout(std::time::Duration::from_secs(20), listener.accept()).await else { return };
            let (r, mut w) = sock.into_split();
            let mut lines = BufReader::new(r);
            let mut cur = Received::default();
            w.write_all(b"220 fake.test ESMTP\r\n").await.unwrap();
            let mut line = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                let cmd = line.trim_end().to_string();
                let upper = cmd.to_ascii_uppercase();
                let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                    "250 fake.test".into()
                } else if upper.starts_with("MAIL FROM:") {
                    cur.mail_from = cmd[10..].trim().to_string();
                    "250 OK".into()
                } else if upper.starts_with("RCPT TO:") {
                    if rcpt_reply.starts_with("250") {
                        cur.rcpt_to.push(cmd[8..].trim().to_string());
                    }
                    rcpt_reply.into()
                } else if upper == "DATA" {
                    w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.unwrap();
                    let mut data = Vec::new();
                    loop {
                        let mut l = Vec::new();
                        if lines.read_until(b'\n', &mut l).await.unwrap_or(0) == 0 || l == b".\r\n" {
                            break;
                        }
                        // Dot-stuffing undone.
                        data.extend_from_slice(if l.starts_with(b"..") { &l[1..] } else { &l });
                    }
                    cur.data = data;
                    store.lock().unwrap().push(cur.clone());
                    "250 queued".into()
                } else if upper == "QUIT" {
                    w.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                } else if upper == "RSET" || upper == "NOOP" {
                    "250 OK".into()
                } else {
                    "502 not implemented".into()
                };
                w.write_all(format!("{reply}\r\n").as_bytes()).await.unwrap();
            }
        }
    });
    (url, got)
}

fn sender() -> EmailAddress {
    EmailAddress::parse("EcoSphere <service@ecosphere.example.com>").unwrap()
}

fn email() -> Email {
    Email {
        to: vec![EmailAddress::parse("ming@vitamin.com.tw").unwrap(), EmailAddress::parse("hua@vitamin.com.tw").unwrap()],
        subject: "【EcoSphere】登入連結".into(),
        text: "您好：\n\n登入：http://127.0.0.1:3000/login/abc\n.\n".into(),
        html: "<!DOCTYPE html><html><body><p>您好：</p><a href=\"http://127.0.0.1:3000/login/abc\">登入</a></body></html>".into(),
    }
}

#[tokio::test]
async fn smtp_mailer_delivers_a_real_email() {
    let (url, got) = fake_smtp("250 OK", 1).await;
    let mailer = SmtpMailer::from_url(&url, sender(), Arc::new(SystemClock)).unwrap();
    let sent = mailer.send(&email()).await.unwrap();
    assert!(sent.message_id.ends_with("@ecosphere.example.com"), "{}", sent.message_id);

    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert!(r.mail_from.starts_with("<service@ecosphere.example.com>"), "{}", r.mail_from);
    assert_eq!(r.rcpt_to, vec!["<ming@vitamin.com.tw>", "<hua@vitamin.com.tw>"]);
    let msg = mail_parser::MessageParser::default().parse(&r.data).expect("MIME");
    assert_eq!(msg.subject(), Some("【EcoSphere】登入連結"), "subject decoded");
    assert_eq!(msg.to().unwrap().iter().filter_map(|a| a.address()).collect::<Vec<_>>(), vec!["ming@vitamin.com.tw", "hua@vitamin.com.tw"]);
    assert!(msg.message_id().is_some_and(|id| sent.message_id.contains(id)));
    let html = msg.body_html(0).expect("an HTML part");
    assert!(html.contains("<a href=\"http://127.0.0.1:3000/login/abc\">登入</a>"), "{html}");
    let text = msg.body_text(0).expect("a text part");
    assert!(text.contains("登入：http://127.0.0.1:3000/login/abc\n.\n"), "a lone dot survives: {text:?}");
}

#[tokio::test]
async fn a_refused_recipient_makes_the_send_fail() {
    let (url, got) = fake_smtp("550 5.1.1 no such user", 1).await;
    let mailer = SmtpMailer::from_url(&url, sender(), Arc::new(SystemClock)).unwrap();
    let err = mailer.send(&email()).await.unwrap_err();
    assert!(matches!(err, ecosphere::AppError::Internal(ref m) if m.contains("550")), "{err}");
    assert!(got.lock().unwrap().is_empty(), "nothing delivered");

    // A server that is not there (or busy: 4xx) is a transient error, worth a retry.
    let (url, _) = fake_smtp("450 4.2.0 try later", 1).await;
    let err = SmtpMailer::from_url(&url, sender(), Arc::new(SystemClock)).unwrap().send(&email()).await.unwrap_err();
    assert!(matches!(err, ecosphere::AppError::Unavailable(_)), "{err}");
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let err = SmtpMailer::from_url(&url, sender(), Arc::new(SystemClock)).unwrap().send(&email()).await.unwrap_err();
    assert!(matches!(err, ecosphere::AppError::Unavailable(_)), "{err}");
}

#[tokio::test]
async fn a_bad_smtp_url_is_refused_without_echoing_it() {
    let cfg = ecosphere::Config::from_lookup(|k| (k == "APP_SMTP_URL").then(|| "ftp://u:secret@mail.example.com".to_string()));
    let e = cfg.unwrap_err().0;
    assert!(!e.contains("secret"), "{e}");
    let Err(e) = SmtpMailer::from_url("smtp://u:secret@mail.example.com:25?tls=sometimes", sender(), Arc::new(SystemClock)) else { panic!("accepted") };
    assert!(!e.to_string().contains("secret"), "{e}");
    // TLS from the start and STARTTLS both build (rustls, system roots; nothing connects yet).
    for url in ["smtps://u:p%40ss@mail.example.com:465", "smtp://mail.example.com:587?tls=required", "smtp://mail.example.com?tls=opportunistic"] {
        assert!(SmtpMailer::from_url(url, sender(), Arc::new(SystemClock)).is_ok(), "{url}");
    }
}

/// Local mode with `APP_SMTP_URL`: the system's e-mail goes to the SMTP server, not to
/// the outbox folder.
#[tokio::test]
async fn local_mode_with_an_smtp_url_sends_through_it() {
    let (url, got) = fake_smtp("250 OK", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_string_lossy().to_string();
    let config = ecosphere::Config::from_lookup(|k| match k {
        "APP_DATA_DIR" => Some(data_dir.clone()),
        "APP_ADDR" => Some("127.0.0.1:0".into()),
        "APP_SMTP_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    let app = ecosphere::App::from_config(config).await.unwrap();
    app.mailer.send(&email()).await.unwrap();
    assert_eq!(got.lock().unwrap().len(), 1);
    let outbox = app.local.as_ref().unwrap().outbox_dir.clone();
    assert_eq!(std::fs::read_dir(outbox).unwrap().count(), 0, "the outbox stays empty");
}
