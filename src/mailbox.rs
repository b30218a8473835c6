//! `GET /_dev/mailbox` (local mode only): the outbox as a page, so the links in sent
//! e-mails can be clicked. The page shows every sign-in and review link, so it is served
//! only where that is safe: see [`decide`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ecosphere::web::{render, Area};
use ecosphere::{App, AppError};
use maud::{html, Markup};

/// Whether the dev mailbox is served, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    On(&'static str),
    Off(&'static str),
}

impl Decision {
    pub fn is_on(self) -> bool {
        matches!(self, Decision::On(_))
    }
}

/// The mailbox is served when the server listens on a loopback address (127.0.0.0/8,
/// ::1), or when `APP_DEV_MAILBOX=1` says so; `APP_DEV_MAILBOX=0` turns it off anywhere.
/// Anyone who can reach a server listening on 0.0.0.0 or a LAN address could otherwise
/// read every sign-in and review link. A loopback server whose `APP_PUBLIC_URL` names
/// another host sits behind a reverse proxy that others reach: off there too.
pub fn decide(addr: SocketAddr, setting: Option<bool>, public_url: Option<&str>) -> Decision {
    let public_elsewhere = public_url.is_some_and(|u| !url_is_loopback(u));
    match setting {
        Some(true) => Decision::On("APP_DEV_MAILBOX=1"),
        Some(false) => Decision::Off("APP_DEV_MAILBOX=0"),
        None if public_elsewhere => Decision::Off("APP_PUBLIC_URL names a host others reach; set APP_DEV_MAILBOX=1 to serve it anyway"),
        None if addr.ip().to_canonical().is_loopback() => Decision::On("the server listens on a loopback address only"),
        None => Decision::Off("the server listens beyond loopback; set APP_DEV_MAILBOX=1 to serve it anyway"),
    }
}

/// [`decide`] for a configuration.
pub fn allowed(config: &ecosphere::config::Config) -> Decision {
    decide(config.addr, config.dev_mailbox, config.public_url_explicit.then_some(config.public_url.as_str()))
}

/// Whether a URL's host is this machine only (localhost, 127.0.0.0/8, ::1).
fn url_is_loopback(url: &str) -> bool {
    match url::Url::parse(url).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.to_canonical().is_loopback(),
        None => false,
    }
}

/// The mailbox routes if `app` runs locally and [`decide`] allows them; logs the decision.
pub fn router_if_allowed(app: Arc<App>) -> Option<Router> {
    app.local.as_ref()?;
    match allowed(&app.config) {
        Decision::On(why) => {
            tracing::info!(path = "/_dev/mailbox", reason = why, "dev mailbox on");
            Some(router(app))
        }
        Decision::Off(why) => {
            tracing::info!(path = "/_dev/mailbox", reason = why, "dev mailbox off");
            None
        }
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/_dev/mailbox", get(list))
        .route("/_dev/mailbox/{name}", get(show))
        .with_state(app)
}

struct Mail {
    name: String,
    subject: String,
    to: String,
    date: String,
    text: String,
    html: String,
}

fn read(path: &std::path::Path) -> Option<Mail> {
    let bytes = std::fs::read(path).ok()?;
    let msg = mail_parser::MessageParser::default().parse(&bytes)?;
    let to = msg
        .to()
        .map(|a| a.iter().filter_map(|x| x.address()).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    Some(Mail {
        name: path.file_name()?.to_string_lossy().into_owned(),
        subject: msg.subject().unwrap_or_default().to_string(),
        to,
        date: msg.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
        text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        html: msg.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
    })
}

fn outbox(app: &App) -> Result<std::path::PathBuf, AppError> {
    app.local.as_ref().map(|l| l.outbox_dir.clone()).ok_or_else(|| AppError::NotFound("找不到這個頁面。".into()))
}

/// The text with its http(s) URLs as links (also after a label such as `核准：`).
fn linkify(text: &str) -> Markup {
    html! {
        @for word in text.split_inclusive(char::is_whitespace) {
            @let trimmed = word.trim_end();
            @match trimmed.find("http://").or_else(|| trimmed.find("https://")) {
                Some(i) => {
                    (&trimmed[..i])
                    a href=(&trimmed[i..]) { (&trimmed[i..]) }
                    (&word[trimmed.len()..])
                }
                None => { (word) }
            }
        }
    }
}

async fn list(State(app): State<Arc<App>>) -> Result<Response, AppError> {
    let dir = outbox(&app)?;
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect())
        .unwrap_or_default();
    names.sort();
    names.reverse();
    let mails: Vec<Mail> = names.iter().filter_map(|p| read(p)).collect();
    let body = html! {
        h1 { "本機信箱（開發用）" }
        p { "寄出的信件存放於 " code { (dir.display().to_string()) } "。" }
        table {
            tr { th { "時間" } th { "收件人" } th { "主旨" } }
            @for m in &mails {
                tr {
                    td { (m.date) }
                    td { (m.to) }
                    td { a href={ "/_dev/mailbox/" (m.name) } { (m.subject) } }
                }
            }
            @if mails.is_empty() {
                tr { td colspan="3" { "（目前沒有信件）" } }
            }
        }
    };
    Ok(render(StatusCode::OK, Area::Portal, "本機信箱", body))
}

async fn show(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<Response, AppError> {
    let dir = outbox(&app)?;
    let not_found = || AppError::NotFound("找不到這封信。".into());
    if name.contains('/') || name.contains('\\') || name.starts_with('.') || !name.ends_with(".eml") {
        return Err(not_found());
    }
    let m = read(&dir.join(&name)).ok_or_else(not_found)?;
    let body = html! {
        p { a href="/_dev/mailbox" { "← 本機信箱" } }
        h1 { (m.subject) }
        dl {
            dt { "收件人" } dd { (m.to) }
            dt { "時間" } dd { (m.date) }
        }
        h2 { "純文字" }
        pre.mail-text { (linkify(&m.text)) }
        h2 { "HTML" }
        // The e-mail's own HTML, isolated: no scripts, no same-origin access.
        iframe.mail-html sandbox srcdoc=(m.html) {}
    };
    Ok(render(StatusCode::OK, Area::Portal, &m.subject, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_after_labels_are_clickable_and_text_is_escaped() {
        assert_eq!(
            linkify("核准：http://x/review/a.b\n退件 https://y/?a=1&b=2 <b>").into_string(),
            "核准：<a href=\"http://x/review/a.b\">http://x/review/a.b</a>\n退件 \
             <a href=\"https://y/?a=1&amp;b=2\">https://y/?a=1&amp;b=2</a> &lt;b&gt;"
        );
    }

    #[test]
    fn the_mailbox_is_on_for_loopback_or_the_setting_only() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        for a in ["127.0.0.1:3000", "127.1.2.3:0", "[::1]:3000", "[::ffff:127.0.0.1]:3000"] {
            assert!(decide(at(a), None, None).is_on(), "{a}");
            assert!(decide(at(a), Some(true), None).is_on(), "{a}");
            assert!(!decide(at(a), Some(false), None).is_on(), "{a}: APP_DEV_MAILBOX=0");
        }
        for a in ["0.0.0.0:3000", "[::]:3000", "192.168.1.20:3000", "10.0.0.5:80", "[fe80::1]:3000"] {
            assert!(!decide(at(a), None, None).is_on(), "{a}");
            assert!(!decide(at(a), Some(false), None).is_on(), "{a}");
            assert!(decide(at(a), Some(true), None).is_on(), "{a}: APP_DEV_MAILBOX=1");
        }
        assert!(matches!(decide(at("0.0.0.0:3000"), None, None), Decision::Off(why) if why.contains("APP_DEV_MAILBOX=1")));
        // Behind a reverse proxy: loopback listener, public URL elsewhere.
        let lo = at("127.0.0.1:3000");
        for u in ["http://127.0.0.1:3000", "http://localhost:3000/", "http://[::1]:8080", "http://127.0.0.2"] {
            assert!(decide(lo, None, Some(u)).is_on(), "{u}");
        }
        for u in ["https://carbon.example.com.tw", "http://192.168.1.20:3000", "https://localhost.example.com", "http://user@10.0.0.1/"] {
            assert!(!decide(lo, None, Some(u)).is_on(), "{u}");
            assert!(decide(lo, Some(true), Some(u)).is_on(), "{u}: APP_DEV_MAILBOX=1");
        }
    }
}
