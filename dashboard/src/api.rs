//! The paas HTTP API as the dashboard calls it: the same endpoints and bearer tokens as the
//! CLI, so the API's authorization decides what a dashboard user may see and do.

use std::time::Duration;

use paas_api::metrics::{MetricsReport, MetricsTimeSeries};
use paas_api::{
    App, AppCreate, Build, ConfigVars, ConfigVarsPatch, Credentials, Dyno, ErrorBody, Formation,
    FormationBatchUpdate, FormationUpdate, LogSession, LogSessionCreate, Release, RollbackRequest,
    TokenResponse, HEROKU_ACCEPT,
};
use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::DashboardError;

#[derive(Clone)]
pub struct ApiClient {
    base: Url,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: &str) -> Result<ApiClient, String> {
        let base = Url::parse(base).map_err(|e| e.to_string())?;
        if base.cannot_be_a_base() {
            return Err("not a base URL".into());
        }
        // No overall timeout: a scale or config change returns once the deploy is done.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(ApiClient { base, http })
    }

    /// The base URL with each segment appended percent-encoded, so a name taken from the
    /// dashboard's own URL can never turn into another API path.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new")
            .pop_if_empty()
            .extend(segments);
        url
    }

    fn request(&self, method: Method, token: Option<&str>, segments: &[&str]) -> RequestBuilder {
        let req = self
            .http
            .request(method, self.url(segments))
            .header(reqwest::header::ACCEPT, HEROKU_ACCEPT);
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn send<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, DashboardError> {
        let res = req.send().await.map_err(unreachable)?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            return Err(failure(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(error = %e, "unexpected API answer");
            DashboardError::Api {
                status: 502,
                message: "The API gave an answer the dashboard does not understand; the dashboard and the API may be different versions.".into(),
            }
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        token: &str,
        segments: &[&str],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, DashboardError> {
        let mut req = self.request(method, Some(token), segments);
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send(req).await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        token: &str,
        segments: &[&str],
    ) -> Result<T, DashboardError> {
        self.call(Method::GET, token, segments, None::<&()>).await
    }

    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<TokenResponse, DashboardError> {
        let body = Credentials {
            username: username.to_string(),
            password: password.to_string(),
        };
        self.send(
            self.request(Method::POST, None, &["auth", "login"])
                .json(&body),
        )
        .await
    }

    pub async fn apps(&self, token: &str) -> Result<Vec<App>, DashboardError> {
        self.get(token, &["apps"]).await
    }

    pub async fn app(&self, token: &str, app: &str) -> Result<App, DashboardError> {
        self.get(token, &["apps", app]).await
    }

    pub async fn create_app(&self, token: &str, name: &str) -> Result<App, DashboardError> {
        let body = AppCreate {
            name: name.to_string(),
        };
        self.call(Method::POST, token, &["apps"], Some(&body)).await
    }

    pub async fn destroy_app(&self, token: &str, app: &str) -> Result<App, DashboardError> {
        self.call(Method::DELETE, token, &["apps", app], None::<&()>)
            .await
    }

    pub async fn formation(
        &self,
        token: &str,
        app: &str,
    ) -> Result<Vec<Formation>, DashboardError> {
        self.get(token, &["apps", app, "formation"]).await
    }

    pub async fn scale(
        &self,
        token: &str,
        app: &str,
        process_type: &str,
        quantity: i64,
    ) -> Result<Vec<Formation>, DashboardError> {
        let body = FormationBatchUpdate {
            updates: vec![FormationUpdate {
                process_type: process_type.to_string(),
                quantity,
            }],
        };
        self.call(
            Method::PATCH,
            token,
            &["apps", app, "formation"],
            Some(&body),
        )
        .await
    }

    pub async fn dynos(&self, token: &str, app: &str) -> Result<Vec<Dyno>, DashboardError> {
        self.get(token, &["apps", app, "dynos"]).await
    }

    /// `which`: `web.1`, a type `web`, or none for every process.
    pub async fn restart(
        &self,
        token: &str,
        app: &str,
        which: Option<&str>,
    ) -> Result<serde_json::Value, DashboardError> {
        let mut segments = vec!["apps", app, "dynos"];
        segments.extend(which);
        self.call(Method::DELETE, token, &segments, None::<&()>)
            .await
    }

    pub async fn config(&self, token: &str, app: &str) -> Result<ConfigVars, DashboardError> {
        self.get(token, &["apps", app, "config-vars"]).await
    }

    pub async fn update_config(
        &self,
        token: &str,
        app: &str,
        patch: &ConfigVarsPatch,
    ) -> Result<ConfigVars, DashboardError> {
        self.call(
            Method::PATCH,
            token,
            &["apps", app, "config-vars"],
            Some(patch),
        )
        .await
    }

    pub async fn releases(&self, token: &str, app: &str) -> Result<Vec<Release>, DashboardError> {
        self.get(token, &["apps", app, "releases"]).await
    }

    pub async fn rollback(
        &self,
        token: &str,
        app: &str,
        release: &str,
    ) -> Result<Release, DashboardError> {
        let body = RollbackRequest {
            release: release.to_string(),
        };
        self.call(Method::POST, token, &["apps", app, "releases"], Some(&body))
            .await
    }

    /// `since` is passed on as typed (`1h`): the API checks it and says what is wrong.
    pub async fn metrics(
        &self,
        token: &str,
        app: &str,
        since: &str,
    ) -> Result<MetricsReport, DashboardError> {
        let req = self.request(Method::GET, Some(token), &["apps", app, "metrics"]);
        self.send(req.query(&[("since", since)])).await
    }

    pub async fn metrics_series(
        &self,
        token: &str,
        app: &str,
        since: &str,
        step_minutes: u32,
    ) -> Result<MetricsTimeSeries, DashboardError> {
        let req = self.request(
            Method::GET,
            Some(token),
            &["apps", app, "metrics", "series"],
        );
        let step = step_minutes.to_string();
        self.send(req.query(&[("since", since), ("step", step.as_str())]))
            .await
    }

    pub async fn builds(&self, token: &str, app: &str) -> Result<Vec<Build>, DashboardError> {
        self.get(token, &["apps", app, "builds"]).await
    }

    pub async fn build(&self, token: &str, app: &str, id: &str) -> Result<Build, DashboardError> {
        self.get(token, &["apps", app, "builds", id]).await
    }

    /// The build's whole log, as text.
    pub async fn build_output(
        &self,
        token: &str,
        app: &str,
        id: &str,
    ) -> Result<String, DashboardError> {
        let req = self.request(
            Method::GET,
            Some(token),
            &["apps", app, "builds", id, "output"],
        );
        let res = req.send().await.map_err(unreachable)?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            return Err(failure(status, &bytes));
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub async fn log_session(
        &self,
        token: &str,
        app: &str,
        req: &LogSessionCreate,
    ) -> Result<LogSession, DashboardError> {
        self.call(
            Method::POST,
            token,
            &["apps", app, "log-sessions"],
            Some(req),
        )
        .await
    }

    /// Opens a log session's capability URL. It names the API's public address, which this
    /// host may not reach (a proxy in front, TLS), so its path is requested from the internal
    /// base instead.
    pub async fn open_log_stream(
        &self,
        logplex_url: &str,
    ) -> Result<reqwest::Response, DashboardError> {
        let public = Url::parse(logplex_url).map_err(|e| DashboardError::Api {
            status: 502,
            message: format!("The API gave an invalid log stream address: {e}"),
        })?;
        let mut url = self.base.clone();
        url.set_path(public.path());
        url.set_query(public.query());
        let res = self.http.get(url).send().await.map_err(unreachable)?;
        let status = res.status();
        if !status.is_success() {
            let bytes = res.bytes().await.unwrap_or_default();
            return Err(failure(status, &bytes));
        }
        Ok(res)
    }
}

fn unreachable(e: reqwest::Error) -> DashboardError {
    tracing::warn!(error = %e, "API request failed");
    DashboardError::Api {
        status: 502,
        message: "The platform's API did not answer. Try again in a moment; if it persists, the operator should check that paasd is running.".into(),
    }
}

/// The API's own message when it sent one (it is written for people), else the status.
fn failure(status: reqwest::StatusCode, body: &[u8]) -> DashboardError {
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) if !e.message.is_empty() => sentence(&e.message),
        _ => format!(
            "The API refused the request ({} {}).",
            status.as_u16(),
            status.canonical_reason().unwrap_or("error")
        ),
    };
    DashboardError::Api {
        status: status.as_u16(),
        message,
    }
}

/// `app "x" not found` -> `App "x" not found.`
fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_so_names_cannot_change_the_path() {
        let api = ApiClient::new("http://127.0.0.1:7000").unwrap();
        assert_eq!(
            api.url(&["apps", "a/../../users", "dynos"]).as_str(),
            "http://127.0.0.1:7000/apps/a%2F..%2F..%2Fusers/dynos"
        );
        assert_eq!(
            api.url(&["apps", "x?y#z"]).as_str(),
            "http://127.0.0.1:7000/apps/x%3Fy%23z"
        );
        let api = ApiClient::new("http://127.0.0.1:7000/base/").unwrap();
        assert_eq!(
            api.url(&["apps"]).as_str(),
            "http://127.0.0.1:7000/base/apps"
        );
    }

    #[test]
    fn failures_keep_the_api_message_in_plain_words() {
        let body = br#"{"id":"not_found","message":"app \"x\" not found"}"#;
        match failure(reqwest::StatusCode::NOT_FOUND, body) {
            DashboardError::Api { status, message } => {
                assert_eq!(status, 404);
                assert_eq!(message, "App \"x\" not found.");
            }
            other => panic!("{other:?}"),
        }
        match failure(reqwest::StatusCode::BAD_GATEWAY, b"<html>") {
            DashboardError::Api { message, .. } => {
                assert_eq!(message, "The API refused the request (502 Bad Gateway).")
            }
            other => panic!("{other:?}"),
        }
    }
}
