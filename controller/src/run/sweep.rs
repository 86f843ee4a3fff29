//! The cleanup of one-offs: what attached sessions and detached runs leave behind.

use std::collections::HashSet;

use chrono::Utc;
use paas_scheduler::{ProcessState, ONE_OFF};

use super::{ATTACH_TTL, LINGER};
use crate::state::AppState;

/// Removes what one-offs leave behind: containers of attach URLs nobody used, detached
/// one-offs that ended more than [`LINGER`] ago, and one-offs of destroyed apps. Runs with
/// every reconcile pass; what a live session owns is never touched.
pub async fn sweep(state: &AppState) {
    let expired = state.run_sessions.expire();
    let processes = match state.runtime.list(None).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "one-off cleanup: cannot list processes");
            return;
        }
    };
    let apps: HashSet<String> = match state.store.list_apps(None).await {
        Ok(apps) => apps.into_iter().map(|a| a.name).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "one-off cleanup: cannot list apps");
            return;
        }
    };
    let now = Utc::now();
    let age = |t: chrono::DateTime<Utc>| (now - t).to_std().unwrap_or_default();
    for p in processes.iter().filter(|p| p.process_type == ONE_OFF) {
        if state.run_sessions.owns(&p.id) {
            continue;
        }
        let why = if !apps.contains(&p.app) {
            "its app was destroyed"
        } else if expired.iter().any(|s| s.container == p.id) {
            "nobody attached in time"
        } else {
            match p.state {
                ProcessState::Crashed | ProcessState::Down
                    if p.exit.is_none_or(|e| age(e.finished_at) >= LINGER) =>
                {
                    "it ended"
                }
                // Created for an attach URL that is gone (the daemon restarted meanwhile).
                ProcessState::Starting if age(p.created_at) >= ATTACH_TTL * 2 => {
                    "nobody attached in time"
                }
                _ => continue,
            }
        };
        tracing::info!(app = %p.app, process = %p.name(), reason = why, "removing one-off");
        if let Err(e) = state.runtime.remove(&p.id, 0).await {
            tracing::warn!(app = %p.app, process = %p.name(), error = %e, "removing one-off");
        }
    }
}
