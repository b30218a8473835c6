//! Issue 4 (first part): sign-in by e-mailed link and member management, over HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ecosphere::ports::ManualClock;
use ecosphere_local::Running;
use reqwest::{header, redirect, Client, StatusCode};

use super::common::*;

pub(super) struct Sys {
    pub(super) running: Running,
    pub(super) client: Client,
    pub(super) dir: tempfile::TempDir,
    pub(super) clock: ManualClock,
}

pub(super) fn mails(dir: &std::path::Path) -> Vec<(String, String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("outbox"))
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|p| {
            let raw = std::fs::read(p).unwrap();
            let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
            (m.to().unwrap().first().unwrap().address().unwrap().to_string(), m.subject().unwrap().to_string(), m.body_text(0).unwrap().into_owned())
        })
        .collect()
}

impl Sys {
    pub(super) async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(chrono::Utc::now());
        let running = ecosphere_local::start_with_clock(local_config(dir.path()), Arc::new(clock.clone())).await.unwrap();
        Sys { running, client: Client::builder().redirect(redirect::Policy::none()).build().unwrap(), dir, clock }
    }
    pub(super) fn from_running(running: Running, dir: tempfile::TempDir, clock: ManualClock) -> Self {
        Sys { running, client: Client::builder().redirect(redirect::Policy::none()).build().unwrap(), dir, clock }
    }
    pub(super) fn url(&self, p: &str) -> String {
        format!("{}{p}", self.running.url())
    }
    pub(super) async fn wait_mail(&self, pred: impl Fn(&(String, String, String)) -> bool) -> (String, String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(m) = mails(self.dir.path()).into_iter().rev().find(|m| pred(m)) {
                return m;
            }
            assert!(Instant::now() < deadline, "no such e-mail");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    /// Applies and approves a company through the review link, and waits for the approval e-mail.
    pub(super) async fn approved_company(&self, company: &str, tax: &str, email: &str) {
        let form = valid_form(company, tax).into_iter().map(|(k, v)| if k == "contact_email" { (k, email.to_string()) } else { (k, v) }).collect::<Vec<_>>();
        assert_eq!(self.client.post(self.url("/apply")).form(&form).send().await.unwrap().status(), StatusCode::SEE_OTHER);
        let (_, _, text) = self.wait_mail(|m| m.1.contains("待審核") && m.2.contains(tax)).await;
        let line = text.lines().find(|l| l.starts_with("核准：")).unwrap();
        let path = format!("/{}", line.split_once('：').unwrap().1.trim().splitn(4, '/').nth(3).unwrap());
        assert_eq!(self.client.post(self.url(&path)).form(&[("decision", "approve")]).send().await.unwrap().status(), StatusCode::OK);
        // The change feed sends the approval e-mail a moment later: wait for it, so tests that
        // count e-mails afterwards do not count it by chance.
        self.wait_mail(|m| m.0 == email && m.1.contains("已通過審核")).await;
    }
    /// Requests a sign-in link for `email` and returns its path.
    pub(super) async fn login_link(&self, email: &str) -> String {
        // Other mail (an approval sent by the change feed) may arrive meanwhile: look for
        // the sign-in link to this address only.
        let links = |dir: &std::path::Path| mails(dir).into_iter().filter(|m| m.0 == email && m.1 == "【EcoSphere】登入連結").collect::<Vec<_>>();
        let before = links(self.dir.path()).len();
        let r = self.client.post(self.url("/login")).form(&[("email", email)]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let found = links(self.dir.path());
        assert!(found.len() > before, "a sign-in e-mail was sent");
        let (_, _, text) = found.last().cloned().unwrap();
        let url = text.split_whitespace().find_map(|w| w.find("http").map(|i| w[i..].to_string())).unwrap();
        format!("/{}", url.splitn(4, '/').nth(3).unwrap())
    }
    /// Signs in through the link and returns the session cookie.
    pub(super) async fn sign_in(&self, email: &str) -> String {
        let link = self.login_link(email).await;
        assert_eq!(self.client.get(self.url(&link)).send().await.unwrap().status(), StatusCode::OK);
        let r = self.client.post(self.url(&link)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let set = r.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Secure"), "{set}");
        set.split(';').next().unwrap().to_string()
    }
    pub(super) async fn get(&self, cookie: &str, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).header(header::COOKIE, cookie).header(header::ACCEPT, "application/json").send().await.unwrap()
    }
    pub(super) async fn csrf(&self, cookie: &str) -> String {
        let html = self.client.get(self.url("/portal")).header(header::COOKIE, cookie).send().await.unwrap().text().await.unwrap();
        let i = html.find("name=\"csrf\" value=\"").unwrap() + 19;
        html[i..].split('"').next().unwrap().to_string()
    }
    pub(super) async fn post(&self, cookie: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(self.url(path)).header(header::COOKIE, cookie).header(header::ACCEPT, "application/json").form(form).send().await.unwrap()
    }
}

#[tokio::test]
async fn admins_sign_in_by_link_and_manage_members_and_nothing_else() {
    let s = Sys::new().await;
    s.approved_company("維他命股份有限公司", "99754141", "ming@vitamin.com.tw").await;

    // The same answer whether or not the e-mail is known; only a known one gets mail.
    let known = s.client.post(s.url("/login")).form(&[("email", "ming@vitamin.com.tw")]).send().await.unwrap();
    let n = mails(s.dir.path()).len();
    let unknown = s.client.post(s.url("/login")).form(&[("email", "nobody@vitamin.com.tw")]).send().await.unwrap();
    assert_eq!(known.status(), unknown.status());
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(mails(s.dir.path()).len(), n, "no e-mail for an unknown address");
    let bad = s.client.post(s.url("/login")).header(header::ACCEPT, "application/json").form(&[("email", "not-an-email")]).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // GET of a link does not use it; POST does, once.
    let link = s.login_link("ming@vitamin.com.tw").await;
    assert_eq!(s.client.get(s.url(&link)).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(s.client.get(s.url(&link)).send().await.unwrap().status(), StatusCode::OK);
    let r = s.client.post(s.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/members");
    assert_eq!(s.client.post(s.url(&link)).send().await.unwrap().status(), StatusCode::GONE, "single use");
    // Links expire after 15 minutes.
    let old = s.login_link("ming@vitamin.com.tw").await;
    s.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(s.client.post(s.url(&old)).send().await.unwrap().status(), StatusCode::GONE);
    s.clock.advance(chrono::Duration::minutes(-16));

    let admin = s.sign_in("ming@vitamin.com.tw").await;
    let csrf = s.csrf(&admin).await;
    let list: serde_json::Value = s.get(&admin, "/members").await.json().await.unwrap();
    assert_eq!(list["members"].as_array().unwrap().len(), 1);
    let first_id = list["members"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(list["members"][0]["is_admin"], true);

    // Add a member: CSRF token required; a cross-site post is refused.
    let add = [("name", "王會計"), ("email", "wang@gmail.com"), ("title", "會計"), ("is_admin", "no"), ("carbon_login", "yes")];
    assert_eq!(s.post(&admin, "/members", &add).await.status(), StatusCode::FORBIDDEN);
    let mut with_csrf = add.to_vec();
    with_csrf.push(("csrf", &csrf));
    let cross = s
        .client
        .post(s.url("/members"))
        .header(header::COOKIE, &admin)
        .header(header::ORIGIN, "https://evil.example")
        .form(&with_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let bad = s.post(&admin, "/members", &[("csrf", &csrf), ("name", ""), ("email", "x")]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.get(&admin, "/members").await.json::<serde_json::Value>().await.unwrap()["members"].as_array().unwrap().len(), 1);
    let added = s.post(&admin, "/members", &with_csrf).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let wang_id = added.json::<serde_json::Value>().await.unwrap()["member"]["id"].as_str().unwrap().to_string();
    assert_eq!(s.post(&admin, "/members", &with_csrf).await.status(), StatusCode::CONFLICT, "same e-mail twice");

    // The last admin can be neither removed nor demoted.
    assert_eq!(s.post(&admin, &format!("/members/{first_id}/delete"), &[("csrf", &csrf)]).await.status(), StatusCode::CONFLICT);
    let demote = [("csrf", csrf.as_str()), ("name", "王小明"), ("email", "ming@vitamin.com.tw"), ("is_admin", "no"), ("carbon_login", "yes")];
    assert_eq!(s.post(&admin, &format!("/members/{first_id}"), &demote).await.status(), StatusCode::CONFLICT);

    // The new member signs in; not an admin, so no member management.
    let wang = s.sign_in("wang@gmail.com").await;
    assert_eq!(s.get(&wang, "/portal").await.status(), StatusCode::OK);
    assert_eq!(s.get(&wang, "/members").await.status(), StatusCode::FORBIDDEN);

    // Another company's admin sees and changes nothing of this company.
    s.approved_company("宏碁測試", "22099131", "chen@acme.com.tw").await;
    let other = s.sign_in("chen@acme.com.tw").await;
    let other_csrf = s.csrf(&other).await;
    let others: serde_json::Value = s.get(&other, "/members").await.json().await.unwrap();
    assert!(others["members"].as_array().unwrap().iter().all(|m| m["tax_id"] == "22099131"));
    assert_eq!(s.get(&other, &format!("/members/{wang_id}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.post(&other, &format!("/members/{wang_id}/delete"), &[("csrf", &other_csrf)]).await.status(), StatusCode::NOT_FOUND);
    // Nor with the first company's CSRF token.
    assert_eq!(s.post(&other, &format!("/members/{wang_id}/delete"), &[("csrf", &csrf)]).await.status(), StatusCode::FORBIDDEN);

    // Removing a member ends their sessions at once.
    assert_eq!(s.post(&admin, &format!("/members/{wang_id}/delete"), &[("csrf", &csrf)]).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(s.get(&wang, "/portal").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("ecosphere_session=forged", "/portal").await.status(), StatusCode::UNAUTHORIZED);

    // Every change is audited with who did it.
    let audit = s.running.app.members.audit(&ecosphere::domain::TaxId::parse("99754141").unwrap()).await.unwrap();
    let trail: Vec<(String, String)> = audit.iter().map(|a| (a.action.clone(), a.actor.clone())).collect();
    assert_eq!(
        trail,
        vec![
            ("add".into(), "system".into()),
            ("add".into(), "ming@vitamin.com.tw".into()),
            ("remove".into(), "ming@vitamin.com.tw".into())
        ]
    );

    // Sign out ends the session.
    let r = s.client.post(s.url("/logout")).header(header::COOKIE, &admin).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(s.get(&admin, "/members").await.status(), StatusCode::UNAUTHORIZED);
    s.running.stop().await;
}

#[tokio::test]
async fn sign_in_requests_are_rate_limited_alike_for_known_and_unknown_addresses() {
    let s = Sys::new().await;
    s.approved_company("維他命股份有限公司", "99754141", "ming@vitamin.com.tw").await;
    for email in ["ming@vitamin.com.tw", "nobody@vitamin.com.tw"] {
        for _ in 0..5 {
            assert_eq!(s.client.post(s.url("/login")).form(&[("email", email)]).send().await.unwrap().status(), StatusCode::OK);
        }
        let r = s.client.post(s.url("/login")).header(header::ACCEPT, "application/json").form(&[("email", email)]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{email}");
        assert!(r.json::<serde_json::Value>().await.unwrap()["message"].as_str().unwrap().contains("15 分鐘"));
    }
    let sent = mails(s.dir.path()).iter().filter(|m| m.1 == "【EcoSphere】登入連結").count();
    assert_eq!(sent, 5, "only the known address got links, and at most 5");
    s.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(s.client.post(s.url("/login")).form(&[("email", "ming@vitamin.com.tw")]).send().await.unwrap().status(), StatusCode::OK);
    s.running.stop().await;
}

/// Issue 13: a newer sign-in link revokes the older ones (a forwarded or leaked old e-mail
/// no longer signs in).
#[tokio::test]
async fn a_newer_sign_in_link_revokes_the_older_ones() {
    let s = Sys::new().await;
    s.approved_company("維他命股份有限公司", "99754141", "ming@vitamin.com.tw").await;
    let old = s.login_link("ming@vitamin.com.tw").await;
    let new = s.login_link("ming@vitamin.com.tw").await;
    assert_ne!(old, new);
    let r = s.client.post(s.url(&old)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(r.headers().get(header::SET_COOKIE).is_none());
    assert!(r.text().await.unwrap().contains("較新的登入連結"));
    assert_eq!(s.client.post(s.url(&new)).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    s.running.stop().await;
}

/// Issue 13: /login is limited per client too (a script trying many addresses from one
/// source), not only per address.
#[tokio::test]
async fn sign_in_requests_are_limited_per_client() {
    let s = Sys::new().await;
    let limit = ecosphere::services::portal::LOGIN_REQUESTS_PER_CLIENT;
    for i in 0..limit {
        let r = s.client.post(s.url("/login")).form(&[("email", format!("user{i}@example-firm.com.tw"))]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "request {i}");
    }
    let r = s.client.post(s.url("/login")).form(&[("email", "one-more@example-firm.com.tw")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().contains("過於頻繁"));
    s.running.stop().await;
}

#[tokio::test]
async fn admins_keep_the_firm_profile_per_year_members_read_it_and_bad_values_store_nothing() {
    let s = Sys::new().await;
    s.approved_company("維他命股份有限公司", "99754141", "ming@vitamin.com.tw").await;
    let admin = s.sign_in("ming@vitamin.com.tw").await;
    let csrf = s.csrf(&admin).await;
    let tax = ecosphere::domain::TaxId::parse("99754141").unwrap();

    // A first visit: the applied company name is prefilled; the page names every field.
    let page = s.client.get(s.url("/company?year=2025")).header(header::COOKIE, &admin).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for needle in ["公司資料維護", "維他命股份有限公司", "稅務行業代號", "新北市", "連江縣", "樓地板面積"] {
        assert!(html.contains(needle), "{needle}");
    }
    let form = |code: &str, revenue: &str, version: &str| -> Vec<(String, String)> {
        [
            ("csrf", csrf.as_str()),
            ("year", "2025"),
            ("version", version),
            ("name", "維他命股份有限公司"),
            ("industry_code", code),
            ("county", "63000"),
            ("address", "臺北市中正區重慶南路一段 1 號"),
            ("employees", "12"),
            ("revenue_ntd", revenue),
            ("capital_ntd", "1,000,000"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let post = |cookie: String, f: Vec<(String, String)>, json: bool| {
        let mut r = s.client.post(s.url("/company")).header(header::COOKIE, cookie).form(&f);
        if json {
            r = r.header(header::ACCEPT, "application/json");
        }
        r.send()
    };

    // Bad values: 422 naming the field, the entered values kept on the page, nothing stored.
    let bad = post(admin.clone(), form("250000", "6000000", "0"), false).await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text().await.unwrap();
    assert!(html.contains("251111～259999") && html.contains("aria-invalid=\"true\"") && html.contains("臺北市中正區"), "{html}");
    let bad = post(admin.clone(), form("561111", "很多", "0"), true).await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert!(body["fields"]["revenue_ntd"].as_str().unwrap().contains("整數"), "{body}");
    assert!(s.running.app.firms.store().history(&tax).await.unwrap().is_empty());

    // Saved: the page shows the derived facts.
    let ok = post(admin.clone(), form("561111", "4,800,000", "0"), false).await.unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let html = s.client.get(s.url(ok.headers()[header::LOCATION].to_str().unwrap())).header(header::COOKIE, &admin).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("已儲存") && html.contains("餐飲業") && html.contains("服務業") && html.contains("第 1 版"), "{html}");
    // A stale form (version 0 again) is refused.
    assert_eq!(post(admin.clone(), form("561111", "9000000", "0"), true).await.unwrap().status(), StatusCode::CONFLICT);
    let v2 = post(admin.clone(), form("561111", "5,000,000", "1"), true).await.unwrap();
    assert_eq!(v2.status(), StatusCode::OK);
    let v2: serde_json::Value = v2.json().await.unwrap();
    assert_eq!((v2["profile"]["version"].as_u64(), v2["profile"]["revenue_ntd"].as_u64()), (Some(2), Some(5_000_000)));

    // A member who is not an admin reads the profile but cannot change it.
    let add = [("csrf", csrf.as_str()), ("name", "王會計"), ("email", "wang@gmail.com"), ("is_admin", "no"), ("carbon_login", "yes")];
    assert_eq!(s.post(&admin, "/members", &add).await.status(), StatusCode::CREATED);
    let wang = s.sign_in("wang@gmail.com").await;
    let read: serde_json::Value = s.get(&wang, "/company?year=2025").await.json().await.unwrap();
    assert_eq!(read["profile"]["industry_code"], "561111");
    let wang_csrf = s.csrf(&wang).await;
    let mut f = form("561111", "1", "2");
    f[0].1 = wang_csrf;
    assert_eq!(post(wang, f, true).await.unwrap().status(), StatusCode::FORBIDDEN);

    // Another company sees its own (empty) profile only; a bad year is a 422.
    s.approved_company("宏碁測試", "22099131", "chen@acme.com.tw").await;
    let other = s.sign_in("chen@acme.com.tw").await;
    let theirs: serde_json::Value = s.get(&other, "/company?year=2025").await.json().await.unwrap();
    assert!(theirs["profile"].is_null(), "{theirs}");
    assert_eq!(s.get(&other, "/company?year=1999").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.get(&other, "/company?year=abc").await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Every change audited with who did it.
    let audit = s.running.app.firms.store().audit(&tax).await.unwrap();
    assert_eq!(audit.iter().map(|a| (a.version, a.actor.as_str())).collect::<Vec<_>>(), vec![(1, "ming@vitamin.com.tw"), (2, "ming@vitamin.com.tw")]);
    s.running.stop().await;
}
