//! Who may see and do what: another user's apps stay out of sight, forms without their CSRF
//! token are refused, cookies are locked down, and a signed-out session is refused.

use anyhow::Result;
use paas_testkit::Platform;

use crate::browser::Browser;
use crate::support::{create_user, location, ok, Dash};

fn admin_or_missing(status: u16) -> bool {
    status == 403 || status == 404
}

/// The API's view of an app's config, as the admin.
fn config_of(p: &Platform, app: &str) -> serde_json::Value {
    let (status, body) = p
        .api(
            "GET",
            &format!("/apps/{app}/config-vars"),
            p.token.as_deref(),
            None,
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn app_exists(p: &Platform, app: &str) -> bool {
    let (status, _) = p
        .api("GET", &format!("/apps/{app}"), p.token.as_deref(), None)
        .unwrap();
    status == 200
}

/// An admin with `adminapp`, and `bob` (not an admin) with `bobapp`.
fn two_users() -> Platform {
    let mut p = Platform::start().expect("paasd starts");
    p.register_admin().expect("register admin");
    ok(&p, p.paas(&["apps:create", "adminapp"]));
    create_user(&p, "bob", "bob-password");
    let (_, login) = p
        .api(
            "POST",
            "/auth/login",
            None,
            Some(serde_json::json!({"username": "bob", "password": "bob-password"})),
        )
        .unwrap();
    let bob = login["token"].as_str().expect("bob's token").to_string();
    ok(&p, p.paas_as(Some(&bob), &["apps:create", "bobapp"]));
    p
}

#[test]
fn sessions_cookies_and_csrf_over_http() -> Result<()> {
    let p = two_users();
    let mut bob = Dash::new(&p);

    let res = bob.get("/dashboard/apps")?;
    assert_eq!(res.status(), 303, "signed out");
    assert_eq!(location(&res), "/dashboard/login");

    // A sign-in posted without the form's own token (from another site, say) is refused.
    let res = bob.post(
        "/dashboard/login",
        &[("username", "bob"), ("password", "bob-password")],
    )?;
    assert_eq!(res.status(), 403);

    let cookie = bob.sign_in("bob", "bob-password")?;
    for attr in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/dashboard",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");

    let res = bob.get("/dashboard/apps")?;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()?
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let page = res.text()?;
    assert!(page.contains("bobapp"), "own app listed");
    assert!(!page.contains("adminapp"), "another user's app not listed");

    // Another user's app: every page and form is refused, and nothing changes.
    for path in ["/dashboard/apps/adminapp", "/dashboard/apps/adminapp/logs"] {
        let status = bob.get(path)?.status().as_u16();
        assert!(admin_or_missing(status), "{path}: {status}");
    }
    let csrf = bob.csrf().to_string();
    let res = bob.post(
        "/dashboard/apps/adminapp/config",
        &[("csrf", &csrf), ("key", "STOLEN"), ("value", "1")],
    )?;
    assert!(admin_or_missing(res.status().as_u16()), "{}", res.status());
    let res = bob.post(
        "/dashboard/apps/adminapp/destroy",
        &[("csrf", &csrf), ("confirm", "adminapp")],
    )?;
    assert!(admin_or_missing(res.status().as_u16()), "{}", res.status());
    assert_eq!(config_of(&p, "adminapp"), serde_json::json!({}));
    assert!(app_exists(&p, "adminapp"));

    // Forms without the session's CSRF token are refused; with it, the same form works.
    let res = bob.post("/dashboard/apps", &[("name", "forged")])?;
    assert_eq!(res.status(), 403);
    assert!(res.text()?.contains("security token"));
    let res = bob.post(
        "/dashboard/apps",
        &[("csrf", "0".repeat(64).as_str()), ("name", "forged")],
    )?;
    assert_eq!(res.status(), 403);
    assert!(!app_exists(&p, "forged"));
    let res = bob.post("/dashboard/apps", &[("csrf", &csrf), ("name", "bobapp2")])?;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/dashboard/apps/bobapp2");
    assert!(app_exists(&p, "bobapp2"));

    // Unknown pages are a plain 404 page, not the API's JSON.
    let res = bob.get("/dashboard/no/such/page")?;
    assert_eq!(res.status(), 404);
    assert!(res.text()?.contains("There is no such page"));

    // Signed out, the old cookie is worth nothing.
    let res = bob.post("/dashboard/logout", &[("csrf", &csrf)])?;
    assert_eq!(res.status(), 303);
    let res = bob.get("/dashboard/apps")?;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/dashboard/login");
    let res = bob.post(
        "/dashboard/apps",
        &[("csrf", &csrf), ("name", "afterwards")],
    )?;
    assert_eq!(location(&res), "/dashboard/login");
    assert!(!app_exists(&p, "afterwards"));
    Ok(())
}

#[test]
fn over_https_cookies_are_secure_and_the_dashboard_works_in_the_browser() -> Result<()> {
    let mut p = Platform::start_tls(&[]).expect("paasd starts with TLS");
    p.register_admin()?;
    ok(&p, p.paas(&["apps:create", "tlsapp"]));
    assert!(p.api_url.starts_with("https://"), "{}", p.api_url);

    let mut admin = Dash::new(&p);
    let cookie = admin.sign_in("admin", "admin-password")?;
    assert!(cookie.contains("; Secure"), "over https: {cookie}");
    let page = admin.get("/dashboard/apps")?.text()?;
    assert!(page.contains("tlsapp"), "{page}");

    // The browser gets through the platform's self-signed certificate only because this test
    // tells it to; the pages, forms and their API calls (over paasd's loopback listener) work.
    let b = Browser::start_with(&p.api_url, &["--ignore-certificate-errors"])?;
    b.sign_in("admin", "admin-password")?;
    b.wait_for(".app-card[data-app='tlsapp']")?;
    b.fill("new-app", "overtls")?;
    b.click("#create button[type=submit]")?;
    b.wait_for_text(".flash", "overtls")?;
    assert!(app_exists(&p, "overtls"));
    Ok(())
}

#[test]
fn a_sign_in_outlives_a_restart_of_paasd() -> Result<()> {
    let mut p = two_users();
    let mut bob = Dash::new(&p);
    bob.sign_in("bob", "bob-password")?;
    assert_eq!(bob.get("/dashboard/apps")?.status(), 200);

    p.restart()?;
    let res = bob.get("/dashboard/apps")?;
    assert_eq!(res.status(), 200, "still signed in after the restart");
    assert!(res.text()?.contains("bobapp"));
    // The session's CSRF token came back with it.
    let csrf = bob.csrf().to_string();
    let res = bob.post(
        "/dashboard/apps",
        &[("csrf", &csrf), ("name", "afterrestart")],
    )?;
    assert_eq!(res.status(), 303);
    assert!(app_exists(&p, "afterrestart"));

    // Signing out is remembered too.
    bob.post("/dashboard/logout", &[("csrf", &csrf)])?;
    p.restart()?;
    assert_eq!(bob.get("/dashboard/apps")?.status(), 303);
    Ok(())
}

#[test]
fn another_users_app_and_a_forged_form_in_the_browser() -> Result<()> {
    let p = two_users();
    let b = Browser::start(&p.api_url)?;
    b.sign_in("bob", "bob-password")?;
    b.wait_for(".app-card[data-app='bobapp']")?;
    assert!(b.find_all(".app-card[data-app='adminapp']")?.is_empty());

    b.goto("/dashboard/apps/adminapp")?;
    let status = b.wait_for(".error-page")?;
    let status = b.block(status.attr("data-status"))?.unwrap_or_default();
    assert!(admin_or_missing(status.parse()?), "{status}");
    assert!(b
        .find_all("form[action^='/dashboard/apps/adminapp']")?
        .is_empty());

    // The API's refusal of bad input, in plain words, and nothing created.
    b.goto("/dashboard/apps")?;
    b.fill("new-app", "Bad_Name")?;
    b.click("#create button[type=submit]")?;
    let message = b.wait_for_text(".flash.error", "Bad_Name")?;
    assert!(message.starts_with("Invalid app name"), "{message}");

    // The same form with its CSRF token taken out is refused.
    b.fill("new-app", "forged")?;
    b.execute("document.querySelector('#create input[name=csrf]').remove(); return null")?;
    b.click("#create button[type=submit]")?;
    let page = b.wait_for(".error-page[data-status='403']")?;
    assert!(b.block(page.text())?.contains("security token"));
    assert!(!app_exists(&p, "forged"));
    Ok(())
}
