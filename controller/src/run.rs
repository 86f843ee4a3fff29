//! One-off processes (`paas run`, Heroku's `POST /apps/{app}/dynos`): what they run, their
//! `run.N` names, the single-use attach URLs of attached ones, and the cleanup of finished ones.
//! The WebSocket side of an attachment is in [`pump`].

pub mod pump;
mod sweep;

pub use sweep::sweep;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paas_api::DynoCreate;
use paas_scheduler::{Limits, Process, ProcessSpec, ONE_OFF};
use rand::RngCore;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AppRow, ReleaseRow};

/// An attach URL must be used soon after it is made; its process waits unstarted until then.
pub const ATTACH_TTL: Duration = Duration::from_secs(60);
/// A detached one-off's container is kept this long after it ends, so the log collector surely
/// has read all of its output; `paas ps` no longer lists it.
pub const LINGER: Duration = Duration::from_secs(60);
/// Commands travel in a container label too; the engine has limits, and so does reason.
const MAX_COMMAND: usize = 32 * 1024;

/// An attached one-off waiting for its client, or attached to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub app: String,
    /// Engine id of the process's container.
    pub container: String,
    /// `run.3`
    pub dyno: String,
    pub tty: bool,
}

pub struct RunSessions {
    ttl: Duration,
    pending: Mutex<HashMap<String, (Session, Instant)>>,
    /// Containers whose attachment is being served: their end is the pump's to handle.
    attached: Arc<Mutex<HashSet<String>>>,
    /// The last `run.N` handed out per app.
    last_index: Mutex<HashMap<String, u32>>,
}

impl Default for RunSessions {
    fn default() -> Self {
        RunSessions::with_ttl(ATTACH_TTL)
    }
}

impl RunSessions {
    pub fn with_ttl(ttl: Duration) -> RunSessions {
        RunSessions {
            ttl,
            pending: Mutex::default(),
            attached: Arc::default(),
            last_index: Mutex::default(),
        }
    }

    /// The next `N` for `run.N` in `app`: above every one handed out since the daemon started
    /// and every one still running.
    pub fn next_index(&self, app: &str, running: &[Process]) -> u32 {
        let highest_running = running
            .iter()
            .filter(|p| p.app == app && p.process_type == ONE_OFF)
            .map(|p| p.index)
            .max()
            .unwrap_or(0);
        let mut last = self.last_index.lock().expect("run sessions poisoned");
        let n = last.entry(app.to_owned()).or_insert(0);
        *n = (*n).max(highest_running) + 1;
        *n
    }

    /// Registers an attached one-off; the secret in its attach URL.
    pub fn create(&self, session: Session) -> String {
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.pending
            .lock()
            .expect("run sessions poisoned")
            .insert(secret.clone(), (session, Instant::now()));
        secret
    }

    /// Whether `secret` names a session that can still be taken.
    pub fn is_pending(&self, secret: &str) -> bool {
        let pending = self.pending.lock().expect("run sessions poisoned");
        pending
            .get(secret)
            .is_some_and(|(_, made)| made.elapsed() < self.ttl)
    }

    /// Each attach URL works once, within its time to live. The session's container is then
    /// the caller's until the returned guard is dropped.
    pub fn take(&self, secret: &str) -> Option<(Session, AttachGuard)> {
        let session = {
            let mut pending = self.pending.lock().expect("run sessions poisoned");
            // An expired one stays for `expire`, whose caller removes its container.
            if pending.get(secret)?.1.elapsed() >= self.ttl {
                return None;
            }
            pending.remove(secret)?.0
        };
        self.attached
            .lock()
            .expect("run sessions poisoned")
            .insert(session.container.clone());
        let guard = AttachGuard {
            attached: self.attached.clone(),
            container: session.container.clone(),
        };
        Some((session, guard))
    }

    /// Drops the sessions nobody attached to in time, returning them.
    pub fn expire(&self) -> Vec<Session> {
        let mut pending = self.pending.lock().expect("run sessions poisoned");
        let expired: Vec<String> = pending
            .iter()
            .filter(|(_, (_, made))| made.elapsed() >= self.ttl)
            .map(|(secret, _)| secret.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|secret| pending.remove(&secret).map(|(s, _)| s))
            .collect()
    }

    /// Whether a live session (pending or attached) owns `container`.
    pub fn owns(&self, container: &str) -> bool {
        let attached = self.attached.lock().expect("run sessions poisoned");
        attached.contains(container)
            || self
                .pending
                .lock()
                .expect("run sessions poisoned")
                .values()
                .any(|(s, _)| s.container == container)
    }
}

/// While alive, the cleanup leaves the attached container alone.
pub struct AttachGuard {
    attached: Arc<Mutex<HashSet<String>>>,
    container: String,
}

impl Drop for AttachGuard {
    fn drop(&mut self) {
        if let Ok(mut attached) = self.attached.lock() {
            attached.remove(&self.container);
        }
    }
}

/// Checks a run request; returns the command, trimmed of surrounding whitespace.
pub fn validate(req: &DynoCreate) -> Result<String, ApiError> {
    let command = req.command.trim();
    if command.is_empty() {
        return Err(ApiError::invalid(
            "no command given: say what to run, e.g. `paas run -a APP -- ls -l`",
        ));
    }
    if command.len() > MAX_COMMAND {
        return Err(ApiError::invalid(format!(
            "the command is {} bytes long; at most {MAX_COMMAND} are allowed (put long scripts in the app's code)",
            command.len()
        )));
    }
    if command.contains('\0') {
        return Err(ApiError::invalid("the command must not contain NUL bytes"));
    }
    if req.tty && !req.attach {
        return Err(ApiError::invalid(
            "a terminal (tty) needs an attached process: set attach to true",
        ));
    }
    for (key, value) in &req.env {
        paas_api::validate_config_key(key)?;
        if value.contains('\0') {
            return Err(ApiError::invalid(format!(
                "the value of {key} must not contain NUL bytes"
            )));
        }
    }
    Ok(command.to_owned())
}

/// The image of the app's current release, or a message saying why there is none.
pub async fn current_image(
    state: &AppState,
    app: &AppRow,
) -> Result<(ReleaseRow, String), ApiError> {
    let not_built = || {
        ApiError::invalid(format!(
            "app {:?} has no build to run yet: deploy it first with `git push platform main`",
            app.name
        ))
    };
    let release = state
        .store
        .current_release(&app.id)
        .await?
        .ok_or_else(not_built)?;
    let build_id = release.build_id.clone().ok_or_else(not_built)?;
    let build = state
        .store
        .build_by_id(&build_id)
        .await?
        .ok_or_else(not_built)?;
    let image = build.image.clone().ok_or_else(not_built)?;
    Ok((release, image))
}

/// What `run.N` runs: the release's config, the request's extra environment, and what every
/// process gets, which neither can override.
pub fn spec(
    app: &AppRow,
    release: &ReleaseRow,
    image: String,
    index: u32,
    command: String,
    extra_env: &BTreeMap<String, String>,
    port: u16,
) -> ProcessSpec {
    let mut env = release.config();
    env.extend(extra_env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.insert("PORT".to_owned(), port.to_string());
    env.insert("DYNO".to_owned(), format!("{ONE_OFF}.{index}"));
    env.insert("PAAS_APP".to_owned(), app.name.clone());
    env.insert("PAAS_RELEASE".to_owned(), format!("v{}", release.version));
    ProcessSpec {
        app: app.name.clone(),
        release: release.version,
        process_type: ONE_OFF.to_owned(),
        index,
        image,
        command: Some(command),
        env,
        port: None,
        restarts: 0,
        limits: Limits::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use paas_scheduler::ProcessState;

    fn session(container: &str) -> Session {
        Session {
            app: "shop".into(),
            container: container.into(),
            dyno: "run.1".into(),
            tty: false,
        }
    }

    fn one_off(index: u32) -> Process {
        Process {
            id: format!("c{index}"),
            app: "shop".into(),
            release: 1,
            process_type: ONE_OFF.into(),
            index,
            state: ProcessState::Up,
            addr: None,
            command: Some("sleep 9".into()),
            created_at: Utc::now(),
            restarts: 0,
            exit: None,
        }
    }

    #[test]
    fn attach_urls_work_once() {
        let s = RunSessions::default();
        let secret = s.create(session("c1"));
        assert_eq!(secret.len(), 48);
        assert!(s.is_pending(&secret));
        assert!(s.owns("c1"));
        let (got, guard) = s.take(&secret).expect("first use");
        assert_eq!(got, session("c1"));
        assert!(s.take(&secret).is_none(), "second use");
        assert!(!s.is_pending(&secret));
        assert!(s.owns("c1"), "attached: the pump's");
        drop(guard);
        assert!(!s.owns("c1"), "the pump let go");
        assert!(s.take("not-a-secret").is_none());
    }

    #[test]
    fn attach_urls_expire() {
        let s = RunSessions::with_ttl(Duration::from_millis(20));
        let late = s.create(session("c1"));
        let unused = s.create(session("c2"));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!s.is_pending(&late));
        assert!(s.take(&late).is_none(), "expired");
        let mut expired = s.expire();
        expired.sort_by(|a, b| a.container.cmp(&b.container));
        assert_eq!(expired, vec![session("c1"), session("c2")]);
        assert!(s.take(&unused).is_none());
        assert!(!s.owns("c1") && !s.owns("c2"));
        assert!(s.expire().is_empty());
    }

    #[test]
    fn run_numbers_grow_per_app_and_skip_running_ones() {
        let s = RunSessions::default();
        assert_eq!(s.next_index("shop", &[]), 1);
        assert_eq!(s.next_index("shop", &[]), 2);
        assert_eq!(s.next_index("blog", &[]), 1, "per app");
        // After a daemon restart the count starts over, above what still runs.
        let fresh = RunSessions::default();
        assert_eq!(fresh.next_index("shop", &[one_off(4), one_off(2)]), 5);
        let mut web = one_off(9);
        web.process_type = "web".into();
        assert_eq!(fresh.next_index("shop", &[web]), 6);
    }

    #[test]
    fn requests_are_checked() {
        let ok = DynoCreate {
            command: "  ls -l \n".into(),
            ..Default::default()
        };
        assert_eq!(validate(&ok).unwrap(), "ls -l");
        let bad = [
            DynoCreate::default(),
            DynoCreate {
                command: " \t".into(),
                ..Default::default()
            },
            DynoCreate {
                command: "ls".into(),
                tty: true,
                ..Default::default()
            },
            DynoCreate {
                command: "ls".into(),
                env: BTreeMap::from([("1BAD".into(), "x".into())]),
                ..Default::default()
            },
            DynoCreate {
                command: "a\0b".into(),
                ..Default::default()
            },
            DynoCreate {
                command: "x".repeat(MAX_COMMAND + 1),
                ..Default::default()
            },
        ];
        for req in bad {
            let e = validate(&req).unwrap_err();
            assert_eq!(e.id, "invalid_params", "{req:?}");
        }
    }
}
