//! Sign-in sessions, kept in memory: the browser holds only a random id in an HttpOnly cookie;
//! the API token it stands for never leaves the server. A restart of paasd signs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub token: String,
    pub user: String,
    pub admin: bool,
    /// Every form carries it; a POST without it is refused.
    pub csrf: String,
    expires: Instant,
    flash: Option<Flash>,
}

pub struct Sessions {
    lifetime: Duration,
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    pub fn new(lifetime: Duration) -> Sessions {
        Sessions {
            lifetime,
            map: Mutex::new(HashMap::new()),
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
            expires: Instant::now() + self.lifetime,
            flash: None,
        };
        let mut map = self.map.lock().expect("sessions poisoned");
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        map.insert(session.id.clone(), session.clone());
        session
    }

    /// The live session with this id; an expired one is forgotten.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().expect("sessions poisoned");
        match map.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, id: &str) {
        self.map.lock().expect("sessions poisoned").remove(id);
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
