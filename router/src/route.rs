//! What the controller tells the router about each app: the input of
//! [`Router::replace_routes`](crate::Router::replace_routes).

use std::net::SocketAddr;
use std::time::Duration;

/// One running process of an app, as the router reaches it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Backend {
    /// Where the process listens (container address and `PORT`).
    pub addr: SocketAddr,
    /// The release the process runs (`v7` -> 7); labels metrics and identifies a canary.
    pub release: u64,
    /// The process name as `paas ps` shows it, e.g. `web.1`: the access log's `dyno`. What comes
    /// before the first `.` is the process type that labels metrics.
    pub process: String,
}

impl Backend {
    pub fn new(addr: SocketAddr, release: u64, process: impl Into<String>) -> Self {
        Backend {
            addr,
            release,
            process: process.into(),
        }
    }

    /// The process type: `web` for `web.1`.
    pub fn process_type(&self) -> &str {
        self.process.split('.').next().unwrap_or_default()
    }
}

/// A second release taking a share of the traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canary {
    /// The canary release's running processes (all of one release).
    pub backends: Vec<Backend>,
    /// Percentage (0-100) of clients sent to the canary. A client keeps its side (stable or
    /// canary) through the `paas_canary` cookie for as long as the canary release is the same.
    pub weight: u8,
}

/// How an app's requests are spread over its processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Balance {
    /// Each process in turn.
    #[default]
    RoundRobin,
    /// The process with the fewest requests in progress (ties in turn): better when request
    /// costs vary a lot.
    LeastOutstanding,
}

/// How long the router waits for an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// To open a TCP connection to a process before trying another one.
    pub connect: Duration,
    /// From the request's arrival until the app sends its response head (Heroku's 30 s; past
    /// it the client gets a 504).
    pub response: Duration,
    /// Longest silence on a body being streamed either way, or on an upgraded (WebSocket)
    /// connection, before the router cuts it (Heroku's rolling 55 s window).
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            response: Duration::from_secs(30),
            idle: Duration::from_secs(55),
        }
    }
}

/// Everything the router needs about one app.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppRoute {
    /// The processes serving the app's current release. Empty: the app answers 503.
    pub backends: Vec<Backend>,
    /// A second release taking a share of the clients.
    pub canary: Option<Canary>,
    /// Answer every request with the maintenance 503 page, without touching the app.
    pub maintenance: bool,
    /// Custom domains besides `APP.DOMAIN`: exact names (`www.example.com`) and wildcards
    /// (`*.example.com`, matching any name ending in `.example.com`). Unique across apps; on a
    /// conflict the app whose name sorts first keeps the domain and the other gets an error.
    /// The most specific match wins: an exact name, then `APP.DOMAIN`, then the longest wildcard.
    pub domains: Vec<String>,
    pub timeouts: Timeouts,
    /// Largest request body accepted (413 beyond it); `None`: no limit.
    pub max_body_bytes: Option<u64>,
    /// Answer plain-HTTP requests with a redirect to HTTPS.
    pub redirect_https: bool,
    pub balance: Balance,
}

impl AppRoute {
    /// An app served by `backends`, every other setting at its default.
    pub fn new(backends: Vec<Backend>) -> Self {
        AppRoute {
            backends,
            ..AppRoute::default()
        }
    }
}
