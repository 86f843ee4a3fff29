//! A small blocking client for the paas API: paths from segments, bearer auth, the Heroku accept
//! header, and the `{id, message}` error envelope turned into a readable error.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use paas_api::{ErrorBody, HEROKU_ACCEPT};
use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::{header, Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::settings::Session;

const USER_AGENT: &str = concat!("paas-cli/", env!("CARGO_PKG_VERSION"));

pub struct Client {
    base: Url,
    token: Option<String>,
    http: Http,
}

impl Client {
    /// A client without a token, for `register` and `login`.
    pub fn anonymous(api_url: &str) -> Result<Self> {
        Self::build(api_url, None)
    }

    /// A client for the logged-in user (environment, else config file).
    pub fn connect() -> Result<Self> {
        Self::for_session(&crate::settings::load_session()?)
    }

    pub fn for_session(session: &Session) -> Result<Self> {
        Self::build(&session.api_url, Some(session.token.clone()))
    }

    fn build(api_url: &str, token: Option<String>) -> Result<Self> {
        let base = parse_base(api_url)?;
        let http = crate::tls::trusting(Http::builder())?
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            // Config changes and scaling wait for the deploy they trigger, so be patient.
            .timeout(Duration::from_secs(600))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Self { base, token, http })
    }

    /// The URL of `segments` under the base; each segment is percent-encoded on its own, so a
    /// user name with a `/` cannot reach another path.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("parse_base only accepts http(s) URLs, which have paths")
            .pop_if_empty()
            .extend(segments);
        url
    }

    pub fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T> {
        decode(self.get_value(segments, None)?)
    }

    /// The raw JSON answer, for `--json` and for callers that also want the typed view.
    pub fn get_value(&self, segments: &[&str], range: Option<&str>) -> Result<Value> {
        self.send(Method::GET, segments, None::<&()>, range)
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T> {
        decode(self.send(Method::POST, segments, Some(body), None)?)
    }

    pub fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T> {
        decode(self.send(Method::PATCH, segments, Some(body), None)?)
    }

    /// DELETE; the answer (the deleted resource, or `{}`) is returned raw since callers rarely
    /// need it.
    pub fn delete(&self, segments: &[&str]) -> Result<Value> {
        self.send(Method::DELETE, segments, None::<&()>, None)
    }

    fn send<B: Serialize>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
        range: Option<&str>,
    ) -> Result<Value> {
        let url = self.url(segments);
        let text = self.fetch(method, url.clone(), body, range)?;
        json(&url, &text)
    }

    /// GET with query parameters; the raw JSON answer.
    pub fn get_query(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Value> {
        let mut url = self.url(segments);
        url.query_pairs_mut().extend_pairs(query);
        let text = self.fetch(Method::GET, url.clone(), None::<&()>, None)?;
        json(&url, &text)
    }

    /// A plain-text answer (a build's output).
    pub fn get_text(&self, segments: &[&str]) -> Result<String> {
        self.fetch(Method::GET, self.url(segments), None::<&()>, None)
    }

    /// One authenticated request; the answer's text, or the API's error.
    fn fetch<B: Serialize>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        range: Option<&str>,
    ) -> Result<String> {
        let mut req = self
            .http
            .request(method, url.clone())
            .header(header::ACCEPT, HEROKU_ACCEPT);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(range) = range {
            req = req.header(header::RANGE, range);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = self.execute(req)?;
        let status = resp.status();
        let text = resp
            .text()
            .with_context(|| format!("the answer from {url} was cut off"))?;
        if !status.is_success() {
            return Err(api_error(status, &text, &url));
        }
        Ok(text)
    }

    /// Opens the stream behind a log session's capability URL, which needs no token.
    pub fn open_stream(&self, url: &str) -> Result<Response> {
        // The controller may hand out a path rather than an absolute URL.
        let url = self
            .base
            .join(url)
            .with_context(|| format!("the log session URL {url:?} is not a URL"))?;
        let stream = crate::tls::trusting(Http::builder())?
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .timeout(None)
            .build()
            .context("cannot set up the HTTP client")?;
        let resp = self.execute(stream.get(url.clone()))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().unwrap_or_default();
            return Err(api_error(status, &text, &url));
        }
        Ok(resp)
    }

    fn execute(&self, req: RequestBuilder) -> Result<Response> {
        req.send().map_err(|e| {
            let cause = root_cause(&e);
            if let Some(reason) = crate::tls::refused_certificate(&e) {
                anyhow!(
                    "the certificate of the paas API at {} is not trusted: {reason}; {}",
                    self.base,
                    crate::tls::UNTRUSTED_HINT
                )
            } else if e.is_timeout() {
                anyhow!(
                    "no answer from the paas API at {} in time: {cause}",
                    self.base
                )
            } else {
                anyhow!("could not reach the paas API at {}: {cause}", self.base)
            }
        })
    }
}

/// An answer's JSON; an empty answer is `null`.
fn json(url: &Url, text: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).with_context(|| format!("{url} did not answer with JSON"))
}

fn parse_base(api_url: &str) -> Result<Url> {
    let url = Url::parse(api_url.trim()).with_context(|| {
        format!("API URL {api_url:?} is not a URL (expected e.g. http://127.0.0.1:7000)")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("API URL {api_url:?} is not an http(s) URL (expected e.g. http://127.0.0.1:7000)");
    }
    Ok(url)
}

pub fn decode<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).context(
        "the paas API answered with an unexpected shape (is the server a different version?)",
    )
}

/// The innermost cause says what went wrong ("Connection refused"); reqwest's own message only
/// says that sending failed.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn api_error(status: StatusCode, body: &str, url: &Url) -> anyhow::Error {
    let message = match serde_json::from_str::<ErrorBody>(body) {
        Ok(e) if !e.message.trim().is_empty() => e.message,
        _ => {
            let snippet: String = body.trim().chars().take(200).collect();
            if snippet.is_empty() {
                format!("{url} answered {status}")
            } else {
                format!("{url} answered {status}: {snippet}")
            }
        }
    };
    if status == StatusCode::UNAUTHORIZED {
        anyhow!("{message} (run `paas login --api URL --username U --password P` to log in again)")
    } else {
        anyhow!(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_from_encoded_segments() {
        let c = Client::anonymous("http://127.0.0.1:7000").unwrap();
        assert_eq!(
            c.url(&["apps", "hello", "config-vars"]).as_str(),
            "http://127.0.0.1:7000/apps/hello/config-vars"
        );
        assert_eq!(
            c.url(&["apps", "hello", "collaborators", "a/b c"]).as_str(),
            "http://127.0.0.1:7000/apps/hello/collaborators/a%2Fb%20c"
        );
        let c = Client::anonymous("https://paas.example.com/api/").unwrap();
        assert_eq!(
            c.url(&["account"]).as_str(),
            "https://paas.example.com/api/account"
        );
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for bad in ["", "127.0.0.1:7000", "ftp://x", "http//x"] {
            assert!(Client::anonymous(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_envelope_becomes_the_message() {
        let url = Url::parse("http://x/apps/nope").unwrap();
        let e = api_error(
            StatusCode::NOT_FOUND,
            r#"{"id":"not_found","message":"app nope not found"}"#,
            &url,
        );
        assert_eq!(e.to_string(), "app nope not found");
        let e = api_error(
            StatusCode::UNAUTHORIZED,
            r#"{"id":"unauthorized","message":"bad token"}"#,
            &url,
        );
        assert!(
            e.to_string().starts_with("bad token (run `paas login"),
            "{e}"
        );
        let e = api_error(StatusCode::BAD_GATEWAY, "", &url);
        assert_eq!(e.to_string(), "http://x/apps/nope answered 502 Bad Gateway");
    }
}
