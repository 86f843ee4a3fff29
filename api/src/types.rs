//! Resource shapes. Field names follow the Heroku Platform API v3 so existing tooling works.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// A reference to another resource, as Heroku nests them (`"app": {"id": ..., "name": ...}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdRef {
    pub id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReleaseRef {
    pub id: Uuid,
    pub version: i64,
}

/// `GET /account`, and the user listing of `GET /users`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    pub id: Uuid,
    pub name: String,
    pub admin: bool,
    pub created_at: DateTime<Utc>,
}

/// `POST /auth/register`, `POST /auth/login`, `POST /users`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Answer to register and login: a bearer token for `Authorization` and git's Basic password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token: String,
    pub user: Account,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppCreate {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct App {
    pub id: Uuid,
    pub name: String,
    pub owner: UserRef,
    pub web_url: String,
    pub git_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    /// paas: the version of the current release, if any.
    pub current_release: Option<i64>,
    /// The router answers with a maintenance page instead of the app.
    #[serde(default)]
    pub maintenance: bool,
}

/// `GET /apps/{app}/config-vars`.
pub type ConfigVars = BTreeMap<String, String>;
/// `PATCH /apps/{app}/config-vars`: a `null` value unsets the key.
pub type ConfigVarsPatch = BTreeMap<String, Option<String>>;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BuildStatus {
    Pending,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceBlob {
    /// The git commit that was built.
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Build {
    pub id: Uuid,
    pub app: AppRef,
    pub status: BuildStatus,
    pub source_blob: SourceBlob,
    pub release: Option<ReleaseRef>,
    pub user: UserRef,
    /// paas: the image the build produced.
    pub image: Option<String>,
    /// paas: process types from the Procfile (type -> command).
    pub process_types: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseStatus {
    Pending,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Release {
    pub id: Uuid,
    pub app: AppRef,
    pub version: i64,
    pub description: String,
    pub status: ReleaseStatus,
    pub current: bool,
    /// The build whose image this release runs (Heroku calls it the slug); none for a
    /// config change made before the first build.
    pub slug: Option<IdRef>,
    pub user: UserRef,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /apps/{app}/releases`: roll back to the release with this id or version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackRequest {
    pub release: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Formation {
    pub id: Uuid,
    pub app: AppRef,
    #[serde(rename = "type")]
    pub process_type: String,
    pub quantity: i64,
    pub command: Option<String>,
    pub size: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `PATCH /apps/{app}/formation`: `{"updates":[{"type":"web","quantity":3}]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FormationBatchUpdate {
    pub updates: Vec<FormationUpdate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FormationUpdate {
    #[serde(rename = "type")]
    pub process_type: String,
    /// Heroku clients send a number or a string.
    #[serde(deserialize_with = "quantity_number_or_string")]
    pub quantity: i64,
}

fn quantity_number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Q {
        N(i64),
        S(String),
    }
    match Q::deserialize(d)? {
        Q::N(n) => Ok(n),
        Q::S(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("quantity {s:?} is not a whole number"))),
    }
}

/// One running (or failing) process: `web.1`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Dyno {
    pub id: String,
    pub app: AppRef,
    pub name: String,
    #[serde(rename = "type")]
    pub process_type: String,
    /// `up`, `starting`, `crashed` or `down`.
    pub state: String,
    pub command: Option<String>,
    pub release: ReleaseRef,
    pub size: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Where to connect to a one-off process created with `attach: true`: a single-use,
    /// short-lived WebSocket URL that needs no other auth (docs/run.md). Only in the answer to
    /// `POST /apps/{app}/dynos`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_url: Option<String>,
    /// paas: how often this slot's process crashed and was started again (with backoff).
    #[serde(default)]
    pub restarts: u32,
    /// paas: for a crashed process, its exit status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// paas: the process was killed for exceeding its memory limit.
    #[serde(default)]
    pub oom_killed: bool,
}

/// `POST /apps/{app}/dynos`: run a one-off process (`run.N`) in the app's current release.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DynoCreate {
    /// Run through `/bin/sh -c` in the release's image.
    pub command: String,
    /// Attach through the answer's `attach_url`; otherwise the process runs in the background
    /// and its output goes to the app's logs.
    #[serde(default)]
    pub attach: bool,
    /// Give the process a terminal (for interactive shells); only with `attach`.
    #[serde(default)]
    pub tty: bool,
    /// Extra environment, on top of the release's config vars (`TERM`, say). The platform's own
    /// variables (`PORT`, `DYNO`, `PAAS_APP`, `PAAS_RELEASE`) cannot be overridden.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Collaborator {
    pub id: Uuid,
    pub app: AppRef,
    pub user: UserRef,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /apps/{app}/collaborators`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollaboratorCreate {
    pub user: String,
}

/// `POST /apps/{app}/log-sessions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogSessionCreate {
    pub lines: Option<u32>,
    pub tail: Option<bool>,
    pub dyno: Option<String>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogSession {
    pub id: Uuid,
    /// A capability URL: streams the log lines, no other auth needed, short-lived.
    pub logplex_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dyno_create_defaults_to_detached_and_attach_url_is_optional() {
        let d: DynoCreate = serde_json::from_str(r#"{"command":"ls"}"#).unwrap();
        assert_eq!((d.command.as_str(), d.attach, d.tty), ("ls", false, false));
        assert!(d.env.is_empty());
        let dyno = serde_json::json!({
            "id": "x", "app": {"id": Uuid::nil(), "name": "a"}, "name": "run.1", "type": "run",
            "state": "starting", "command": "ls", "release": {"id": Uuid::nil(), "version": 1},
            "size": "standard", "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
        });
        let mut parsed: Dyno = serde_json::from_value(dyno).unwrap();
        assert_eq!(parsed.attach_url, None);
        let json = serde_json::to_value(&parsed).unwrap();
        assert!(json.get("attach_url").is_none(), "no key when None: {json}");
        parsed.attach_url = Some("ws://h/dyno-sessions/s".into());
        let json = serde_json::to_value(&parsed).unwrap();
        assert_eq!(json["attach_url"], "ws://h/dyno-sessions/s");
    }

    #[test]
    fn formation_quantity_number_or_string() {
        let u: FormationBatchUpdate = serde_json::from_str(
            r#"{"updates":[{"type":"web","quantity":3},{"type":"worker","quantity":"2"}]}"#,
        )
        .unwrap();
        assert_eq!(u.updates[0].quantity, 3);
        assert_eq!(u.updates[1].quantity, 2);
        assert!(
            serde_json::from_str::<FormationUpdate>(r#"{"type":"web","quantity":"many"}"#).is_err()
        );
    }
}

/// `POST /apps/{app}/log-drains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogDrainCreate {
    /// `syslog://HOST:PORT`, `syslog+tls://HOST:PORT` or `https://...`
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogDrain {
    pub id: Uuid,
    pub url: String,
    /// Heroku's drain token; paas sends it as `Logplex-Drain-Token`.
    pub token: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /apps/{app}/domains`: the app's default domain (`kind: "default"`) and custom ones.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Domain {
    pub id: Uuid,
    pub hostname: String,
    /// `default` for APP.DOMAIN, `custom` for the ones added.
    pub kind: String,
    /// Where a DNS CNAME for this hostname should point.
    pub cname: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /apps/{app}/domains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainCreate {
    /// `www.example.com`, or a wildcard `*.example.com`.
    pub hostname: String,
}

/// `PATCH /apps/{app}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AppUpdate {
    /// Serve a maintenance page (503) instead of the app.
    pub maintenance: Option<bool>,
}

/// `POST /apps/{app}/sni-endpoints`: a TLS certificate the router serves by SNI.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SniEndpointCreate {
    pub certificate_chain: String,
    pub private_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SniEndpoint {
    pub id: Uuid,
    /// The DNS names the certificate covers.
    pub domains: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /apps/{app}/canary`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Canary {
    /// The release taking a share of the clients; none when no canary runs.
    pub release: Option<i64>,
    /// Percentage of clients sent to it (each client sticks to its side by a cookie).
    pub weight: u8,
}

/// `POST /apps/{app}/canary`: `{"release": "v3", "weight": 10}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CanaryCreate {
    pub release: String,
    pub weight: u8,
}
