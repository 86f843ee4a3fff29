//! Sign-in sessions: the browser holds only a random id in an HttpOnly cookie; the API token
//! it stands for never leaves the server. Kept in memory and, when given a file, written there
//! on every sign-in and sign-out, so a restart of paasd signs no one out.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use rand::RngCore;

pub const SESSION_COOKIE: &str = "paas_session";
/// Guards the sign-in form itself (there is no session yet to tie its token to).
pub const LOGIN_COOKIE: &str = "paas_login_csrf";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlashKind {
    Notice,
    Error,
}

/// A message for the next page shown, after a form's redirect.
#[derive(Debug, Clone)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

impl Flash {
    pub fn notice(message: impl Into<String>) -> Flash {
        Flash {
            kind: FlashKind::Notice,
            message: message.into(),
        }
    }
    pub fn error(message: impl Into<String>) -> Flash {
        Flash {
            kind: FlashKind::Error,
            message: message.into(),
        }
    }
    pub fn is_error(&self) -> bool {
        self.kind == FlashKind::Error
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub id: String,
    pub token: String,
    pub user: String,
    pub admin: bool,
    /// Every form carries it; a POST without it is refused.
    pub csrf: String,
    /// Wall-clock time, so it means the same after a restart.
    expires: SystemTime,
    #[serde(skip)]
    flash: Option<Flash>,
}

pub struct Sessions {
    lifetime: Duration,
    map: Mutex<HashMap<String, Session>>,
    file: Option<PathBuf>,
}

impl Sessions {
    pub fn new(lifetime: Duration) -> Sessions {
        Sessions {
            lifetime,
            map: Mutex::new(HashMap::new()),
            file: None,
        }
    }

    /// Sessions kept in `file` too (created 0600; its directory must exist). Live sessions
    /// saved by an earlier run are loaded; an unreadable file is reported and started afresh.
    pub fn with_file(lifetime: Duration, file: PathBuf) -> Sessions {
        let now = SystemTime::now();
        let map = match std::fs::read(&file) {
            Ok(bytes) => match serde_json::from_slice::<Vec<Session>>(&bytes) {
                Ok(saved) => saved
                    .into_iter()
                    .filter(|s| s.expires > now)
                    .map(|s| (s.id.clone(), s))
                    .collect(),
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e,
                        "dashboard sessions file unreadable; everyone signs in again");
                    HashMap::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e,
                    "cannot read dashboard sessions; everyone signs in again");
                HashMap::new()
            }
        };
        Sessions {
            lifetime,
            map: Mutex::new(map),
            file: Some(file),
        }
    }

    /// Writes the sessions to the file (whole, then renamed into place, so a crash mid-write
    /// leaves the previous one).
    fn save(&self, map: &HashMap<String, Session>) {
        let Some(file) = &self.file else { return };
        let sessions: Vec<&Session> = map.values().collect();
        let result = serde_json::to_vec(&sessions)
            .map_err(std::io::Error::other)
            .and_then(|bytes| paas_api::private_file::replace(file, &bytes));
        if let Err(e) = result {
            tracing::warn!(file = %file.display(), error = %e,
                "cannot save dashboard sessions; they last until paasd stops");
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub fn create(&self, token: String, user: String, admin: bool) -> Session {
        let session = Session {
            id: random_token(),
            token,
            user,
            admin,
            csrf: random_token(),
            expires: SystemTime::now() + self.lifetime,
            flash: None,
        };
        let mut map = self.map.lock().expect("sessions poisoned");
        let now = SystemTime::now();
        map.retain(|_, s| s.expires > now);
        map.insert(session.id.clone(), session.clone());
        self.save(&map);
        session
    }

    /// The live session with this id; an expired one is forgotten.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().expect("sessions poisoned");
        match map.get(id) {
            Some(s) if s.expires > SystemTime::now() => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, id: &str) {
        let mut map = self.map.lock().expect("sessions poisoned");
        if map.remove(id).is_some() {
            self.save(&map);
        }
    }

    pub fn set_flash(&self, id: &str, flash: Flash) {
        if let Some(s) = self.map.lock().expect("sessions poisoned").get_mut(id) {
            s.flash = Some(flash);
        }
    }

    pub fn take_flash(&self, id: &str) -> Option<Flash> {
        self.map
            .lock()
            .expect("sessions poisoned")
            .get_mut(id)
            .and_then(|s| s.flash.take())
    }
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares in time independent of where the inputs differ, so a token cannot be guessed
/// byte by byte from response times.
pub fn same_token(a: &str, b: &str) -> bool {
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A `Set-Cookie` value. HttpOnly always: no script needs these.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: Duration,
    same_site: &str,
    secure: bool,
) -> String {
    let mut c = format!(
        "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite={same_site}",
        max_age.as_secs()
    );
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn sessions_expire_and_can_be_removed() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let s = sessions.create("tok".into(), "ann".into(), false);
        assert_eq!(sessions.get(&s.id).unwrap().token, "tok");
        assert_ne!(s.id, s.csrf);
        std::thread::sleep(Duration::from_millis(60));
        assert!(sessions.get(&s.id).is_none(), "expired");

        let sessions = Sessions::new(Duration::from_secs(60));
        let s = sessions.create("tok".into(), "ann".into(), false);
        sessions.set_flash(&s.id, Flash::notice("hi"));
        assert_eq!(sessions.take_flash(&s.id).unwrap().message, "hi");
        assert!(sessions.take_flash(&s.id).is_none(), "shown once");
        sessions.remove(&s.id);
        assert!(sessions.get(&s.id).is_none());
    }

    #[test]
    fn sessions_in_a_file_outlive_the_process_that_made_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sessions.json");
        let first = Sessions::with_file(Duration::from_secs(60), file.clone());
        let kept = first.create("tok1".into(), "ann".into(), true);
        let gone = first.create("tok2".into(), "bob".into(), false);
        first.remove(&gone.id);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the file holds API tokens");

        let second = Sessions::with_file(Duration::from_secs(60), file.clone());
        let loaded = second.get(&kept.id).expect("kept across a restart");
        assert_eq!((loaded.token.as_str(), loaded.admin), ("tok1", true));
        assert_eq!(loaded.csrf, kept.csrf);
        assert!(second.get(&gone.id).is_none(), "signed out stays out");

        // Expired ones are not loaded; a broken file means signing in again, not a failure.
        let short = Sessions::with_file(Duration::from_millis(10), file.clone());
        short.create("tok3".into(), "cy".into(), false);
        std::thread::sleep(Duration::from_millis(20));
        assert!(Sessions::with_file(Duration::from_secs(60), file.clone())
            .map
            .lock()
            .unwrap()
            .values()
            .all(|s| s.token != "tok3"));
        std::fs::write(&file, b"not json").unwrap();
        let fresh = Sessions::with_file(Duration::from_secs(60), file);
        assert!(fresh.get(&kept.id).is_none());
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", ""), "an empty token never matches");
        assert_eq!(random_token().len(), 64);
        assert_ne!(random_token(), random_token());
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; paas_session=xyz"));
        h.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "paas"), None);
        let c = set_cookie("n", "v", "/dashboard", Duration::from_secs(60), "Lax", true);
        assert_eq!(
            c,
            "n=v; Path=/dashboard; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
    }
}
