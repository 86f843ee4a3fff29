//! A real headless Chromium driven through chromedriver (WebDriver), with explicit waits for
//! what a page must show instead of sleeps.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::runtime::Runtime;

/// How long a page has to show what a test waits for (deploys behind a form included).
pub const WAIT: Duration = Duration::from_secs(60);

/// Chromium's flags: headless, no sandbox (tests run as root), and none of its background
/// connections, which this machine's closed network refuses.
const CHROMIUM_ARGS: [&str; 11] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
];

pub const DESKTOP: (u32, u32) = (1280, 800);
pub const PHONE: (u32, u32) = (390, 844);

pub struct Browser {
    rt: Runtime,
    client: Option<Client>,
    driver: Child,
    profile: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`, the API listener the dashboard is on.
    pub base: String,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Browser {
    /// Starts chromedriver on a free port and a fresh Chromium profile.
    pub fn start(base: &str) -> Result<Browser> {
        Browser::start_with(base, &[])
    }

    /// Like [`Browser::start`], with Chromium flags of the test's own.
    pub fn start_with(base: &str, extra_args: &[&str]) -> Result<Browser> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let port = free_port()?;
        let profile = tempfile::tempdir()?;
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver (deploy/test.sh installs chromium-driver)")?;
        let mut browser = Browser {
            rt,
            client: None,
            driver,
            profile,
            base: base.trim_end_matches('/').to_string(),
        };
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!(
            "--user-data-dir={}",
            browser.profile.path().display()
        ));
        args.push(format!("--window-size={},{}", DESKTOP.0, DESKTOP.1));
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": chromium_binary(), "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        // chromedriver takes a moment to listen; the session request is the readiness check.
        let client = loop {
            let attempt = browser.rt.block_on(
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps.clone())
                    .connect(&url),
            );
            match attempt {
                Ok(c) => break c,
                Err(e) if start.elapsed() > Duration::from_secs(30) => {
                    bail!("no WebDriver session from chromedriver at {url}: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        browser.client = Some(client);
        Ok(browser)
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("client until drop")
    }

    pub fn block<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    pub fn goto(&self, path: &str) -> Result<()> {
        Ok(self.block(self.client().goto(&format!("{}{path}", self.base)))?)
    }

    pub fn path(&self) -> Result<String> {
        Ok(self.block(self.client().current_url())?.path().to_string())
    }

    pub fn find(&self, css: &str) -> Result<Element> {
        self.block(self.client().find(Locator::Css(css)))
            .with_context(|| format!("no element {css:?} on {:?}", self.path()))
    }

    pub fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        Ok(self.block(self.client().find_all(Locator::Css(css)))?)
    }

    pub fn text(&self, css: &str) -> Result<String> {
        let e = self.find(css)?;
        Ok(self.block(e.text())?)
    }

    /// Waits until `check` passes; on timeout, says what the page showed.
    pub fn wait_until<T>(
        &self,
        what: &str,
        mut check: impl FnMut(&Browser) -> Result<Option<T>>,
    ) -> Result<T> {
        let start = Instant::now();
        let mut last_error = String::new();
        loop {
            match check(self) {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) => last_error = format!("{e:#}"),
            }
            if start.elapsed() > WAIT {
                let text = self.text("body").unwrap_or_default();
                bail!(
                    "the page never showed {what} (last error: {last_error})\n--- page at {:?} ---\n{text}",
                    self.path()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for an element matching `css` whose text contains `needle`.
    pub fn wait_for_text(&self, css: &str, needle: &str) -> Result<String> {
        self.wait_until(&format!("{css:?} containing {needle:?}"), |b| {
            for e in b.find_all(css)? {
                let text = b.block(e.text())?;
                if text.contains(needle) {
                    return Ok(Some(text));
                }
            }
            Ok(None)
        })
    }

    pub fn wait_for(&self, css: &str) -> Result<Element> {
        self.wait_until(&format!("{css:?}"), |b| {
            Ok(b.find_all(css)?.into_iter().next())
        })
    }

    /// Types into the field with this id, replacing what it held.
    pub fn fill(&self, id: &str, text: &str) -> Result<()> {
        let e = self.find(&format!("#{id}"))?;
        self.block(e.clear())?;
        Ok(self.block(e.send_keys(text))?)
    }

    pub fn click(&self, css: &str) -> Result<()> {
        let e = self.find(css)?;
        Ok(self.block(e.click())?)
    }

    pub fn execute(&self, script: &str) -> Result<serde_json::Value> {
        Ok(self.block(self.client().execute(script, vec![]))?)
    }

    /// Makes the page's viewport `width` x `height` (the window is larger by its frame).
    pub fn set_size(&self, (width, height): (u32, u32)) -> Result<()> {
        self.block(self.client().set_window_size(width, height))?;
        let inner = self.execute("return [window.innerWidth, window.innerHeight]")?;
        let (w, h) = (
            inner[0].as_u64().unwrap_or(0),
            inner[1].as_u64().unwrap_or(0),
        );
        let extra_w = (width as u64).saturating_sub(w) as u32;
        let extra_h = (height as u64).saturating_sub(h) as u32;
        if extra_w > 0 || extra_h > 0 {
            self.block(
                self.client()
                    .set_window_size(width + extra_w, height + extra_h),
            )?;
        }
        Ok(())
    }

    pub fn scroll_to_top(&self) -> Result<()> {
        self.execute("window.scrollTo(0, 0); return null")?;
        Ok(())
    }

    /// Scrolls so that the element matching `css` is at the top of the window.
    pub fn scroll_to(&self, css: &str) -> Result<()> {
        let script = format!(
            "document.querySelector({}).scrollIntoView(); return null",
            serde_json::to_string(css)?
        );
        self.execute(&script)?;
        Ok(())
    }

    /// Saves what the window shows as test-artifacts/dashboard/NAME.png.
    pub fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let png = self.block(self.client().screenshot())?;
        let dir = paas_testkit::repo_dir().join("test-artifacts/dashboard");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    pub fn sign_in(&self, username: &str, password: &str) -> Result<()> {
        self.goto("/dashboard/login")?;
        self.wait_for("#username")?;
        self.fill("username", username)?;
        self.fill("password", password)?;
        self.click("form[action='/dashboard/login'] button[type=submit]")
    }
}

fn chromium_binary() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("chromium")
}

/// Chromium's processes started with this profile (so only this test's own), when the
/// session could not be closed properly.
fn kill_chromium_of(profile: &std::path::Path) {
    let marker = format!("--user-data-dir={}", profile.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&marker) {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let mut closed = false;
        if let Some(client) = self.client.take() {
            // The timer must be made inside the runtime.
            closed = self
                .rt
                .block_on(async {
                    tokio::time::timeout(Duration::from_secs(10), client.close()).await
                })
                .is_ok_and(|r| r.is_ok());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        if !closed {
            kill_chromium_of(self.profile.path());
        }
    }
}
