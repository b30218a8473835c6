//! The one page layout and the one stylesheet. Every HTML page is a maud template
//! (escaping on by default) rendered into `layout`; the stylesheet is a static asset at
//! [`STYLESHEET_PATH`], never inline CSS in Rust strings.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

/// Where the stylesheet is served (by the portal function on AWS, by the local server here).
pub const STYLESHEET_PATH: &str = "/assets/app.css";
/// The stylesheet itself, compiled into the binary.
pub const STYLESHEET: &str = include_str!("../../assets/app.css");

/// The stylesheet's URL with a content hash, so a new release is never served a stale copy
/// from a browser cache that was told to keep it for a year.
pub fn stylesheet_href() -> &'static str {
    static HREF: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HREF.get_or_init(|| {
        use sha2::Digest;
        let d = sha2::Sha256::digest(STYLESHEET.as_bytes());
        format!("{STYLESHEET_PATH}?v={:02x}{:02x}{:02x}{:02x}", d[0], d[1], d[2], d[3])
    })
}

/// `GET /assets/app.css`.
pub async fn stylesheet() -> Response {
    let mut resp = STYLESHEET.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    resp
}

/// Which part of the product a page belongs to: it decides the header link and navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The application form, status pages, reviewers' pages, sign-in and 會員中心.
    Portal,
    /// The carbon platform; the value is the path of the page, to mark it in the navigation.
    Carbon(&'static str),
    /// Pages anyone may open (the statement check page).
    Public,
    /// The programme staff console; the value is the page's path, as for `Carbon`.
    Staff(&'static str),
}

/// The staff console's navigation.
pub const STAFF_NAV: [(&str, &str); 3] = [("/staff", "計畫管理後台"), ("/staff/national", "全國統計"), ("/staff/dead-letters", "失敗項目")];

/// The carbon platform's navigation: (path, label).
pub const CARBON_NAV: [(&str, &str); 7] = [
    ("/carbon", "總覽"),
    ("/carbon/batches", "上傳批次"),
    ("/carbon/review", "待確認"),
    ("/carbon/inventory", "盤查清冊"),
    ("/carbon/report", "碳管理報告"),
    ("/carbon/statement.pdf", "碳排放查核參考憑證"),
    ("/carbon/factors", "排放係數"),
];

/// The `<head>` of every document (pages and the printable report): charset, viewport,
/// title, the one stylesheet.
pub fn head(full_title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (full_title) }
            link rel="stylesheet" href=(stylesheet_href());
        }
    }
}

/// The page layout (zh-TW): head, site header, navigation, main, footer.
pub fn layout(area: Area, title: &str, body: Markup) -> Markup {
    let home = match area {
        Area::Portal => "/portal",
        Area::Carbon(_) => "/carbon",
        Area::Public => "/apply",
        Area::Staff(_) => "/staff",
    };
    html! {
        (DOCTYPE)
        html lang="zh-Hant-TW" {
            (head(&format!("{title} – EcoSphere 碳星雲")))
            body {
                header.site { a href=(home) { "EcoSphere 碳星雲服務" } }
                main.page {
                    @if let Area::Staff(current) = area {
                        nav.carbon aria-label="計畫管理後台" {
                            @for (path, label) in STAFF_NAV {
                                @if path == current { a href=(path) aria-current="page" { (label) } } @else { a href=(path) { (label) } }
                            }
                        }
                    }
                    @if let Area::Carbon(current) = area {
                        nav.carbon aria-label="碳星雲服務平台" {
                            @for (path, label) in CARBON_NAV {
                                @if path == current {
                                    a href=(path) aria-current="page" { (label) }
                                } @else {
                                    a href=(path) { (label) }
                                }
                            }
                        }
                    }
                    (body)
                }
                footer.site { "電子資訊業低碳轉型推動計畫 · EcoSphere 碳星雲服務" }
            }
        }
    }
}

/// An HTML page response: the layout around `body`, not cached.
pub fn render(status: StatusCode, area: Area, title: &str, body: Markup) -> Response {
    page_response(status, layout(area, title, body))
}

/// A whole document (already in the layout, or a standalone one such as the report).
pub fn page_response(status: StatusCode, doc: Markup) -> Response {
    let mut resp = (status, axum::response::Html(doc.into_string())).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A portal-area page (the common case).
pub fn portal_page(status: StatusCode, title: &str, body: Markup) -> Response {
    render(status, Area::Portal, title, body)
}

/// Text that a handler has already made safe markup for (the SVG chart renderer's output).
pub fn trusted_svg(svg: String) -> Markup {
    maud::PreEscaped(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_escapes_and_links_the_stylesheet() {
        let page = layout(Area::Carbon("/carbon/review"), "<b>標題</b>", html! { p { ("<script>alert(1)</script>") } }).into_string();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("&lt;b&gt;標題&lt;/b&gt;"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(!page.contains("<script>"));
        assert!(page.contains(&format!("href=\"{}\"", stylesheet_href())));
        assert!(page.contains("<a href=\"/carbon/review\" aria-current=\"page\">待確認</a>"));
        assert!(!page.contains("<style"));
    }
}
