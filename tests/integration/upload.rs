//! Upload from the browser (CONTRACT.md): the batch page's multipart form stores the files
//! for ingest exactly as a drop would; too large, a wrong type, another firm, no CSRF
//! token or a cross-site post → 4xx and nothing stored.

use reqwest::{header, StatusCode};

use super::carbon::{carbon_user, wait_batch};
use super::portal::Sys;

const BOUNDARY: &str = "----ecosphere-test-boundary-7d0c";

/// A `multipart/form-data` body, built by hand like a browser sends it.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    for (file_name, bytes) in files {
        body.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        );
        body.extend(*bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post(s: &Sys, cookie: &str, body: Vec<u8>, origin: Option<&str>) -> reqwest::Response {
    let mut r = s
        .client
        .post(s.url("/carbon/batches"))
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body);
    if let Some(o) = origin {
        r = r.header(header::ORIGIN, o);
    }
    r.send().await.unwrap()
}

async fn csrf(s: &Sys, cookie: &str) -> String {
    let html = s.client.get(s.url("/carbon/batches")).header(header::COOKIE, cookie).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("enctype=\"multipart/form-data\"") && html.contains("name=\"files\" multiple"), "the batch page has the upload form");
    let i = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    html[i..].split('"').next().unwrap().to_string()
}

/// Every file under the data dir's drop/ and blobs/ folders (nothing may be stored by a refused upload).
fn stored(s: &Sys) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["drop", "blobs"] {
        let root = s.dir.path().join(sub);
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path().strip_prefix(s.dir.path()).unwrap().to_string_lossy().to_string());
                }
            }
        }
    }
    out.sort();
    out
}

const LEDGER: &str = "類別,細項,數量,單位,起日,迄日,電號或水號,金額,發票號碼
電力,,2468,kWh,2025-01-06,2025-03-05,07-12-3456-78-9,9135,
自來水,,42,度,2025-01-10,2025-03-11,3-1234567-8,610,
";

#[tokio::test]
async fn the_batch_page_uploads_files_as_a_drop_and_refuses_bad_ones_whole() {
    let s = Sys::new().await;
    let cookie = carbon_user(&s).await;
    let token = csrf(&s, &cookie).await;
    let before = stored(&s);

    let exe: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff";
    let refused: Vec<(&str, Vec<u8>, Option<&str>, StatusCode, &str)> = vec![
        ("no CSRF token", multipart(&[("batch", "b1")], &[("ledger.csv", LEDGER.as_bytes())]), None, StatusCode::FORBIDDEN, "表單已過期"),
        ("a wrong token", multipart(&[("csrf", "00ff"), ("batch", "b1")], &[("ledger.csv", LEDGER.as_bytes())]), None, StatusCode::FORBIDDEN, "表單已過期"),
        ("a good file and an .exe", multipart(&[("csrf", &token), ("batch", "b1")], &[("ledger.csv", LEDGER.as_bytes()), ("setup.exe", exe)]), None, StatusCode::UNSUPPORTED_MEDIA_TYPE, "setup.exe"),
        ("another firm", multipart(&[("csrf", &token), ("batch", "b1"), ("tax_id", "04595257")], &[("ledger.csv", LEDGER.as_bytes())]), None, StatusCode::FORBIDDEN, "目前登入的公司"),
        ("a path in the batch name", multipart(&[("csrf", &token), ("batch", "../04595257")], &[("ledger.csv", LEDGER.as_bytes())]), None, StatusCode::BAD_REQUEST, "批次名稱"),
        ("a file over 20 MB", multipart(&[("csrf", &token), ("batch", "b1")], &[("big.csv", &vec![b'1'; 20 * 1024 * 1024 + 1])]), None, StatusCode::PAYLOAD_TOO_LARGE, "上限為 20 MB"),
        ("no file", multipart(&[("csrf", &token), ("batch", "b1")], &[]), None, StatusCode::BAD_REQUEST, "至少一個檔案"),
        ("a cross-site post", multipart(&[("csrf", &token), ("batch", "b1")], &[("ledger.csv", LEDGER.as_bytes())]), Some("https://evil.example"), StatusCode::FORBIDDEN, "其他網站"),
    ];
    for (what, body, origin, status, needle) in refused {
        let r = post(&s, &cookie, body, origin).await;
        assert_eq!(r.status(), status, "{what}");
        let text = r.text().await.unwrap();
        assert!(text.contains(needle), "{what}: {text}");
        assert_eq!(stored(&s), before, "{what}: nothing stored");
    }

    // Two good files: 303 back to the batch page, which says they arrived; the ingest
    // path reads them like dropped files.
    let r = post(&s, &cookie, multipart(&[("csrf", &token), ("batch", "2025 第一季")], &[("帳冊.csv", LEDGER.as_bytes()), ("電費.csv", LEDGER.as_bytes())]), None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[header::LOCATION].to_str().unwrap().to_string();
    assert!(to.starts_with("/carbon/batches?uploaded=2"), "{to}");
    let page = s.client.get(s.url(&to)).header(header::COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("已收到 2 個檔案（批次 2025 第一季）"), "{page}");
    let batch = wait_batch(&s, &cookie, "2025 第一季", 2).await;
    let names: Vec<&str> = batch["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"帳冊.csv") && names.contains(&"電費.csv"), "{batch}");
    assert_eq!(batch["failed"], 0, "{batch}");
    assert!(stored(&s).iter().all(|p| !p.contains(".part")), "no half-written file left");

    // An empty batch name gets the upload's time.
    let r = post(&s, &cookie, multipart(&[("csrf", &token), ("batch", "")], &[("水費.csv", LEDGER.as_bytes())]), None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[header::LOCATION].to_str().unwrap().contains("batch=%E4%B8%8A%E5%82%B3-"), "上傳-YYYYMMDD-HHMMSS");
}
