//! How a router on its own talks to its controller: the internal endpoints of
//! `paas_api::router_feed`, with the router token.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use paas_api::router_feed::{AccessLogBatch, RouteTable};
use paas_api::ErrorBody;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use crate::config::RouterArgs;

/// How long the controller holds a route poll when nothing changes.
const POLL_WAIT: Duration = Duration::from_secs(25);
/// Beyond the poll's wait: time for the controller to answer at all.
const ANSWER_TIME: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub struct ControllerClient {
    http: reqwest::Client,
    base: Arc<str>,
}

/// Why a request to the controller did not work.
#[derive(Debug)]
pub enum FeedError {
    /// 401: the token is not the controller's; retrying will not help until it is changed.
    TokenRejected(String),
    /// No answer (down, unreachable, timed out): the next attempt may work.
    Unreachable(String),
    /// Any other answer but success.
    Refused { status: u16, message: String },
}

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedError::TokenRejected(message) => {
                write!(f, "router token rejected by the controller: {message}")
            }
            FeedError::Unreachable(reason) => write!(f, "controller unreachable: {reason}"),
            FeedError::Refused { status, message } => {
                write!(f, "the controller answered {status}: {message}")
            }
        }
    }
}

impl FeedError {
    /// Worth sending the same request again later.
    pub fn retry(&self) -> bool {
        match self {
            FeedError::TokenRejected(_) => false,
            FeedError::Unreachable(_) => true,
            FeedError::Refused { status, .. } => *status >= 500 || *status == 429,
        }
    }
}

impl ControllerClient {
    pub fn new(args: &RouterArgs, data_dir: &Path) -> anyhow::Result<ControllerClient> {
        let base = args.controller_url.trim_end_matches('/');
        let url = reqwest::Url::parse(base)
            .with_context(|| format!("invalid --controller-url {base:?}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("invalid --controller-url {base:?}: use http:// or https://");
        }
        let token = match &args.router_token {
            Some(token) => token.trim().to_string(),
            None => {
                let path = data_dir.join("secrets").join("router-token");
                std::fs::read_to_string(&path)
                    .map(|t| t.trim().to_string())
                    .with_context(|| {
                        format!(
                            "no router token: set PAAS_ROUTER_TOKEN to the controller's \
                             DATA_DIR/secrets/router-token ({} is not readable)",
                            path.display()
                        )
                    })?
            }
        };
        if token.is_empty() {
            bail!("no router token: PAAS_ROUTER_TOKEN is empty");
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the router token has characters a header cannot carry")?;
        // Kept out of any debug output of the HTTP client.
        auth.set_sensitive(true);
        let mut builder = reqwest::Client::builder()
            .default_headers(HeaderMap::from_iter([(AUTHORIZATION, auth)]))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("paasd-router/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &args.controller_ca {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read --controller-ca {}", path.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("--controller-ca {} is no PEM", path.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        Ok(ControllerClient {
            http: builder.build().context("cannot make an HTTP client")?,
            base: base.into(),
        })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// The route table once its version differs from `after` (or the same one after a while).
    pub async fn routes(&self, after: Option<u64>) -> Result<RouteTable, FeedError> {
        let mut url = format!(
            "{}/internal/router/routes?wait={}",
            self.base,
            POLL_WAIT.as_secs()
        );
        if let Some(version) = after {
            url.push_str(&format!("&after={version}"));
        }
        let res = self
            .http
            .get(url)
            .timeout(POLL_WAIT + ANSWER_TIME)
            .send()
            .await
            .map_err(unreachable)?;
        let res = success(res).await?;
        res.json().await.map_err(|e| FeedError::Refused {
            status: 200,
            message: format!("unreadable route table: {e}"),
        })
    }

    pub async fn send_access_log(&self, batch: &AccessLogBatch) -> Result<(), FeedError> {
        let res = self
            .http
            .post(format!("{}/internal/router/access-log", self.base))
            .json(batch)
            .timeout(ANSWER_TIME)
            .send()
            .await
            .map_err(unreachable)?;
        success(res).await.map(drop)
    }
}

fn unreachable(e: reqwest::Error) -> FeedError {
    // The chain says what failed (connection refused, DNS, TLS), the top only "error sending".
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        reason = format!("{reason}: {s}");
        source = s.source();
    }
    FeedError::Unreachable(reason)
}

async fn success(res: reqwest::Response) -> Result<reqwest::Response, FeedError> {
    let status = res.status();
    if status.is_success() {
        return Ok(res);
    }
    let text = res.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorBody>(&text)
        .map(|b| b.message)
        .unwrap_or_else(|_| text.chars().take(200).collect());
    if status == reqwest::StatusCode::UNAUTHORIZED {
        Err(FeedError::TokenRejected(message))
    } else {
        Err(FeedError::Refused {
            status: status.as_u16(),
            message,
        })
    }
}

/// Waits between attempts: doubling from half a second up to ten, so a controller back from
/// a restart is noticed soon without hammering one that is down.
pub struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(10);

    pub fn new() -> Backoff {
        Backoff(Backoff::FIRST)
    }

    pub fn reset(&mut self) {
        self.0 = Backoff::FIRST;
    }

    pub async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Backoff::MAX);
    }
}
