//! Headless Chromium for the dashboard's tests, driven over W3C WebDriver
//! (Debian's chromedriver): a session, its few commands, axe-core injected
//! into a page, and screenshots into `target/screenshots/`. The protocol is
//! JSON over HTTP, so the tests' own HTTP client speaks it.
#![allow(dead_code, clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use serde_json::{json, Value};

/// The browser's parts from `scripts/browser up`, or `None` after printing
/// the skip line (a failure under `CI=true`).
pub fn parts() -> Option<(String, String, String)> {
    let chromium = shipcore::testing::testbed("SHIPCORE_CHROMIUM")?;
    let driver = shipcore::testing::testbed("SHIPCORE_CHROMEDRIVER")?;
    let axe = shipcore::testing::testbed("SHIPCORE_AXE")?;
    Some((chromium, driver, axe))
}

/// The W3C key of the Enter key, for `send_keys`.
pub const ENTER: &str = "\u{E007}";

/// A chromedriver process and one browser session in it.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: Client<HttpConnector, Full<Bytes>>,
    axe: String,
    /// Where screenshots go.
    pub shots: std::path::PathBuf,
}

/// An element of the page, by its WebDriver reference.
#[derive(Debug, Clone)]
pub struct Element(String);

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session
    /// at desktop size.
    pub async fn start(chromium: &str, chromedriver: &str, axe: &str) -> Browser {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let client = super::http::client();
        let profile = tempfile::tempdir().unwrap().keep();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // As the machine's notes say: without the background
                // networking flags Chromium keeps reaching for Google's
                // hosts, which this closed network refuses.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let started = Instant::now();
        let session = loop {
            match raw(&client, "POST", &format!("{base}/session"), Some(&caps)).await {
                Ok(v) if v["value"]["sessionId"].is_string() => {
                    break v["value"]["sessionId"].as_str().unwrap().to_string()
                }
                Ok(v) if started.elapsed() > Duration::from_secs(30) => {
                    panic!("no browser session: {v}")
                }
                Err(e) if started.elapsed() > Duration::from_secs(30) => {
                    panic!("chromedriver does not answer: {e}")
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            driver,
            base,
            session,
            client,
            axe: std::fs::read_to_string(axe).expect("axe-core's script is readable"),
            shots,
        }
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let body = body.or_else(|| (method == "POST").then(|| json!({})));
        let v = raw(&self.client, method, &url, body.as_ref())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if v["value"]["error"].is_string() {
            panic!("{method} {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Runs a script in the page (its `return` is the answer).
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// The elements `css` matches now.
    pub async fn all(&self, css: &str) -> Vec<Element> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| Element(e[ELEMENT].as_str().unwrap().to_string()))
            .collect()
    }

    /// Waits (up to `limit`) until `css` matches an element whose text
    /// contains `text`, and returns it.
    pub async fn wait_text(&self, css: &str, text: &str, limit: Duration) -> Element {
        let started = Instant::now();
        loop {
            for e in self.all(css).await {
                if self.text(&e).await.contains(text) {
                    return e;
                }
            }
            if started.elapsed() > limit {
                let body = self.js("return document.body.innerText", json!([])).await;
                panic!(
                    "no {css} with {text:?} after {limit:?} on {}; the page says:\n{}",
                    self.url().await,
                    body.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element `css` matches.
    pub async fn wait(&self, css: &str) -> Element {
        self.wait_text(css, "", Duration::from_secs(15)).await
    }

    pub async fn text(&self, e: &Element) -> String {
        // An element the page replaced meanwhile reads as empty.
        let url = format!(
            "{}/session/{}/element/{}/text",
            self.base, self.session, e.0
        );
        let v = raw(&self.client, "GET", &url, None).await.unwrap();
        v["value"].as_str().unwrap_or_default().to_string()
    }

    pub async fn click(&self, e: &Element) {
        self.cmd("POST", &format!("/element/{}/click", e.0), None)
            .await;
    }

    /// Clears a field and types `text` into it.
    pub async fn fill(&self, e: &Element, text: &str) {
        self.cmd("POST", &format!("/element/{}/clear", e.0), None)
            .await;
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Clears a field and types `text` into it; the WebDriver error when
    /// the element went away or cannot be typed into (a page that redrew).
    pub async fn try_fill(&self, e: &Element, text: &str) -> Result<(), String> {
        for (path, body) in [
            (format!("/element/{}/clear", e.0), json!({})),
            (format!("/element/{}/value", e.0), json!({ "text": text })),
        ] {
            let url = format!("{}/session/{}{path}", self.base, self.session);
            let v = raw(&self.client, "POST", &url, Some(&body)).await?;
            if v["value"]["error"].is_string() {
                return Err(v["value"]["error"].to_string());
            }
        }
        Ok(())
    }

    /// Clicks the element `css` matches whose text holds `text`, found
    /// again when the page redrew it between finding and clicking.
    pub async fn click_text(&self, css: &str, text: &str) {
        let started = Instant::now();
        loop {
            let e = self.wait_text(css, text, Duration::from_secs(20)).await;
            let url = format!(
                "{}/session/{}/element/{}/click",
                self.base, self.session, e.0
            );
            let v = raw(&self.client, "POST", &url, Some(&json!({}))).await;
            match v {
                Ok(v) if !v["value"]["error"].is_string() => return,
                Ok(v) if started.elapsed() > Duration::from_secs(20) => {
                    panic!("click {css} {text:?}: {}", v["value"])
                }
                Err(e) if started.elapsed() > Duration::from_secs(20) => {
                    panic!("click {css} {text:?}: {e}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The element a script returns.
    pub async fn js_element(&self, script: &str, args: Value) -> Option<Element> {
        let v = self.js(script, args).await;
        v[ELEMENT].as_str().map(|id| Element(id.to_string()))
    }

    /// Types into the element that has the focus now.
    pub async fn type_keys(&self, e: &Element, text: &str) {
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// The browser's cookies (HttpOnly ones too: WebDriver sees them).
    pub async fn cookies(&self) -> Vec<Value> {
        self.cmd("GET", "/cookie", None)
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// Sets the window's size.
    pub async fn size(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Opens a new tab and returns its handle (the current one stays).
    pub async fn new_tab(&self) -> String {
        let v = self
            .cmd("POST", "/window/new", Some(json!({"type": "tab"})))
            .await;
        v["handle"].as_str().unwrap().to_string()
    }

    pub async fn tab(&self) -> String {
        self.cmd("GET", "/window", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn switch(&self, handle: &str) {
        self.cmd("POST", "/window", Some(json!({ "handle": handle })))
            .await;
    }

    /// Saves a screenshot as `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) {
        use base64::Engine as _;
        let v = self.cmd("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Screenshots of the page at desktop and at phone width, where the
    /// page must fit the screen's width (wide tables scroll in their own
    /// box, the page does not).
    pub async fn screenshots(&self, name: &str) {
        self.screenshot(&format!("{name}-desktop")).await;
        self.size(390, 844).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.screenshot(&format!("{name}-phone")).await;
        let over = self
            .js(
                "const d = document.documentElement; return d.scrollWidth - d.clientWidth;",
                json!([]),
            )
            .await;
        assert!(
            over.as_i64().unwrap_or(0) <= 1,
            "{name} is {over} px wider than a phone's screen"
        );
        self.size(1280, 900).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// Runs axe-core on the page; fails naming every serious or critical
    /// violation.
    pub async fn accessible(&self, what: &str) {
        self.js(&format!("{};return true;", self.axe), json!([]))
            .await;
        let v = self
            .cmd(
                "POST",
                "/execute/async",
                Some(json!({"script": "const done = arguments[arguments.length - 1];
                    axe.run(document, {resultTypes: ['violations']})
                      .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                        .map(v => ({id: v.id, impact: v.impact, help: v.help,
                                    nodes: v.nodes.slice(0, 3).map(n => n.html)}))))
                      .catch(e => done([{id: 'axe-failed', help: String(e)}]));",
                    "args": []})),
            )
            .await;
        let found = v.as_array().unwrap();
        assert!(
            found.is_empty(),
            "axe-core finds serious or critical violations on {what}: {}",
            serde_json::to_string_pretty(&v).unwrap()
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn raw(
    client: &Client<HttpConnector, Full<Bytes>>,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let req = axum::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .unwrap();
    let res = tokio::time::timeout(Duration::from_secs(60), client.request(req))
        .await
        .map_err(|_| "no answer in 60 s".to_string())?
        .map_err(|e| e.to_string())?;
    let bytes = res
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&bytes)))
}
