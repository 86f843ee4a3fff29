//! Signing in and out.

use std::time::Duration;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::error::{DashboardError, PageResult};
use crate::extract::{parse_form, Post};
use crate::pages::see_other;
use crate::session::{cookie, random_token, same_token, set_cookie, LOGIN_COOKIE, SESSION_COOKIE};
use crate::Shared;

/// The sign-in form's token lives this long; a form left open longer is simply shown again.
const LOGIN_FORM_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    username: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    signed_out: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// The form, with a fresh token in both the form and a cookie: a sign-in posted from another
/// site (which cannot read the cookie) is refused.
fn login_form(
    state: &Shared,
    status: StatusCode,
    username: String,
    error: Option<String>,
    notice: Option<String>,
) -> PageResult<Response> {
    let csrf = random_token();
    let page = LoginPage {
        csrf: csrf.clone(),
        username,
        error,
        notice,
    };
    let cookie = set_cookie(
        LOGIN_COOKIE,
        &csrf,
        "/dashboard/login",
        LOGIN_FORM_LIFETIME,
        "Strict",
        state.config.secure_cookies,
    );
    Ok((status, [(header::SET_COOKIE, cookie)], Html(page.render()?)).into_response())
}

pub async fn login_page(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> PageResult<Response> {
    let signed_in = cookie(&headers, SESSION_COOKIE).and_then(|id| state.sessions.get(id));
    if signed_in.is_some() {
        return Ok(see_other("/dashboard/apps"));
    }
    let notice = q.signed_out.map(|_| "You are signed out.".to_string());
    login_form(&state, StatusCode::OK, String::new(), None, notice)
}

pub async fn login(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult<Response> {
    let form: LoginForm = parse_form(&body).await?;
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !same_token(&form.csrf, expected) {
        return Err(DashboardError::Csrf);
    }
    let username = form.username.trim().to_string();
    if username.is_empty() || form.password.is_empty() {
        let error = Some("Enter your username and password.".to_string());
        return login_form(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            username,
            error,
            None,
        );
    }
    let answer = match state.api.login(&username, &form.password).await {
        Ok(answer) => answer,
        Err(DashboardError::Api { status: 401, .. }) => {
            let error = Some("Wrong username or password.".to_string());
            return login_form(&state, StatusCode::UNAUTHORIZED, username, error, None);
        }
        Err(DashboardError::Api { status, message }) => {
            return login_form(
                &state,
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                username,
                Some(message),
                None,
            );
        }
        Err(other) => return Err(other),
    };
    let session = state
        .sessions
        .create(answer.token, answer.user.name, answer.user.admin);
    tracing::info!(user = %session.user, "dashboard sign-in");
    let secure = state.config.secure_cookies;
    let session_cookie = set_cookie(
        SESSION_COOKIE,
        &session.id,
        "/dashboard",
        state.sessions.lifetime(),
        "Lax",
        secure,
    );
    let spent = set_cookie(
        LOGIN_COOKIE,
        "",
        "/dashboard/login",
        Duration::ZERO,
        "Strict",
        secure,
    );
    let mut res = see_other("/dashboard/apps");
    let h = res.headers_mut();
    for c in [session_cookie, spent] {
        h.append(
            header::SET_COOKIE,
            c.parse().expect("cookie values are hex and fixed text"),
        );
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct Nothing {}

pub async fn logout(State(state): State<Shared>, post: Post<Nothing>) -> Response {
    state.sessions.remove(&post.session.id);
    tracing::info!(user = %post.session.user, "dashboard sign-out");
    let gone = set_cookie(
        SESSION_COOKIE,
        "",
        "/dashboard",
        Duration::ZERO,
        "Lax",
        state.config.secure_cookies,
    );
    let mut res = see_other("/dashboard/login?signed_out=1");
    res.headers_mut()
        .append(header::SET_COOKIE, gone.parse().expect("fixed cookie text"));
    res
}
