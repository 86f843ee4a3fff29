//! One app: its processes with scale and restart, how to deploy it, config vars, releases with
//! rollback, and recent builds.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use paas_api::{App, Build, BuildStatus, Dyno, Formation, Release, ReleaseStatus};

use crate::error::PageResult;
use crate::extract::SignedIn;
use crate::format;
use crate::pages::{app_name, render, Layout};
use crate::Shared;

/// Releases and builds shown; older ones stay in the API (and `paas releases`).
const RECENT: usize = 15;

pub struct DynoView {
    pub name: String,
    pub state: String,
    pub release: i64,
    pub restarts: u32,
    /// `exit 137 (out of memory)`, empty when it never exited.
    pub last_exit: String,
    pub since: String,
    pub since_iso: String,
}

/// A process type and its processes.
pub struct ProcessGroup {
    pub name: String,
    pub quantity: i64,
    pub command: Option<String>,
    /// One-off processes (`paas run`) are not scaled.
    pub scalable: bool,
    pub dynos: Vec<DynoView>,
}

pub struct ReleaseView {
    pub version: i64,
    pub description: String,
    pub user: String,
    pub when: String,
    pub when_iso: String,
    pub status: &'static str,
    pub current: bool,
    pub can_roll_back: bool,
}

pub struct BuildView {
    pub id: String,
    pub status: &'static str,
    pub commit: String,
    pub user: String,
    pub when: String,
    pub when_iso: String,
    pub release: Option<i64>,
}

#[derive(Template)]
#[template(path = "app.html")]
struct AppPage {
    layout: Layout,
    app: App,
    groups: Vec<ProcessGroup>,
    config: Vec<(String, String)>,
    releases: Vec<ReleaseView>,
    builds: Vec<BuildView>,
    push_command: String,
}

pub async fn show_app(
    State(state): State<Shared>,
    user: SignedIn,
    Path(name): Path<String>,
) -> PageResult<Response> {
    let name = app_name(&name)?;
    let (api, token) = (&state.api, user.token());
    // The app first: a 403 or 404 for it is the page's answer.
    let app = api.app(token, name).await?;
    let (formation, dynos, config, releases, builds) = tokio::try_join!(
        api.formation(token, name),
        api.dynos(token, name),
        api.config(token, name),
        api.releases(token, name),
        api.builds(token, name),
    )?;
    let groups = process_groups(&formation, dynos, &releases, &builds);
    let push_command = format!(
        "paas git:remote -a {} && git push platform master",
        app.name
    );
    render(&AppPage {
        layout: Layout::new(&state, &user.0),
        groups,
        config: config.into_iter().collect(),
        releases: release_views(releases),
        builds: build_views(builds),
        push_command,
        app,
    })
}

/// Every process type the app has: scaled ones (formation), ones the current build declares
/// (so a type at 0 can be scaled up), and any with processes running (one-offs).
fn process_groups(
    formation: &[Formation],
    dynos: Vec<Dyno>,
    releases: &[Release],
    builds: &[Build],
) -> Vec<ProcessGroup> {
    let current_build = releases
        .iter()
        .find(|r| r.current)
        .and_then(|r| r.slug.as_ref())
        .and_then(|slug| builds.iter().find(|b| b.id == slug.id));
    let declared: BTreeMap<&str, &str> = current_build
        .map(|b| {
            b.process_types
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let mut names: BTreeSet<String> = formation.iter().map(|f| f.process_type.clone()).collect();
    names.extend(declared.keys().map(|k| k.to_string()));
    names.extend(dynos.iter().map(|d| d.process_type.clone()));
    let now = Utc::now();
    let mut groups: Vec<ProcessGroup> = names
        .into_iter()
        .map(|name| {
            let f = formation.iter().find(|f| f.process_type == name);
            let command = f
                .and_then(|f| f.command.clone())
                .or_else(|| declared.get(name.as_str()).map(|c| c.to_string()))
                .filter(|c| !c.is_empty());
            let dynos = dynos
                .iter()
                .filter(|d| d.process_type == name)
                .map(|d| dyno_view(d, &now))
                .collect();
            ProcessGroup {
                scalable: f.is_some() || declared.contains_key(name.as_str()),
                quantity: f.map(|f| f.quantity).unwrap_or(0),
                command,
                dynos,
                name,
            }
        })
        .collect();
    // web first, as people look for it first.
    groups.sort_by_key(|g| g.name != "web");
    groups
}

fn dyno_view(d: &Dyno, now: &chrono::DateTime<Utc>) -> DynoView {
    let last_exit = match (d.exit_code, d.oom_killed) {
        (Some(code), true) => format!("exit {code} (out of memory)"),
        (None, true) => "killed: out of memory".to_string(),
        (Some(code), false) => format!("exit {code}"),
        (None, false) => String::new(),
    };
    DynoView {
        name: d.name.clone(),
        state: d.state.clone(),
        release: d.release.version,
        restarts: d.restarts,
        last_exit,
        since: format::ago(&d.updated_at, now),
        since_iso: format::iso(&d.updated_at),
    }
}

fn release_views(mut releases: Vec<Release>) -> Vec<ReleaseView> {
    releases.sort_by_key(|r| std::cmp::Reverse(r.version));
    releases
        .into_iter()
        .take(RECENT)
        .map(|r| {
            let status = match r.status {
                ReleaseStatus::Pending => "pending",
                ReleaseStatus::Succeeded => "succeeded",
                ReleaseStatus::Failed => "failed",
            };
            ReleaseView {
                can_roll_back: !r.current && r.status == ReleaseStatus::Succeeded,
                version: r.version,
                description: r.description,
                user: r.user.name,
                when: format::time(&r.created_at),
                when_iso: format::iso(&r.created_at),
                status,
                current: r.current,
            }
        })
        .collect()
}

pub fn build_status(status: BuildStatus) -> &'static str {
    match status {
        BuildStatus::Pending => "pending",
        BuildStatus::Succeeded => "succeeded",
        BuildStatus::Failed => "failed",
    }
}

pub fn build_views(mut builds: Vec<Build>) -> Vec<BuildView> {
    builds.sort_by_key(|b| std::cmp::Reverse(b.created_at));
    builds
        .into_iter()
        .take(RECENT)
        .map(|b| BuildView {
            id: b.id.to_string(),
            status: build_status(b.status),
            commit: b
                .source_blob
                .version
                .as_deref()
                .map(format::short_sha)
                .unwrap_or_default(),
            user: b.user.name,
            when: format::time(&b.created_at),
            when_iso: format::iso(&b.created_at),
            release: b.release.map(|r| r.version),
        })
        .collect()
}
