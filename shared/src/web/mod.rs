//! Web helpers shared by the HTTP functions: content negotiation, the page layout
//! (`layout`), sessions and CSRF (`session`), form bodies, and the one place where errors
//! become HTML pages.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub mod layout;
pub mod session;
pub mod signin;

pub use layout::{layout, portal_page, render, Area};
pub use session::{CarbonSession, Guarded, GuardedUpload, PortalSession, StaffSession};

use crate::domain::RawForm;
use crate::error::{AppError, ErrorBody};

/// Middleware for every router with state-changing routes: refuses a POST (or other
/// unsafe method) that a browser marks as cross-site (`Sec-Fetch-Site: cross-site` or
/// `same-site`), or whose `Origin` (or, without it, `Referer`) is not this site. A
/// cross-site form post never reaches a handler.
pub async fn same_origin(
    axum::extract::State(app): axum::extract::State<std::sync::Arc<crate::App>>,
    req: Request,
    next: Next,
) -> Response {
    if !req.method().is_safe() {
        let h = req.headers();
        let fetch_site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()).unwrap_or("");
        let cross = matches!(fetch_site, "cross-site" | "same-site");
        let origin = h.get(header::ORIGIN).or_else(|| h.get(header::REFERER)).and_then(|v| v.to_str().ok());
        let ours = &app.config.public_url;
        let foreign = origin.is_some_and(|o| !(o == ours || o.starts_with(&format!("{ours}/"))));
        if cross || foreign {
            tracing::warn!(path = %req.uri().path(), fetch_site, "cross-site request refused");
            return AppError::Forbidden("拒絕來自其他網站的請求。".into()).into_response();
        }
    }
    next.run(req).await
}

/// Who is asking, for per-client limits: the source IP API Gateway saw (on Lambda), or the
/// peer address of the connection (local server). Never a client-supplied header.
pub fn client_key(extensions: &axum::http::Extensions) -> String {
    use lambda_http::request::RequestContext;
    if let Some(RequestContext::ApiGatewayV2(ctx)) = extensions.get::<RequestContext>() {
        if let Some(ip) = ctx.http.source_ip.as_deref() {
            return ip.to_string();
        }
    }
    if let Some(axum::extract::ConnectInfo(addr)) = extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>() {
        return addr.ip().to_string();
    }
    "unknown".to_string()
}

/// Largest form body accepted.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// JSON when the client asks for it (`Accept: application/json` ranked above HTML).
pub fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut json_q = None;
    let mut html_q = None;
    for part in accept.split(',') {
        let mut it = part.split(';');
        let mime = it.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = it
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|q| q.parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        match mime.as_str() {
            "application/json" => json_q = Some(q),
            "text/html" => html_q = Some(q),
            _ => {}
        }
    }
    match (json_q, html_q) {
        (Some(j), Some(h)) => j > h && j > 0.0,
        (Some(j), None) => j > 0.0,
        _ => false,
    }
}

/// Middleware: an `AppError` response becomes an HTML page unless the client asked
/// for JSON. Errors are mapped to statuses once, in `AppError`; this only re-renders.
pub async fn negotiate_errors(req: Request, next: Next) -> Response {
    let json = wants_json(req.headers());
    let req_path = req.uri().path().to_string();
    let resp = next.run(req).await;
    if json {
        return resp;
    }
    let Some(body) = resp.extensions().get::<ErrorBody>().cloned() else { return resp };
    let status = resp.status();
    let title = match status {
        StatusCode::NOT_FOUND => "找不到頁面",
        StatusCode::CONFLICT => "無法完成操作",
        StatusCode::FORBIDDEN => "連結無效",
        StatusCode::GONE => "連結已過期",
        StatusCode::UNPROCESSABLE_ENTITY => "輸入資料有誤",
        s if s.is_server_error() => "系統錯誤",
        _ => "無法處理您的請求",
    };
    let path = req_path;
    let (back, back_label) = if path.starts_with("/staff") {
        if status == StatusCode::UNAUTHORIZED { ("/staff/login", "前往計畫管理後台登入頁") } else { ("/staff", "回到計畫管理後台") }
    } else if path.starts_with("/login") || status == StatusCode::UNAUTHORIZED {
        ("/login", "前往登入頁")
    } else if path.starts_with("/carbon") {
        ("/carbon", "回到碳星雲服務平台")
    } else if path.starts_with("/members") || path.starts_with("/portal") || path.starts_with("/sso") {
        ("/portal", "回到會員中心")
    } else {
        ("/apply", "回到申請表單")
    };
    layout::portal_page(
        status,
        title,
        maud::html! {
            h1 { (title) }
            p.alert role="alert" { (body.message) }
            @if let Some(f) = &body.fields {
                ul { @for (k, v) in &f.0 { li data-field=(k) { (v) } } }
            }
            p { a href=(back) { (back_label) } }
        },
    )
}

/// A posted `application/x-www-form-urlencoded` body, every value of every field kept.
pub struct Form(pub RawForm);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(AppError::BadRequest("請以表單格式（application/x-www-form-urlencoded）送出".into()));
        }
        // Refused from the announced length, before waiting for a body that may trickle in.
        let announced = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > MAX_FORM_BYTES as u64) {
            return Err(AppError::PayloadTooLarge(format!("表單內容過大（上限 {} KB）", MAX_FORM_BYTES / 1024)));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge(format!("表單內容過大（上限 {} KB）", MAX_FORM_BYTES / 1024))
            } else {
                AppError::BadRequest("無法讀取表單內容".into())
            }
        })?;
        if bytes.len() > MAX_FORM_BYTES {
            return Err(AppError::PayloadTooLarge(format!("表單內容過大（上限 {} KB）", MAX_FORM_BYTES / 1024)));
        }
        if std::str::from_utf8(&bytes).is_err() {
            return Err(AppError::BadRequest("表單內容不是有效的 UTF-8 文字".into()));
        }
        Ok(Form(RawForm(parse_form(&bytes)?)))
    }
}

/// `application/x-www-form-urlencoded`, strictly: a malformed `%` escape or bytes that are
/// not UTF-8 after percent-decoding are refused (400), never turned into U+FFFD.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    fn decode(part: &[u8]) -> Result<String, AppError> {
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = part.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
                    let Some(b) = hex else {
                        return Err(AppError::BadRequest("表單內容格式不正確（% 編碼有誤）".into()));
                    };
                    out.push(b);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).map_err(|_| AppError::BadRequest("表單內容含有無效的文字編碼（須為 UTF-8）".into()))
    }
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = match p.iter().position(|b| *b == b'=') {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (p, &p[p.len()..]),
            };
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

#[cfg(test)]
mod form_tests {
    use super::parse_form;

    #[test]
    fn forms_decode_strictly() {
        let ok = parse_form(b"a=%E9%9B%BB+1&b=&c&d=x%2By").unwrap();
        assert_eq!(ok, vec![("a".into(), "電 1".into()), ("b".into(), "".into()), ("c".into(), "".into()), ("d".into(), "x+y".into())]);
        for bad in [&b"reason=%FF%FE"[..], b"a=%E9%9B", b"a=%zz", b"a=%4", b"%FF=1"] {
            assert!(parse_form(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(parse_form(b"").unwrap().is_empty());
    }
}

/// Security headers for every response.
pub async fn security_headers(req: Request<Body>, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    // A handler may set its own policy (the SSO hand-off allows one nonce'd script).
    h.entry("content-security-policy").or_insert(HeaderValue::from_static(
        "default-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    ));
    resp
}

/// Adds what every HTTP function shares: the 404 fallback, HTML rendering of errors
/// for browsers, and the security headers. Used by each function's `main` and by the
/// local runtime, so both serve exactly the same responses.
pub fn finish(router: axum::Router) -> axum::Router {
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn(negotiate_errors))
        .layer(axum::middleware::from_fn(security_headers))
}

/// A 404 for unknown routes, in the negotiated format.
pub async fn not_found() -> AppError {
    AppError::NotFound("找不到這個頁面。".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn negotiation() {
        assert!(wants_json(&accept("application/json")));
        assert!(!wants_json(&accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")));
        assert!(!wants_json(&accept("text/html, application/json;q=0.5")));
        assert!(wants_json(&accept("application/json, text/html;q=0.1")));
        assert!(!wants_json(&HeaderMap::new()));
    }

}
