//! The pages of every sign-in by e-mailed link (portal members, programme staff): ask
//! for a link, "check your mail", and the confirm button a link opens (a GET never uses
//! the link up, so mail scanners cannot).

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use maud::html;

use super::{portal_page, wants_json};

/// The form asking for a sign-in link.
pub fn login_page(title: &str, intro: &str, action: &str) -> Response {
    portal_page(
        StatusCode::OK,
        title,
        html! {
            h1 { (title) }
            p { (intro) }
            form method="post" action=(action) {
                p {
                    label.field for="email" { "Email" }
                    input type="email" id="email" name="email" required maxlength="254" autocomplete="email";
                }
                p { button type="submit" { "寄送登入連結" } }
            }
        },
    )
}

/// The same answer whether or not the address may sign in.
pub fn link_sent(headers: &HeaderMap, message: &str) -> Response {
    if wants_json(headers) {
        return (StatusCode::ACCEPTED, Json(serde_json::json!({ "message": message }))).into_response();
    }
    portal_page(StatusCode::OK, "請查看您的信箱", html! { h1 { "請查看您的信箱" } p { (message) } })
}

/// The page a link opens: one button that signs in.
pub fn confirm_page(title: &str, note: &str, action: &str) -> Response {
    portal_page(
        StatusCode::OK,
        "確認登入",
        html! {
            h1 { (title) }
            p { (note) }
            form method="post" action=(action) { button type="submit" { "登入" } }
        },
    )
}
