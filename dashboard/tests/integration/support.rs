//! The platform side of the tests (a real paasd with a deployed app) and a plain HTTP client
//! that signs in to the dashboard like a browser, to check status codes and headers.

use std::process::Output;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use paas_testkit::{copy_example, eventually, git, Platform};
use reqwest::blocking::{Client, Response};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

#[track_caller]
pub fn ok(p: &Platform, out: Output) -> String {
    p.ok(out)
}

/// A platform with an admin and the example app deployed as `name` (v1 running).
pub fn deployed(name: &str) -> Platform {
    let mut p = Platform::start().expect("paasd starts");
    p.register_admin().expect("register admin");
    ok(&p, p.paas(&["apps:create", name]));
    let checkout = copy_example("hello-docker").expect("example checkout");
    ok(
        &p,
        p.paas_in(
            p.token.as_deref(),
            &["git:remote", "-a", name],
            checkout.path(),
        ),
    );
    ok(&p, git(checkout.path(), &["push", "platform", "master"]));
    served_containing(&p, &format!("{name}.localhost"), "/", "hello from web.1");
    p
}

/// Waits until the app answers `path` through the router with `needle` in the body.
pub fn served_containing(p: &Platform, host: &str, path: &str, needle: &str) -> String {
    eventually(Duration::from_secs(60), || {
        match p.get_via_router(host, path) {
            Ok((200, body)) if body.contains(needle) => Ok(body),
            _ => Err(None),
        }
    })
    .unwrap_or_else(|e| {
        panic!(
            "{host}{path} never answered with {needle:?}: {e}; last: {:?}\n--- paasd log ---\n{}",
            p.get_via_router(host, path),
            p.log()
        )
    })
}

/// Creates a (non-admin) user with the admin's token.
pub fn create_user(p: &Platform, name: &str, password: &str) {
    let (status, body) = p
        .api(
            "POST",
            "/users",
            p.token.as_deref(),
            Some(serde_json::json!({"username": name, "password": password})),
        )
        .unwrap();
    assert_eq!(status, 201, "create user: {body}");
}

/// The dashboard over plain HTTP, redirects not followed, the session cookie kept by hand.
pub struct Dash {
    pub base: String,
    http: Client,
    pub session: Option<String>,
    pub csrf: Option<String>,
}

/// `name=value` of the `Set-Cookie` header for `name`, and the whole header.
pub fn set_cookie(res: &Response, name: &str) -> Option<(String, String)> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let pair = v.split(';').next().unwrap_or_default().to_string();
            (pair, v.to_string())
        })
}

/// The value of the first `name="csrf"` hidden field in a page.
pub fn csrf_in(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(page[at..].split('"').next()?.to_string())
}

impl Dash {
    pub fn new(p: &Platform) -> Dash {
        let mut http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120));
        // A platform serving its API over TLS: trust its certificate.
        if let Some(ca) = &p.ca_file {
            let pem = std::fs::read(ca).expect("the platform's certificate");
            http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        Dash {
            base: p.api_url.clone(),
            http: http.build().unwrap(),
            session: None,
            csrf: None,
        }
    }

    fn with_cookie(
        &self,
        req: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.session {
            Some(c) => req.header(COOKIE, c),
            None => req,
        }
    }

    pub fn get(&self, path: &str) -> Result<Response> {
        let req = self.http.get(format!("{}{path}", self.base));
        Ok(self.with_cookie(req).send()?)
    }

    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Response> {
        let req = self.http.post(format!("{}{path}", self.base)).form(form);
        Ok(self.with_cookie(req).send()?)
    }

    /// Signs in through the sign-in form; returns the session's whole `Set-Cookie` header.
    pub fn sign_in(&mut self, username: &str, password: &str) -> Result<String> {
        let page = self.get("/dashboard/login")?;
        let (login_cookie, _) = set_cookie(&page, "paas_login_csrf").context("no login cookie")?;
        let token = csrf_in(&page.text()?).context("no csrf field on the sign-in form")?;
        let res = self
            .http
            .post(format!("{}/dashboard/login", self.base))
            .header(COOKIE, login_cookie)
            .form(&[
                ("csrf", token.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()?;
        if res.status() != 303 {
            bail!("sign-in answered {}: {}", res.status(), res.text()?);
        }
        let (pair, header) = set_cookie(&res, "paas_session").context("no session cookie")?;
        self.session = Some(pair);
        let apps = self.get("/dashboard/apps")?.text()?;
        self.csrf = Some(csrf_in(&apps).context("no csrf on the apps page")?);
        Ok(header)
    }

    pub fn csrf(&self) -> &str {
        self.csrf.as_deref().expect("signed in")
    }
}

/// Where a redirect goes.
pub fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
