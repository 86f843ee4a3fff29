//! The web dashboard, served at `/dashboard` on the API listener.
//!
//! Server-rendered pages (askama) with small hand-written scripts only where live updates need
//! them. Every action goes through the same HTTP API the CLI uses, with the signed-in user's
//! token, so nothing here can do what that user could not do with `paas`.

mod api;
mod assets;
mod chart;
mod error;
mod extract;
mod format;
mod logstream;
mod pages;
mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;

pub use error::DashboardError;

/// Where every dashboard path lives on the API listener.
pub const PREFIX: &str = "/dashboard";

#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// The API's base URL for the dashboard's own server-side calls: the internal one
    /// (`http://127.0.0.1:PORT`), so they never leave the host.
    pub api_url: String,
    /// Mark cookies `Secure` (when browsers reach the dashboard over https).
    pub secure_cookies: bool,
    /// How long a sign-in lasts before the user must sign in again.
    pub session_lifetime: Duration,
    /// Where sign-ins are kept across restarts (in memory only when `None`).
    pub session_file: Option<std::path::PathBuf>,
}

impl DashboardConfig {
    /// Sign-ins last 12 hours by default.
    pub fn new(api_url: impl Into<String>) -> DashboardConfig {
        DashboardConfig {
            api_url: api_url.into(),
            secure_cookies: false,
            session_lifetime: Duration::from_secs(12 * 3600),
            session_file: None,
        }
    }
}

/// What every handler shares.
pub(crate) struct Dashboard {
    pub config: DashboardConfig,
    pub api: api::ApiClient,
    pub sessions: session::Sessions,
}

pub(crate) type Shared = Arc<Dashboard>;

/// Every `/dashboard` path, ready to be merged into the API listener's router (it has no
/// fallback of its own, so it merges with one that has).
///
/// # Panics
/// When `config.api_url` is not a valid URL (a programming error in the caller).
pub fn router(config: DashboardConfig) -> Router {
    let api = api::ApiClient::new(&config.api_url)
        .unwrap_or_else(|e| panic!("dashboard API URL {:?}: {e}", config.api_url));
    let shared = Arc::new(Dashboard {
        sessions: match &config.session_file {
            Some(file) => session::Sessions::with_file(config.session_lifetime, file.clone()),
            None => session::Sessions::new(config.session_lifetime),
        },
        api,
        config,
    });
    use pages::{actions, app, apps, auth, builds, logs, metrics};
    Router::new()
        .route("/dashboard", get(apps::home))
        .route("/dashboard/", get(apps::home))
        .route("/dashboard/login", get(auth::login_page).post(auth::login))
        .route("/dashboard/logout", post(auth::logout))
        .route(
            "/dashboard/apps",
            get(apps::list_apps).post(apps::create_app),
        )
        .route("/dashboard/apps/{app}", get(app::show_app))
        .route("/dashboard/apps/{app}/destroy", post(apps::destroy_app))
        .route("/dashboard/apps/{app}/scale", post(actions::scale))
        .route("/dashboard/apps/{app}/restart", post(actions::restart))
        .route("/dashboard/apps/{app}/config", post(actions::set_config))
        .route(
            "/dashboard/apps/{app}/config/unset",
            post(actions::unset_config),
        )
        .route("/dashboard/apps/{app}/rollback", post(actions::rollback))
        .route("/dashboard/apps/{app}/builds/{id}", get(builds::show_build))
        .route("/dashboard/apps/{app}/logs", get(logs::logs_page))
        .route("/dashboard/apps/{app}/metrics", get(metrics::metrics_page))
        .route("/dashboard/apps/{app}/logs/stream", get(logs::stream_logs))
        .route("/dashboard/static/{file}", get(assets::asset))
        .route(
            "/dashboard/{*rest}",
            get(pages::not_found).post(pages::not_found),
        )
        .layer(axum::middleware::map_response(assets::security_headers))
        .with_state(shared)
}
