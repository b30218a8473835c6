//! A real browser runs a new user's whole journey on the local system, with the mouse
//! and keyboard: apply, the reviewer approves from the e-mail, sign in by link, add a
//! member, hand over to the carbon platform, a dropped ledger becomes a batch, the
//! review queue, the inventory, the report and its PDF. Every page visited is checked:
//! the HTML the server sent goes through the Nu Html Checker (vnu.jar), every visible
//! form control has a label, and no page shows a negative zero.
//!
//! Needs chromium, chromedriver, java and vnu.jar: `bash tests/run.sh` installs them.
//! `ECOSPHERE_SKIP_BROWSER=1` skips the test (it never passes silently otherwise).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use super::portal::Sys;
use super::webdriver::{chromedriver_path, chromium_path, Browser, By, Options, WdError};

const COMPANY: &str = "維他命股份有限公司";
const TAX: &str = "99754141";
const EMAIL: &str = "ming@vitamin.com.tw";
const YEAR: i32 = 2025;

/// A small bookkeeper's ledger: electricity, water, gasoline, and a diesel receipt whose
/// litres were not written down (it must go to the review queue).
const LEDGER: &str = "類別,細項,數量,單位,起日,迄日,電號或水號,金額,發票號碼
電力,,2468,kWh,2025-01-06,2025-03-05,07-12-3456-78-9,9135,
自來水,,42,度,2025-01-10,2025-03-11,3-1234567-8,610,
95無鉛汽油,,38.2,L,2025-02-14,2025-02-14,,1185,AB-12345678
柴油,,,L,2025-03-02,2025-03-02,,1500,CD-22223333
";

/// The tools the test needs, or why it cannot run.
struct Tools {
    vnu_jar: PathBuf,
}

fn vnu_jar() -> PathBuf {
    if let Some(p) = std::env::var_os("VNU_JAR") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("ECOSPHERE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/ecosphere"));
    cache.join("npm/node_modules/vnu-jar/build/dist/vnu.jar")
}

fn tools() -> Result<Tools, String> {
    let mut missing = Vec::new();
    let (driver, chromium, jar) = (chromedriver_path(), chromium_path(), vnu_jar());
    if !driver.is_file() {
        missing.push(format!("chromedriver ({}; env CHROMEDRIVER)", driver.display()));
    }
    if !chromium.is_file() {
        missing.push(format!("chromium ({}; env CHROMIUM)", chromium.display()));
    }
    if !Command::new("java").arg("-version").output().is_ok_and(|o| o.status.success()) {
        missing.push("java (default-jre-headless)".into());
    }
    if !jar.is_file() {
        missing.push(format!("vnu.jar ({}; env VNU_JAR)", jar.display()));
    }
    if missing.is_empty() {
        Ok(Tools { vnu_jar: jar })
    } else {
        Err(format!("missing: {}. Run `bash tests/run.sh`, which installs them", missing.join(", ")))
    }
}

trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T> Must<T> for Result<T, WdError> {
    fn must(self, what: &str) -> T {
        self.unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}

/// How the server's HTML of the current page is had again.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Via {
    /// A GET page (also where a POST redirected to): fetched again from inside the page.
    Get,
    /// A page that answered a POST itself (no redirect): its DOM, serialised.
    PostResult,
}

struct Page {
    name: String,
    url: String,
    file: PathBuf,
    via: Via,
}

/// Every page the journey visited, saved for the checker, and what the in-browser
/// checks found.
struct Pages {
    dir: tempfile::TempDir,
    pages: Vec<Page>,
    unlabelled: Vec<(String, String)>,
    negative_zero: Vec<(String, String)>,
}

const FETCH_SELF: &str = r#"
const done = arguments[arguments.length - 1];
fetch(location.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
  .then(r => r.text().then(t => done({ status: r.status, type: r.headers.get('content-type'), html: t })))
  .catch(e => done({ error: String(e) }));
"#;

const SERIALISE_DOM: &str = r#"
const dt = document.doctype ? '<!DOCTYPE ' + document.doctype.name + '>\n' : '';
return dt + document.documentElement.outerHTML;
"#;

const UNLABELLED: &str = r#"
const bad = [];
for (const el of document.querySelectorAll('input, select, textarea')) {
  const type = (el.getAttribute('type') || '').toLowerCase();
  if (el.tagName === 'INPUT' && ['hidden', 'submit', 'button', 'reset', 'image'].includes(type)) continue;
  const style = getComputedStyle(el);
  const visible = el.getClientRects().length > 0 && style.visibility !== 'hidden' && style.display !== 'none';
  if (!visible) continue;
  const aria = (el.getAttribute('aria-label') || '').trim() !== '' ||
    (el.getAttribute('aria-labelledby') || '').trim().split(/\s+/).some(id => id && document.getElementById(id));
  if ((el.labels && el.labels.length > 0) || aria) continue;
  bad.push(el.outerHTML.slice(0, 200));
}
return bad;
"#;

const NEGATIVE_ZERO: &str = r#"
const found = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
  acceptNode: n => (n.parentElement && ['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(n.parentElement.tagName))
    ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT
});
const re = /(?:^|[^0-9A-Za-z])(-0(?:\.0+)?(?![0-9.])%?)/g;
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const t = n.nodeValue;
  for (const m of t.matchAll(re)) {
    const hit = m[1];
    if (!hit.includes('.') && !hit.endsWith('%')) continue;
    const at = m.index + m[0].indexOf(hit);
    const where = n.parentElement ? n.parentElement.tagName.toLowerCase() : '';
    found.push(where + ': …' + t.slice(Math.max(0, at - 30), at + hit.length + 30).replace(/\s+/g, ' ') + '…');
  }
}
return found;
"#;

impl Pages {
    fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("ecosphere-pages-").tempdir().unwrap();
        Pages { dir, pages: Vec::new(), unlabelled: Vec::new(), negative_zero: Vec::new() }
    }

    /// Saves the current page's HTML and runs the in-browser checks on it.
    async fn check(&mut self, b: &Browser, name: &str, via: Via) {
        let url = b.current_url().await.must("current url");
        let at = format!("{name} {url}");
        let html = match via {
            Via::Get => {
                let v = b.execute_async(FETCH_SELF, vec![]).await.must("fetch the page's HTML");
                assert!(v.get("error").is_none(), "fetching {url} from the page: {v}");
                let ty = v["type"].as_str().unwrap_or_default();
                assert!(ty.starts_with("text/html"), "{url}: content type {ty}");
                v["html"].as_str().unwrap_or_default().to_string()
            }
            Via::PostResult => b.execute(SERIALISE_DOM, vec![]).await.must("serialise the DOM").as_str().unwrap_or_default().to_string(),
        };
        let file = self.dir.path().join(format!("{:02}-{name}.html", self.pages.len() + 1));
        std::fs::write(&file, &html).unwrap();
        let labels = b.execute(UNLABELLED, vec![]).await.must("label check");
        for el in labels.as_array().into_iter().flatten() {
            self.unlabelled.push((at.clone(), el.as_str().unwrap_or_default().to_string()));
        }
        let zeros = b.execute(NEGATIVE_ZERO, vec![]).await.must("negative-zero check");
        for z in zeros.as_array().into_iter().flatten() {
            self.negative_zero.push((at.clone(), z.as_str().unwrap_or_default().to_string()));
        }
        eprintln!("browser: checked {name} {url} ({via:?}, {} bytes)", html.len());
        self.pages.push(Page { name: name.into(), url, file, via });
    }

    /// The Nu Html Checker once over every saved page: (page, line, message) of each error.
    fn vnu_errors(&self, jar: &Path) -> (Vec<(usize, String)>, usize) {
        let out = Command::new("java")
            .arg("-jar")
            .arg(jar)
            .args(["--format", "json", "--exit-zero-always"])
            .args(self.pages.iter().map(|p| &p.file))
            .output()
            .expect("java -jar vnu.jar");
        let report: Value = serde_json::from_slice(&out.stderr).unwrap_or_else(|e| {
            panic!("vnu.jar did not print JSON on stderr ({e}): {}", String::from_utf8_lossy(&out.stderr))
        });
        let mut errors = Vec::new();
        let mut warnings = 0;
        for m in report["messages"].as_array().into_iter().flatten() {
            let file = m["url"].as_str().unwrap_or_default();
            let page = self.pages.iter().position(|p| file.ends_with(&*p.file.file_name().unwrap().to_string_lossy())).unwrap_or(usize::MAX);
            let line = m["lastLine"].as_u64().map(|l| l.to_string()).unwrap_or_else(|| "?".into());
            let text = format!("line {line}: {} [{}]", m["message"].as_str().unwrap_or_default(), m["extract"].as_str().unwrap_or_default().replace('\n', "⏎"));
            match m["type"].as_str() {
                Some("error") | Some("non-document-error") => errors.push((page, text)),
                _ => warnings += 1,
            }
        }
        (errors, warnings)
    }

    fn describe(&self, i: usize) -> String {
        self.pages.get(i).map(|p| format!("{} {} ({}, {:?})", p.name, p.url, p.file.display(), p.via)).unwrap_or_else(|| "?".into())
    }
}

/// Waits until the page's text contains `needle`; fails with what it shows.
async fn expect_text(b: &Browser, needle: &str) -> String {
    match b.wait_text(10, needle).await {
        Ok(t) => t,
        Err(_) => {
            let url = b.current_url().await.unwrap_or_default();
            let text = b.body_text().await.unwrap_or_default();
            panic!("{url} does not show {needle:?}; it shows:\n{text}")
        }
    }
}

async fn type_into(b: &Browser, css: &str, text: &str) {
    let el = b.find(By::css(css)).await.must(css);
    el.clear().await.must(css);
    el.send_keys(text).await.must(css);
}

async fn click(b: &Browser, by: By) {
    let what = format!("{by:?}");
    b.wait_find(10, by).await.must(&what).click().await.must(&what);
}

/// A button by its visible text.
fn button(text: &str) -> By {
    By::xpath(format!("//button[normalize-space(.)='{text}'] | //input[(@type='submit' or @type='button') and @value='{text}']"))
}

/// A link whose text contains `text`.
fn link_containing(text: &str) -> By {
    By::xpath(format!("//a[contains(normalize-space(.), '{text}')]"))
}

/// Opens the dev mailbox and the newest e-mail whose subject contains `subject`,
/// refreshing until it has arrived.
async fn open_mail(b: &Browser, base: &str, pages: &mut Pages, subject: &str, name: &str) -> String {
    b.goto(&format!("{base}/_dev/mailbox")).await.must("mailbox");
    let link = b
        .wait_for(20, &format!("an e-mail {subject:?}"), move || async move {
            match b.find(link_containing(subject)).await {
                Ok(l) => Some(l),
                Err(_) => {
                    let _ = b.refresh().await;
                    None
                }
            }
        })
        .await
        .must("mailbox");
    pages.check(b, &format!("{name}-mailbox"), Via::Get).await;
    link.click().await.must("open the e-mail");
    let text = expect_text(b, subject).await;
    pages.check(b, &format!("{name}-mail"), Via::Get).await;
    text
}

/// Follows the link with `text`; a page without it fails the journey (a user could not go on).
async fn follow(b: &Browser, text: &str, path: &str) {
    match b.find(link_containing(text)).await {
        Ok(l) => l.click().await.must(text),
        Err(_) => {
            let url = b.current_url().await.unwrap_or_default();
            panic!("{url}: no link 「{text}」 to {path}: a user cannot go on from this page");
        }
    }
}

/// Picks `year` in the page's year navigation when it shows another year.
async fn choose_year(b: &Browser, year: i32) {
    let label = format!("{year} 年");
    if let Ok(l) = b.find(By::xpath(format!("//a[contains(normalize-space(.), '{label}') and contains(@href, 'year={year}')]"))).await {
        l.click().await.must("year link");
        b.wait_for(10, "the year in the URL", || async { b.current_url().await.ok().filter(|u| u.contains(&format!("year={year}"))) })
            .await
            .must("year");
    } else {
        let url = b.current_url().await.unwrap_or_default();
        assert!(b.body_text().await.unwrap_or_default().contains(&label), "{url}: no way to choose the year {year}");
    }
}

// Two workers: the server keeps answering while the test thread waits on the browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_journey() {
    let tools = match tools() {
        Ok(t) => t,
        Err(why) if std::env::var("ECOSPHERE_SKIP_BROWSER").is_ok_and(|v| v == "1") => {
            eprintln!("browser_journey skipped (ECOSPHERE_SKIP_BROWSER=1): {why}");
            return;
        }
        Err(why) => panic!("browser_journey cannot run: {why} (or set ECOSPHERE_SKIP_BROWSER=1 to skip it)"),
    };
    let t0 = std::time::Instant::now();
    let s = Sys::new().await;
    let base = s.running.url();
    let b = Browser::start(Options::default()).await.unwrap_or_else(|e| panic!("{e}; `bash tests/run.sh` installs chromium and chromedriver"));
    let b = &b;
    let mut pages = Pages::new();

    // 1. Apply.
    b.goto(&format!("{base}/apply")).await.must("open /apply");
    expect_text(b, "碳星雲服務申請表單").await;
    assert!(b.title().await.must("title").contains("碳星雲服務申請表單"));
    pages.check(b, "apply", Via::Get).await;
    for (field, value) in [
        ("company_name", COMPANY),
        ("tax_id", TAX),
        ("products", "保健食品製造與代工"),
        ("applicant_name", "王小明"),
        ("applicant_department", "永續發展部"),
        ("applicant_title", "經理"),
        ("contact_email", EMAIL),
        ("contact_phone", "02-2345-6789"),
        ("notes", "希望先從電費與油料開始盤查。"),
    ] {
        type_into(b, &format!("[name='{field}']"), value).await;
    }
    for (field, value) in [("regions", "north"), ("regions", "central"), ("inventory_status", "in_progress"), ("interests", "ghg_inventory"), ("interests", "subsidy")] {
        let css = format!("input[name='{field}'][value='{value}']");
        let el = b.find(By::css(&css)).await.must(&css);
        el.click().await.must(&css);
        assert!(el.is_selected().await.must(&css), "{css} is checked after a click");
    }
    click(b, button("送出")).await;
    expect_text(b, "審核中").await;
    let text = expect_text(b, COMPANY).await;
    assert!(text.contains("m***@vitamin.com.tw"), "the status page masks the e-mail: {text}");
    assert!(b.current_url().await.must("url").contains("/applications/"));
    pages.check(b, "application-status", Via::Get).await;

    // 2. The reviewer approves from the e-mail.
    let mail = open_mail(b, &base, &mut pages, "待審核", "review").await;
    assert!(mail.contains(COMPANY) && mail.contains(TAX), "{mail}");
    click(b, By::xpath("//a[contains(preceding-sibling::text()[1], '核准')]")).await;
    expect_text(b, "確認核准").await;
    pages.check(b, "review-confirm", Via::Get).await;
    click(b, button("確認核准")).await;
    expect_text(b, "審核通過").await;
    pages.check(b, "review-done", Via::PostResult).await;

    // 3. The applicant's decision e-mail.
    let mail = open_mail(b, &base, &mut pages, "通過審核", "decision").await;
    assert!(mail.contains("審核通過") || mail.contains("通過審核"), "{mail}");

    // 4. Sign in by link.
    b.goto(&format!("{base}/login")).await.must("/login");
    expect_text(b, "登入").await;
    pages.check(b, "login", Via::Get).await;
    type_into(b, "input[name='email']", EMAIL).await;
    click(b, button("寄送登入連結")).await;
    expect_text(b, "請查看您的信箱").await;
    pages.check(b, "login-sent", Via::PostResult).await;
    let mail = open_mail(b, &base, &mut pages, "登入連結", "sign-in").await;
    assert!(mail.contains("15 分鐘"), "{mail}");
    click(b, By::xpath("//pre//a[contains(@href, '/login/')] | //a[contains(@href, '/login/')]")).await;
    expect_text(b, "確認登入").await;
    pages.check(b, "login-confirm", Via::Get).await;
    click(b, button("登入")).await;
    b.wait_for(10, "leaving the sign-in page", || async { b.current_url().await.ok().filter(|u| !u.contains("/login/")) }).await.must("signed in");
    pages.check(b, "signed-in", Via::Get).await;

    // 5. 會員中心 → 成員管理: add a member.
    if !b.body_text().await.must("text").contains("會員中心") || b.current_url().await.must("url").contains("/members") {
        follow(b, "會員中心", "/portal").await;
    }
    expect_text(b, "會員中心").await;
    expect_text(b, "王小明").await;
    pages.check(b, "portal", Via::Get).await;
    click(b, link_containing("成員管理")).await;
    expect_text(b, "新增成員").await;
    expect_text(b, EMAIL).await;
    pages.check(b, "members", Via::Get).await;
    type_into(b, "form[action='/members'] [name='name']", "王會計").await;
    type_into(b, "form[action='/members'] [name='email']", "wang@vitamin.com.tw").await;
    type_into(b, "form[action='/members'] [name='phone']", "02-2345-6790").await;
    type_into(b, "form[action='/members'] [name='title']", "會計").await;
    click(b, By::css("form[action='/members'] input[name='carbon_login'][value='yes']")).await;
    click(b, By::xpath("//form[@action='/members']//button[normalize-space(.)='儲存']")).await;
    let text = expect_text(b, "wang@vitamin.com.tw").await;
    assert!(text.contains("王會計"), "the new member is listed: {text}");
    let after_add = if b.current_url().await.must("url").ends_with("/members") { Via::Get } else { Via::PostResult };
    pages.check(b, "member-added", after_add).await;

    // 5b. 會員中心 → 公司資料維護: a code outside its 中類's range is refused with the field
    //     named and the typed values kept; then the profile is saved.
    follow(b, "會員中心", "/portal").await;
    click(b, link_containing("公司資料維護")).await;
    expect_text(b, "稅務行業代號").await;
    pages.check(b, "company-profile", Via::Get).await;
    type_into(b, "form[action='/company'] [name='industry_code']", "250000").await;
    click(b, By::css("select[name='county'] option[value='65000']")).await;
    type_into(b, "form[action='/company'] [name='address']", "新北市三重區重新路一段 1 號").await;
    type_into(b, "form[action='/company'] [name='employees']", "25").await;
    type_into(b, "form[action='/company'] [name='revenue_ntd']", "48,000,000").await;
    type_into(b, "form[action='/company'] [name='capital_ntd']", "5,000,000").await;
    click(b, By::xpath("//form[@action='/company']//button[normalize-space(.)='儲存']")).await;
    expect_text(b, "251111～259999").await;
    pages.check(b, "company-profile-invalid", Via::PostResult).await;
    type_into(b, "form[action='/company'] [name='industry_code']", "251111").await;
    click(b, By::xpath("//form[@action='/company']//button[normalize-space(.)='儲存']")).await;
    let text = expect_text(b, "已儲存").await;
    assert!(text.contains("金屬製品製造業") && text.contains("指標型企業"), "{text}");
    pages.check(b, "company-profile-saved", Via::Get).await;

    // 6. Back to 會員中心 and the hand-over to the carbon platform.
    follow(b, "會員中心", "/portal").await;
    expect_text(b, "碳星雲服務平台登入").await;
    // The auto-submitting hand-off page passes too fast to see: ask for one from the page
    // (an unused token expires by itself) so its HTML is checked as well.
    let handoff = b
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const form = [...document.querySelectorAll('form')].find(f => f.getAttribute('action') === '/sso/start');
               if (!form) { done({ error: 'no /sso/start form' }); return; }
               fetch('/sso/start', { method: 'POST', credentials: 'same-origin', body: new URLSearchParams(new FormData(form)) })
                 .then(r => r.text().then(t => done({ status: r.status, html: t }))).catch(e => done({ error: String(e) }));"#,
            vec![],
        )
        .await
        .must("the hand-off page");
    assert_eq!(handoff["status"], 200, "{handoff}");
    let handoff_file = pages.dir.path().join(format!("{:02}-sso-handoff.html", pages.pages.len() + 1));
    std::fs::write(&handoff_file, handoff["html"].as_str().unwrap_or_default()).unwrap();
    pages.pages.push(Page { name: "sso-handoff".into(), url: format!("{base}/sso/start (POST)"), file: handoff_file, via: Via::PostResult });
    click(b, button("碳星雲服務平台登入")).await;
    b.wait_for(15, "the carbon platform", || async { b.current_url().await.ok().filter(|u| u.contains("/carbon")) }).await.must("SSO");
    expect_text(b, "碳星雲服務平台").await;
    expect_text(b, "王小明").await;
    pages.check(b, "carbon-dashboard", Via::Get).await;

    // 7. The bookkeeper uploads the ledger on the batch page (file chooser + batch name);
    //    the page shows it processed.
    click(b, By::link("上傳批次")).await;
    pages.check(b, "batches-empty", Via::Get).await;
    let upload_dir = tempfile::tempdir().unwrap();
    let ledger_path = upload_dir.path().join("ledger.csv");
    std::fs::write(&ledger_path, LEDGER.as_bytes()).unwrap();
    b.find(By::css("input#files")).await.must("the file chooser").send_keys(ledger_path.to_str().unwrap()).await.must("choose the file");
    b.find(By::css("input#batch")).await.must("the batch name").send_keys("2025-q1").await.must("type the batch");
    click(b, button("上傳")).await;
    expect_text(b, "已收到 1 個檔案").await;
    b.wait_for(120, "the batch 2025-q1 processed", || async {
        let _ = b.refresh().await;
        let t = b.body_text().await.ok()?;
        (t.contains("2025-q1") && t.contains("ledger.csv") && t.contains("處理中 0")).then_some(())
    })
    .await
    .must("the batch page");
    let text = b.body_text().await.must("batches");
    assert!(text.contains("待人工確認 1"), "the diesel row waits for a person: {text}");
    pages.check(b, "batches", Via::Get).await;

    // 8. The review queue: correct the diesel row with the litres from the receipt.
    click(b, By::link("待確認")).await;
    expect_text(b, "柴油").await;
    pages.check(b, "review-queue", Via::Get).await;
    click(b, By::xpath("//main//a[contains(@href, '/carbon/activities/')]")).await;
    b.wait_for(10, "the item page", || async { b.current_url().await.ok().filter(|u| u.contains("/carbon/activities/")) }).await.must("item");
    expect_text(b, "缺少用量").await;
    pages.check(b, "review-item", Via::Get).await;
    type_into(b, "input[name='quantity']", "50").await;
    let unit = b.find(By::css("select[name='unit'] option[value='L']")).await.must("unit L");
    if !unit.is_selected().await.must("unit") {
        b.find(By::css("select[name='unit']")).await.must("unit").click().await.must("unit");
        unit.click().await.must("unit L");
    }
    let kind = b.find(By::css("select[name='kind'] option[value='diesel']")).await.must("kind diesel");
    assert!(kind.is_selected().await.must("kind"), "the row's kind is kept");
    click(b, button("確認並計入")).await;
    b.wait_for(10, "leaving the item page", || async {
        b.current_url().await.ok().filter(|u| !u.contains("/carbon/activities/"))
    })
    .await
    .must("correction saved");
    pages.check(b, "review-corrected", Via::Get).await;
    click(b, By::link("待確認")).await;
    b.wait_for(30, "an empty review queue", || async {
        let _ = b.refresh().await;
        b.body_text().await.ok().filter(|t| !t.contains("柴油"))
    })
    .await
    .must("the diesel row left the queue");
    pages.check(b, "review-queue-empty", Via::Get).await;

    // 9. 盤查清冊.
    click(b, By::link("盤查清冊")).await;
    choose_year(b, YEAR).await;
    b.wait_for(30, "the diesel line in the inventory", || async {
        let _ = b.refresh().await;
        b.body_text().await.ok().filter(|t| t.contains("柴油") && t.contains("電力"))
    })
    .await
    .must("inventory");
    pages.check(b, "inventory", Via::Get).await;

    // 10. The dashboard of the year, then 碳管理報告 and its PDF.
    click(b, By::link("總覽")).await;
    choose_year(b, YEAR).await;
    expect_text(b, "排放總量").await;
    pages.check(b, "carbon-dashboard-year", Via::Get).await;
    click(b, By::link("碳管理報告")).await;
    choose_year(b, YEAR).await;
    let text = expect_text(b, COMPANY).await;
    assert!(text.contains(TAX), "{text}");
    pages.check(b, "report", Via::Get).await;
    let pdf = b
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               fetch('/carbon/report.pdf?year=' + arguments[0], { credentials: 'same-origin' })
                 .then(r => r.arrayBuffer().then(buf => {
                   const head = Array.from(new Uint8Array(buf.slice(0, 5))).map(c => String.fromCharCode(c)).join('');
                   done({ status: r.status, type: r.headers.get('content-type'), size: buf.byteLength, head });
                 })).catch(e => done({ error: String(e) }));"#,
            vec![json!(YEAR)],
        )
        .await
        .must("download the PDF");
    assert_eq!(pdf["status"], 200, "{pdf}");
    assert_eq!(pdf["type"], "application/pdf", "{pdf}");
    assert_eq!(pdf["head"], "%PDF-", "{pdf}");
    let size = pdf["size"].as_u64().unwrap_or(0);
    assert!(size > 5_000 && size < 20_000_000, "PDF size {size} bytes");

    // On a phone (consultants work from one): the same pages at 390 px wide scroll only
    // inside their tables, never the whole page sideways.
    b.cmd(reqwest::Method::POST, "/window/rect", Some(serde_json::json!({ "width": 390, "height": 844 }))).await.must("phone-sized window");
    let mut too_wide = Vec::new();
    for path in ["/portal", "/members", "/company", "/carbon", "/carbon/batches", "/carbon/review", "/carbon/inventory", "/carbon/factors", "/carbon/report", "/apply"] {
        b.goto(&format!("{base}{path}")).await.must(path);
        let w = b
            .execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![])
            .await
            .must("page width");
        let (scroll, inner) = (w[0].as_f64().unwrap_or(0.0), w[1].as_f64().unwrap_or(0.0));
        if scroll > inner + 1.0 {
            too_wide.push(format!("{path}: {scroll} px wide in a {inner} px window"));
        }
    }
    assert!(too_wide.is_empty(), "pages wider than a phone: {too_wide:?}");

    // 12. The statement for the bank (nothing waits in review any more), and the bank
    //     officer's public check page, opened without any session.
    let statement = b
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               fetch('/carbon/statement.json?year=' + arguments[0], { credentials: 'same-origin' })
                 .then(r => r.json().then(j => done({ status: r.status, id: j.id })))
                 .catch(e => done({ error: String(e) }));"#,
            vec![json!(YEAR)],
        )
        .await
        .must("the statement");
    assert_eq!(statement["status"], 200, "{statement}");
    let id = statement["id"].as_str().expect("a statement id").to_string();
    b.cmd(reqwest::Method::DELETE, "/cookie", None).await.must("a browser without sessions, like the bank's");
    b.goto(&format!("{base}/verify/{id}")).await.must("the check page");
    expect_text(b, "碳排放查核參考憑證查驗").await;
    let text = expect_text(b, "狀態：有效").await;
    assert!(text.contains(COMPANY) && text.contains(TAX), "{text}");
    pages.check(b, "verify", Via::Get).await;
    eprintln!("browser: journey done in {:.1} s ({} pages, PDF {size} bytes)", t0.elapsed().as_secs_f64(), pages.pages.len());

    // The checks over every page.
    let (errors, warnings) = pages.vnu_errors(&tools.vnu_jar);
    let mut report = String::new();
    if !errors.is_empty() {
        let _ = writeln!(report, "\nNu Html Checker: {} error(s) ({warnings} warning(s) not counted):", errors.len());
        let mut last = usize::MAX - 1;
        for (page, msg) in &errors {
            if *page != last {
                let _ = writeln!(report, "  {}", pages.describe(*page));
                last = *page;
            }
            let _ = writeln!(report, "    {msg}");
        }
    }
    if !pages.unlabelled.is_empty() {
        let _ = writeln!(report, "\nform controls without a label ({}):", pages.unlabelled.len());
        for (url, el) in &pages.unlabelled {
            let _ = writeln!(report, "  {url}: {el}");
        }
    }
    if !pages.negative_zero.is_empty() {
        let _ = writeln!(report, "\nnegative zeros shown ({}):", pages.negative_zero.len());
        for (url, z) in &pages.negative_zero {
            let _ = writeln!(report, "  {url}: {z}");
        }
    }
    eprintln!("browser: {} pages checked in {:.1} s; saved in {}", pages.pages.len(), t0.elapsed().as_secs_f64(), pages.dir.path().display());
    if !report.is_empty() {
        let kept = pages.dir.keep();
        panic!("the pages the journey visited have problems (HTML kept in {}):{report}", kept.display());
    }
    s.running.stop().await;
}
