//! What a user does in the dashboard, in a real Chromium against a real paasd with the example
//! app deployed: sign in, scale, config, rollback, live logs, sign out.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

use crate::browser::{Browser, DESKTOP, PHONE};
use crate::support::{deployed, served_containing};

/// Shows a value that would run as a script if it were not escaped.
const SCRIPT_VALUE: &str = "<script>document.title='owned'</script><b>bold</b>";

/// Screenshots at desktop and phone width, from the top of the page or from the element
/// matching `from`.
fn shots(b: &Browser, name: &str, from: Option<&str>) -> Result<()> {
    for (size, suffix) in [(DESKTOP, "desktop"), (PHONE, "phone")] {
        b.set_size(size)?;
        match from {
            Some(css) => b.scroll_to(css)?,
            None => b.scroll_to_top()?,
        }
        b.screenshot(&format!("{name}-{suffix}"))?;
    }
    b.set_size(DESKTOP)
}

fn nonce() -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("probe{n:x}")
}

/// Requests `/?probe=NONCE` through the router until the page's log shows that request's line
/// (the stream may attach to the processes a moment after it opens, so the first requests'
/// lines can come before it).
fn wait_for_logged_request(b: &Browser, p: &paas_testkit::Platform, app: &str) -> Result<String> {
    let probe = nonce();
    let host = format!("{app}.localhost");
    b.wait_until("a log line for a request made after the page opened", |b| {
        let _ = p.get_via_router(&host, &format!("/?probe={probe}"));
        for line in b.find_all("#log .line")? {
            let text = b.block(line.text())?;
            if text.contains(&probe) {
                return Ok(Some(text));
            }
        }
        Ok(None)
    })
}

#[test]
fn a_user_runs_an_app_from_the_browser() -> Result<()> {
    let p = deployed("dash");
    let host = "dash.localhost";
    let b = Browser::start(&p.api_url)?;

    // Signed out, every page leads to the sign-in form.
    b.goto("/dashboard/apps")?;
    b.wait_for("#username")?;
    assert_eq!(b.path()?, "/dashboard/login");
    shots(&b, "login", None)?;
    b.sign_in("admin", "wrong-password")?;
    b.wait_for_text("#login-error", "Wrong username or password")?;

    b.sign_in("admin", "admin-password")?;
    let card = b.wait_for_text(".app-card[data-app='dash']", "dash")?;
    assert!(card.contains("v1"), "current release shown: {card}");
    assert!(card.contains("1 up"), "processes shown: {card}");
    assert!(card.contains("dash.localhost"), "URL shown: {card}");
    shots(&b, "apps", None)?;

    b.click(".app-card[data-app='dash'] h2 a")?;
    b.wait_for_text("#current-release", "v1")?;
    assert_eq!(b.path()?, "/dashboard/apps/dash");
    let git_url = b
        .block(b.find("#git-url")?.prop("value"))?
        .unwrap_or_default();
    assert!(
        git_url.ends_with("/dash.git"),
        "git remote shown: {git_url}"
    );

    // Scale web 1 -> 2 and see two processes up.
    b.fill("scale-web", "2")?;
    b.click(".ptype[data-type='web'] form.scale button")?;
    b.wait_for_text("#flash", "Scaled web to 2")?;
    b.wait_until("two web processes up", |b| {
        b.block(b.client().refresh())?;
        let up = b.find_all(".ptype[data-type='web'] tr.dyno[data-state='up']")?;
        Ok((up.len() == 2).then_some(()))
    })?;
    let names: Vec<String> = b
        .find_all("tr.dyno")?
        .iter()
        .map(|r| b.block(r.attr("data-dyno")).unwrap().unwrap_or_default())
        .collect();
    assert_eq!(names, ["web.1", "web.2"]);

    // A config var makes release v2; a value with markup shows as text and never runs.
    b.fill("config-key", "GREETING")?;
    b.fill("config-value", SCRIPT_VALUE)?;
    b.click(".add-config button")?;
    b.wait_for_text("#flash", "Set GREETING")?;
    let v2 = b.wait_for_text(".release-row[data-version='2'][data-current='true']", "v2")?;
    assert!(v2.contains("Set GREETING config vars"), "{v2}");
    b.click(".config-var[data-key='GREETING'] summary")?;
    assert_eq!(
        b.text(".config-var[data-key='GREETING'] pre.value")?,
        SCRIPT_VALUE
    );
    assert_eq!(b.execute("return document.title")?, "dash · paas");
    assert_eq!(
        b.execute("return document.querySelectorAll('main script, main b').length")?,
        0
    );
    served_containing(&p, host, "/", "greeting=<script>");
    shots(&b, "app", None)?;
    shots(&b, "app-config", Some("#config"))?;

    // Roll back to v1: v3 runs v1's build and config.
    b.click("button[aria-label='Roll back to v1']")?;
    b.wait_for_text("#flash", "Rolled back to v1")?;
    let v3 = b.wait_for_text(".release-row[data-version='3'][data-current='true']", "v3")?;
    assert!(v3.to_lowercase().contains("rollback"), "{v3}");
    served_containing(&p, host, "/", "release=v3 greeting= app=dash");

    // The build's output, from the builds list.
    b.click(".build-output-link")?;
    let output = b.wait_for_text("#build-output", "FROM paas/busybox")?;
    assert!(output.contains("Successfully built"), "{output}");
    assert_eq!(b.text("#build-status")?, "succeeded");
    shots(&b, "build", None)?;

    // Live logs: a request made while the page is open shows up in it.
    b.goto("/dashboard/apps/dash/logs")?;
    b.wait_for("#log-status[data-state='live']")?;
    let line = wait_for_logged_request(&b, &p, "dash")?;
    assert!(line.contains("web."), "the line names its process: {line}");
    shots(&b, "logs", None)?;

    // Filtered to web.1, lines of web.2 stay out.
    b.goto("/dashboard/apps/dash/logs?source=app&ps=web.1")?;
    b.wait_for("#log-status[data-state='live']")?;
    let selected = b.block(b.find("#ps")?.prop("value"))?;
    assert_eq!(selected.as_deref(), Some("web.1"));
    let line = wait_for_logged_request(&b, &p, "dash")?;
    assert!(line.contains("web.1"), "{line}");
    for l in b.find_all("#log .line")? {
        let text = b.block(l.text())?;
        assert!(!text.contains("web.2"), "filtered out: {text}");
    }

    // Signed out, the app's page is refused until the user signs in again.
    b.goto("/dashboard/apps/dash")?;
    b.click("form.signout button")?;
    b.wait_for_text(".flash.notice", "You are signed out")?;
    b.goto("/dashboard/apps/dash")?;
    b.wait_for("#username")?;
    assert_eq!(b.path()?, "/dashboard/login");
    Ok(())
}
