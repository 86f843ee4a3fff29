//! Every path the API listener serves, in one place.

use axum::routing::{get, patch, post};
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::routes::{
    account, apps, builds, canary, collaborators, config_vars, dynos, formation, git, log_drains,
    log_sessions, metrics, openapi, process_settings, releases, router_feed, router_settings,
    routing, run,
};
use crate::state::AppState;

pub fn build(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/openapi.json", get(openapi::openapi))
        .route("/auth/register", post(account::register))
        .route("/auth/login", post(account::login))
        .route("/account", get(account::get_account))
        .route(
            "/users",
            get(account::list_users).post(account::create_user),
        )
        .route("/apps", get(apps::list_apps).post(apps::create_app))
        .route(
            "/apps/{app}",
            get(apps::get_app)
                .delete(apps::delete_app)
                .patch(routing::update_app),
        )
        .route(
            "/apps/{app}/router-settings",
            get(router_settings::get_router_settings)
                .patch(router_settings::update_router_settings),
        )
        .route(
            "/apps/{app}/canary",
            get(canary::get_canary)
                .post(canary::start_canary)
                .delete(canary::stop_canary),
        )
        .route(
            "/apps/{app}/canary/actions/promote",
            post(canary::promote_canary),
        )
        .route(
            "/apps/{app}/domains",
            get(routing::list_domains).post(routing::create_domain),
        )
        .route(
            "/apps/{app}/domains/{hostname}",
            axum::routing::delete(routing::delete_domain),
        )
        .route(
            "/apps/{app}/sni-endpoints",
            get(routing::list_sni_endpoints).post(routing::create_sni_endpoint),
        )
        .route(
            "/apps/{app}/sni-endpoints/{id}",
            axum::routing::delete(routing::delete_sni_endpoint),
        )
        .route(
            "/apps/{app}/config-vars",
            get(config_vars::get_config_vars).patch(config_vars::update_config_vars),
        )
        .route(
            "/apps/{app}/formation",
            get(formation::list_formation).patch(formation::update_formation),
        )
        .route(
            "/apps/{app}/formation/{type}",
            patch(formation::update_formation_type),
        )
        .route(
            "/apps/{app}/limits",
            get(process_settings::list_limits).patch(process_settings::update_limits),
        )
        .route(
            "/apps/{app}/healthchecks",
            get(process_settings::list_healthchecks).patch(process_settings::update_healthchecks),
        )
        .route("/apps/{app}/builds", get(builds::list_builds))
        .route("/apps/{app}/builds/{id}", get(builds::get_build))
        .route(
            "/apps/{app}/builds/{id}/output",
            get(builds::get_build_output),
        )
        .route(
            "/apps/{app}/releases",
            get(releases::list_releases).post(releases::create_release),
        )
        .route(
            "/apps/{app}/releases/actions/cancel",
            post(releases::cancel_release),
        )
        .route("/apps/{app}/releases/{release}", get(releases::get_release))
        .route(
            "/apps/{app}/dynos",
            get(dynos::list_dynos)
                .delete(dynos::restart_all)
                .post(run::create_dyno),
        )
        .route(
            "/apps/{app}/dynos/{dyno}",
            axum::routing::delete(dynos::restart_dyno),
        )
        .route(
            "/apps/{app}/collaborators",
            get(collaborators::list_collaborators).post(collaborators::create_collaborator),
        )
        .route(
            "/apps/{app}/collaborators/{user}",
            axum::routing::delete(collaborators::delete_collaborator),
        )
        .route("/apps/{app}/metrics", get(metrics::get_metrics))
        .route(
            "/apps/{app}/metrics/series",
            get(metrics::get_metrics_series),
        )
        .route(
            "/apps/{app}/log-drains",
            get(log_drains::list_log_drains).post(log_drains::create_log_drain),
        )
        .route(
            "/apps/{app}/log-drains/{drain}",
            axum::routing::delete(log_drains::delete_log_drain),
        )
        .route(
            "/apps/{app}/log-sessions",
            post(log_sessions::create_log_session),
        )
        .route("/dyno-sessions/{secret}", get(run::attach_dyno))
        .route(
            "/log-sessions/{secret}",
            get(log_sessions::stream_log_session),
        )
        .route("/{repo}/info/refs", get(git::info_refs))
        .route("/{repo}/git-receive-pack", post(git::receive_pack))
        .route("/{repo}/git-upload-pack", post(git::upload_pack))
        .route("/internal/git-hook", post(git::git_hook))
        .route(
            "/internal/router/routes",
            get(router_feed::get_router_routes),
        )
        .route(
            "/internal/router/access-log",
            post(router_feed::create_access_log_batch),
        )
        .fallback(|| async { ApiError::not_found("no such path; GET /openapi.json lists the API") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this path; GET /openapi.json lists the API",
            )
        })
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
