//! `GET /_dev/mailbox` (local mode only): the outbox as a page, so the links in sent
//! e-mails can be clicked.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ecosphere::web::{esc, html};
use ecosphere::{App, AppError};

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

/// Turns http(s) URLs in escaped text into links (also after a label such as `核准：`).
fn linkify(escaped: &str) -> String {
    let mut out = String::new();
    for word in escaped.split_inclusive(char::is_whitespace) {
        let trimmed = word.trim_end();
        match trimmed.find("http://").or_else(|| trimmed.find("https://")) {
            Some(i) => {
                let url = &trimmed[i..];
                out.push_str(&format!("{}<a href=\"{url}\">{url}</a>{}", &trimmed[..i], &word[trimmed.len()..]));
            }
            None => out.push_str(word),
        }
    }
    out
}

async fn list(State(app): State<Arc<App>>) -> Result<Response, AppError> {
    let dir = outbox(&app)?;
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect())
        .unwrap_or_default();
    names.sort();
    names.reverse();
    let mut rows = String::new();
    for m in names.iter().filter_map(|p| read(p)) {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><a href=\"/_dev/mailbox/{}\">{}</a></td></tr>",
            esc(&m.date),
            esc(&m.to),
            esc(&m.name),
            esc(&m.subject)
        ));
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"3\">（目前沒有信件）</td></tr>".into();
    }
    Ok(html(
        StatusCode::OK,
        "本機信箱",
        &format!(
            "<h1>本機信箱（開發用）</h1><p>寄出的信件存放於 <code>{}</code>。</p><table><tr><th>時間</th><th>收件人</th><th>主旨</th></tr>{rows}</table>",
            esc(&dir.display().to_string())
        ),
    ))
}

async fn show(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<Response, AppError> {
    let dir = outbox(&app)?;
    let not_found = || AppError::NotFound("找不到這封信。".into());
    if name.contains('/') || name.contains('\\') || name.starts_with('.') || !name.ends_with(".eml") {
        return Err(not_found());
    }
    let m = read(&dir.join(&name)).ok_or_else(not_found)?;
    Ok(html(
        StatusCode::OK,
        &m.subject,
        &format!(
            "<p><a href=\"/_dev/mailbox\">← 本機信箱</a></p><h1>{}</h1><dl><dt>收件人</dt><dd>{}</dd><dt>時間</dt><dd>{}</dd></dl>\
             <h2>純文字</h2><pre style=\"white-space:pre-wrap\">{}</pre><h2>HTML</h2>\
             <iframe sandbox srcdoc=\"{}\" style=\"width:100%;height:28rem;border:1px solid #ccc\"></iframe>",
            esc(&m.subject),
            esc(&m.to),
            esc(&m.date),
            linkify(&esc(&m.text)),
            esc(&m.html)
        ),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_after_labels_are_clickable() {
        assert_eq!(
            super::linkify("核准：http://x/review/a.b\n退件 https://y"),
            "核准：<a href=\"http://x/review/a.b\">http://x/review/a.b</a>\n退件 <a href=\"https://y\">https://y</a>"
        );
    }
}
