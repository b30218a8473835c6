//! A small W3C WebDriver client over `reqwest`: starts `chromedriver` on a free port,
//! opens a headless Chromium session and drives it (navigation, elements, keyboard and
//! mouse, scripts, waiting). On drop it saves a screenshot and the page's DOM when the
//! test is panicking, ends the session and kills chromedriver.
#![allow(dead_code)]

use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The W3C element reference key.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// `CHROMEDRIVER` or the Debian path.
pub fn chromedriver_path() -> PathBuf {
    std::env::var_os("CHROMEDRIVER").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"))
}

/// `CHROMIUM` or the Debian path.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// How to locate an element.
#[derive(Clone, Debug)]
pub enum By {
    Css(String),
    LinkText(String),
    PartialLinkText(String),
    XPath(String),
}

impl By {
    pub fn css(s: impl Into<String>) -> Self {
        By::Css(s.into())
    }
    pub fn link(s: impl Into<String>) -> Self {
        By::LinkText(s.into())
    }
    pub fn partial_link(s: impl Into<String>) -> Self {
        By::PartialLinkText(s.into())
    }
    pub fn xpath(s: impl Into<String>) -> Self {
        By::XPath(s.into())
    }
    fn wire(&self) -> Value {
        let (using, value) = match self {
            By::Css(v) => ("css selector", v),
            By::LinkText(v) => ("link text", v),
            By::PartialLinkText(v) => ("partial link text", v),
            By::XPath(v) => ("xpath", v),
        };
        json!({ "using": using, "value": value })
    }
}

/// Session options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// A phone-sized window (390×844, touch, mobile user agent) instead of 1280×1800.
    pub mobile: bool,
    /// Where failure screenshots go; a fresh temp dir when `None`.
    pub shots_dir: Option<PathBuf>,
}


/// A WebDriver command that failed: the W3C error code and message.
#[derive(Debug, Clone)]
pub struct WdError {
    pub status: u16,
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebDriver {} ({}): {}", self.error, self.status, self.message)
    }
}

impl std::error::Error for WdError {}

/// chromedriver plus one browser session; both end on drop.
pub struct Browser {
    child: Child,
    port: u16,
    base: String,
    session: String,
    http: reqwest::Client,
    shots_dir: PathBuf,
    _shots_tmp: Option<tempfile::TempDir>,
}

/// An element of the current page.
#[derive(Clone)]
pub struct Element<'a> {
    browser: &'a Browser,
    pub id: String,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub async fn start(options: Options) -> Result<Browser, String> {
        let driver = chromedriver_path();
        let chromium = chromium_path();
        let port = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?.local_addr().unwrap().port();
        let mut cmd = Command::new(&driver);
        cmd.arg(format!("--port={port}")).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        // Its own process group, so the browser it starts can be ended with it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().map_err(|e| format!("cannot start chromedriver `{}`: {e}", driver.display()))?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().map_err(|e| e.to_string())?;
        let (shots_dir, shots_tmp) = match options.shots_dir.clone() {
            Some(d) => (d, None),
            None => {
                let t = tempfile::Builder::new().prefix("ecosphere-browser-").tempdir().map_err(|e| e.to_string())?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let mut browser = Browser { child, port, base, session: String::new(), http, shots_dir, _shots_tmp: shots_tmp };

        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = browser.http.get(format!("{}/status", browser.base)).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        break;
                    }
                }
            }
            if let Ok(Some(status)) = browser.child.try_wait() {
                return Err(format!("chromedriver `{}` exited at start ({status})", driver.display()));
            }
            if Instant::now() > deadline {
                return Err(format!("chromedriver `{}` did not get ready on port {port}", driver.display()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let size = if options.mobile { "390,844" } else { "1280,1800" };
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            format!("--window-size={size}"),
            "--lang=zh-TW".into(),
            "--no-first-run".into(),
            "--disable-extensions".into(),
        ];
        let mut chrome = json!({ "binary": chromium.to_string_lossy(), "args": [] });
        if options.mobile {
            args.push("--touch-events=enabled".into());
            chrome["mobileEmulation"] = json!({ "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 3.0, "touch": true } });
        }
        chrome["args"] = json!(args);
        chrome["prefs"] = json!({ "intl.accept_languages": "zh-TW,zh" });
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "unhandledPromptBehavior": "dismiss",
            "timeouts": { "script": 60000, "pageLoad": 60000, "implicit": 0 },
            "goog:chromeOptions": chrome,
        }}});
        let r = browser
            .http
            .post(format!("{}/session", browser.base))
            .json(&caps)
            .send()
            .await
            .map_err(|e| format!("new session: {e}"))?;
        let v: Value = r.json().await.map_err(|e| format!("new session: {e}"))?;
        match v["value"]["sessionId"].as_str() {
            Some(id) => browser.session = id.to_string(),
            None => return Err(format!("chromedriver refused a session with `{}`: {}", chromium.display(), v["value"])),
        }
        Ok(browser)
    }

    /// Where failure screenshots are written.
    pub fn shots_dir(&self) -> &std::path::Path {
        &self.shots_dir
    }

    /// One command of the session: `method` on `/session/{id}{path}`.
    pub async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.map_err(|e| WdError { status: 0, error: "transport".into(), message: e.to_string() })?;
        let status = r.status().as_u16();
        let v: Value = r.json().await.map_err(|e| WdError { status, error: "decode".into(), message: e.to_string() })?;
        if status >= 400 || v["value"].get("error").is_some_and(|e| e.is_string()) {
            return Err(WdError {
                status,
                error: v["value"]["error"].as_str().unwrap_or("unknown").to_string(),
                message: v["value"]["message"].as_str().unwrap_or_default().chars().take(2000).collect(),
            });
        }
        Ok(v["value"].clone())
    }

    async fn get(&self, path: &str) -> Result<Value, WdError> {
        self.cmd(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, WdError> {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    /// Navigates and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<(), WdError> {
        self.post("/url", json!({ "url": url })).await.map(|_| ())
    }

    pub async fn current_url(&self) -> Result<String, WdError> {
        Ok(self.get("/url").await?.as_str().unwrap_or_default().to_string())
    }

    pub async fn title(&self) -> Result<String, WdError> {
        Ok(self.get("/title").await?.as_str().unwrap_or_default().to_string())
    }

    pub async fn back(&self) -> Result<(), WdError> {
        self.post("/back", json!({})).await.map(|_| ())
    }

    pub async fn refresh(&self) -> Result<(), WdError> {
        self.post("/refresh", json!({})).await.map(|_| ())
    }

    /// The DOM as the browser holds it now (not the bytes the server sent).
    pub async fn page_source(&self) -> Result<String, WdError> {
        Ok(self.get("/source").await?.as_str().unwrap_or_default().to_string())
    }

    /// The visible text of the page body.
    pub async fn body_text(&self) -> Result<String, WdError> {
        self.find(By::css("body")).await?.text().await
    }

    pub async fn find(&self, by: By) -> Result<Element<'_>, WdError> {
        let v = self.post("/element", by.wire()).await.map_err(|mut e| {
            e.message = format!("{by:?}: {}", e.message);
            e
        })?;
        Ok(Element { browser: self, id: element_id(&v) })
    }

    pub async fn find_all(&self, by: By) -> Result<Vec<Element<'_>>, WdError> {
        let v = self.post("/elements", by.wire()).await?;
        Ok(v.as_array().into_iter().flatten().map(|e| Element { browser: self, id: element_id(e) }).collect())
    }

    /// Runs a synchronous script; `arguments[i]` are `args`.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, WdError> {
        self.post("/execute/sync", json!({ "script": script, "args": args })).await
    }

    /// Runs an asynchronous script: it calls `arguments[arguments.length - 1](result)`.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value, WdError> {
        self.post("/execute/async", json!({ "script": script, "args": args })).await
    }

    /// Polls `f` every 200 ms until it gives `Some`, for up to `secs` seconds.
    pub async fn wait_for<T, F, Fut>(&self, secs: u64, what: &str, mut f: F) -> Result<T, WdError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f().await {
                return Ok(v);
            }
            if Instant::now() > deadline {
                return Err(WdError { status: 0, error: "timeout".into(), message: format!("waited {secs} s for {what}") });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits for an element to be present.
    pub async fn wait_find(&self, secs: u64, by: By) -> Result<Element<'_>, WdError> {
        let what = format!("{by:?}");
        self.wait_for(secs, &what, || {
            let by = by.clone();
            async move { self.find(by).await.ok() }
        })
        .await
    }

    /// Waits until the body text contains `needle`.
    pub async fn wait_text(&self, secs: u64, needle: &str) -> Result<String, WdError> {
        self.wait_for(secs, &format!("text {needle:?}"), || async {
            self.body_text().await.ok().filter(|t| t.contains(needle))
        })
        .await
    }

    /// A PNG of the viewport.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>, WdError> {
        use base64::Engine;
        let v = self.get("/screenshot").await?;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| WdError { status: 0, error: "decode".into(), message: e.to_string() })
    }

    /// Saves a screenshot as `{name}.png` in the shots dir; returns its path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf, WdError> {
        let png = self.screenshot_png().await?;
        let path = self.shots_dir.join(format!("{name}.png"));
        std::fs::create_dir_all(&self.shots_dir).ok();
        std::fs::write(&path, png).map_err(|e| WdError { status: 0, error: "io".into(), message: e.to_string() })?;
        Ok(path)
    }

    /// A blocking request to chromedriver for use in `Drop` (no runtime there).
    fn blocking(&self, method: &str, path: &str, body: &str) -> Option<Value> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
        let req = format!(
            "{method} /session/{}{path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.session,
            self.port,
            body.len()
        );
        s.write_all(req.as_bytes()).ok()?;
        // Read the headers, then exactly Content-Length bytes (chromedriver may keep the
        // connection open).
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        let mut want: Option<usize> = None;
        loop {
            if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
                if want.is_none() {
                    let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
                    let len = head.lines().find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().ok()))?;
                    want = Some(end + 4 + len?);
                }
                if want.is_some_and(|w| out.len() >= w) {
                    let body = &out[end + 4..want.unwrap()];
                    return serde_json::from_slice::<Value>(body).ok();
                }
            }
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    }
}

fn element_id(v: &Value) -> String {
    v[ELEMENT_KEY].as_str().unwrap_or_default().to_string()
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            if std::thread::panicking() {
                use base64::Engine;
                let _ = std::fs::create_dir_all(&self.shots_dir);
                let stamp = chrono::Utc::now().format("%H%M%S");
                if let Some(v) = self.blocking("GET", "/screenshot", "") {
                    if let Ok(png) = base64::engine::general_purpose::STANDARD.decode(v["value"].as_str().unwrap_or_default()) {
                        let path = self.shots_dir.join(format!("failure-{stamp}.png"));
                        if std::fs::write(&path, png).is_ok() {
                            eprintln!("browser: screenshot at the failure: {}", path.display());
                        }
                    }
                }
                if let Some(v) = self.blocking("GET", "/source", "") {
                    let path = self.shots_dir.join(format!("failure-{stamp}.html"));
                    if std::fs::write(&path, v["value"].as_str().unwrap_or_default()).is_ok() {
                        eprintln!("browser: page DOM at the failure: {}", path.display());
                    }
                }
                if let Some(v) = self.blocking("GET", "/url", "") {
                    eprintln!("browser: URL at the failure: {}", v["value"].as_str().unwrap_or_default());
                }
                // Keep the pictures for the person reading the failure.
                if let Some(t) = self._shots_tmp.take() {
                    let _ = t.keep();
                }
            }
            let _ = self.blocking("DELETE", "", "");
        }
        let pgid = self.child.id();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The browser processes chromedriver started are in its process group.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).stderr(Stdio::null()).status();
    }
}

impl<'a> Element<'a> {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// The element as a script argument.
    pub fn arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    /// Scrolls it into view and clicks it with the mouse.
    pub async fn click(&self) -> Result<(), WdError> {
        let _ = self.browser.execute("arguments[0].scrollIntoView({block:'center'})", vec![self.arg()]).await;
        self.browser.post(&self.path("/click"), json!({})).await.map(|_| ())
    }

    /// Types `text` with the keyboard into it.
    pub async fn send_keys(&self, text: &str) -> Result<(), WdError> {
        self.browser.post(&self.path("/value"), json!({ "text": text })).await.map(|_| ())
    }

    pub async fn clear(&self) -> Result<(), WdError> {
        self.browser.post(&self.path("/clear"), json!({})).await.map(|_| ())
    }

    /// Its rendered (visible) text.
    pub async fn text(&self) -> Result<String, WdError> {
        Ok(self.browser.get(&self.path("/text")).await?.as_str().unwrap_or_default().to_string())
    }

    pub async fn attribute(&self, name: &str) -> Result<Option<String>, WdError> {
        Ok(self.browser.get(&self.path(&format!("/attribute/{name}"))).await?.as_str().map(String::from))
    }

    pub async fn property(&self, name: &str) -> Result<Value, WdError> {
        self.browser.get(&self.path(&format!("/property/{name}"))).await
    }

    pub async fn is_selected(&self) -> Result<bool, WdError> {
        Ok(self.browser.get(&self.path("/selected")).await?.as_bool().unwrap_or(false))
    }

    pub async fn is_displayed(&self) -> Result<bool, WdError> {
        Ok(self.browser.get(&self.path("/displayed")).await?.as_bool().unwrap_or(false))
    }

    pub async fn tag_name(&self) -> Result<String, WdError> {
        Ok(self.browser.get(&self.path("/name")).await?.as_str().unwrap_or_default().to_string())
    }

    /// A descendant of this element.
    pub async fn find(&self, by: By) -> Result<Element<'a>, WdError> {
        let v = self.browser.post(&self.path("/element"), by.wire()).await?;
        Ok(Element { browser: self.browser, id: element_id(&v) })
    }

    pub async fn find_all(&self, by: By) -> Result<Vec<Element<'a>>, WdError> {
        let v = self.browser.post(&self.path("/elements"), by.wire()).await?;
        Ok(v.as_array().into_iter().flatten().map(|e| Element { browser: self.browser, id: element_id(e) }).collect())
    }
}
