//! `GET /openapi.json`: a machine-readable description of every path the API serves.

use axum::Json;
use serde_json::{json, Value};

/// (path, method, summary)
const OPERATIONS: &[(&str, &str, &str)] = &[
    (
        "/auth/register",
        "post",
        "Register a user (the first becomes admin)",
    ),
    ("/auth/login", "post", "Log in; returns an API token"),
    ("/account", "get", "The calling user"),
    ("/users", "get", "List users (admin)"),
    ("/users", "post", "Create a user (admin)"),
    ("/apps", "get", "List apps you can access"),
    ("/apps", "post", "Create an app"),
    ("/apps/{app}", "get", "App info"),
    ("/apps/{app}", "delete", "Destroy an app"),
    ("/apps/{app}", "patch", "Maintenance mode: {\"maintenance\": true}"),
    ("/apps/{app}/router-settings", "get", "Timeouts, body limit, HTTPS redirect and balancing"),
    ("/apps/{app}/router-settings", "patch", "Change router settings: {\"response_timeout\": 60, \"max_body\": \"10M\"}"),
    ("/apps/{app}/canary", "get", "The canary release and its weight"),
    ("/apps/{app}/canary", "post", "Start a canary: {\"release\": \"v3\", \"weight\": 10}"),
    ("/apps/{app}/canary", "delete", "Stop the canary"),
    ("/apps/{app}/canary/actions/promote", "post", "Make the canary the current release"),
    ("/apps/{app}/domains", "get", "The app's domains"),
    ("/apps/{app}/domains", "post", "Add a custom domain: {\"hostname\": \"www.example.com\"}"),
    ("/apps/{app}/domains/{hostname}", "delete", "Remove a custom domain"),
    ("/apps/{app}/sni-endpoints", "get", "TLS certificates"),
    ("/apps/{app}/sni-endpoints", "post", "Add a certificate: {\"certificate_chain\": PEM, \"private_key\": PEM}"),
    ("/apps/{app}/sni-endpoints/{id}", "delete", "Remove a certificate"),
    ("/apps/{app}/config-vars", "get", "Config vars"),
    (
        "/apps/{app}/config-vars",
        "patch",
        "Set or (with null) unset config vars; makes a release",
    ),
    (
        "/apps/{app}/formation",
        "get",
        "Process types and quantities",
    ),
    (
        "/apps/{app}/formation",
        "patch",
        "Scale several process types",
    ),
    (
        "/apps/{app}/formation/{type}",
        "patch",
        "Scale one process type",
    ),
    ("/apps/{app}/limits", "get", "Memory and CPU limits per process type"),
    ("/apps/{app}/limits", "patch", "Set limits: {\"web\": {\"memory\": \"512M\", \"cpu\": 0.5}}; makes a release"),
    ("/apps/{app}/healthchecks", "get", "Health checks per process type"),
    ("/apps/{app}/healthchecks", "patch", "Set health checks: {\"web\": {\"path\": \"/health\"}}"),
    ("/apps/{app}/builds", "get", "List builds"),
    ("/apps/{app}/builds/{id}", "get", "Build info"),
    ("/apps/{app}/builds/{id}/output", "get", "A build's whole output, as text"),
    (
        "/apps/{app}/releases",
        "get",
        "List releases (Range: version ..; max=N, order=desc)",
    ),
    (
        "/apps/{app}/releases",
        "post",
        "Roll back: {\"release\": ID or version}",
    ),
    (
        "/apps/{app}/releases/{id_or_version}",
        "get",
        "Release info",
    ),
    (
        "/apps/{app}/releases/actions/cancel",
        "post",
        "Cancel the deploy in progress",
    ),
    ("/apps/{app}/dynos", "get", "Running processes"),
    ("/apps/{app}/dynos", "delete", "Restart every process"),
    (
        "/apps/{app}/dynos",
        "post",
        "Run a one-off process run.N: {\"command\", \"attach\", \"tty\", \"env\"}; attached ones get attach_url",
    ),
    (
        "/dyno-sessions/{secret}",
        "get",
        "WebSocket to an attached one-off (capability URL, single use; docs/run.md)",
    ),
    (
        "/apps/{app}/dynos/{dyno}",
        "delete",
        "Restart a process (web.1) or a type (web)",
    ),
    ("/apps/{app}/collaborators", "get", "Users with access"),
    ("/apps/{app}/collaborators", "post", "Grant a user access"),
    (
        "/apps/{app}/collaborators/{user}",
        "delete",
        "Revoke a user's access",
    ),
    ("/apps/{app}/metrics", "get", "Requests, status classes, latency percentiles, memory and CPU per release and process type (?since=1h)"),
    ("/apps/{app}/metrics/series", "get", "The same figures per step of minutes, per release and process type (?since=1h&step=1)"),
    ("/apps/{app}/log-drains", "get", "Log drains"),
    ("/apps/{app}/log-drains", "post", "Add a drain: {\"url\": \"syslog+tls://HOST:PORT\"} or https://..."),
    ("/apps/{app}/log-drains/{id_or_url}", "delete", "Remove a drain"),
    (
        "/apps/{app}/log-sessions",
        "post",
        "Make a log session; returns logplex_url to stream from",
    ),
    (
        "/log-sessions/{secret}",
        "get",
        "Stream log lines (capability URL, no other auth)",
    ),
    (
        "/{app}.git/info/refs",
        "get",
        "Git smart HTTP ref advertisement (Basic auth, token as password)",
    ),
    (
        "/{app}.git/git-receive-pack",
        "post",
        "Git push (builds and deploys master or main)",
    ),
    ("/healthz", "get", "Liveness"),
    ("/openapi.json", "get", "This document"),
];

pub async fn openapi() -> Json<Value> {
    let mut paths = serde_json::Map::new();
    for (path, method, summary) in OPERATIONS {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = json!({
            "summary": summary,
            "responses": {
                "default": {"description": "JSON; errors are {\"id\": ..., \"message\": ...}"}
            }
        });
    }
    Json(json!({
        "openapi": "3.0.3",
        "info": {
            "title": "paas API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Heroku Platform API v3 where Heroku has the resource. Authorization: Bearer TOKEN."
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }))
}
