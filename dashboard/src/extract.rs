//! Who is asking (the session behind the cookie) and the forms they post, each checked for
//! its CSRF token before anything else is read from it.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::Form;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::DashboardError;
use crate::session::{cookie, same_token, Session, SESSION_COOKIE};
use crate::Shared;

/// A signed-in user's live session.
pub struct SignedIn(pub Session);

impl FromRequestParts<Shared> for SignedIn {
    type Rejection = DashboardError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> Result<Self, Self::Rejection> {
        cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|id| state.sessions.get(id))
            .map(SignedIn)
            .ok_or(DashboardError::SignedOut)
    }
}

impl SignedIn {
    pub fn token(&self) -> &str {
        &self.0.token
    }
}

/// A form posted by a signed-in user, with a valid CSRF token.
pub struct Post<T> {
    pub session: Session,
    pub form: T,
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Reads a urlencoded body. The body was read once already, so a request is made anew from
/// its bytes for each reading.
pub async fn parse_form<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, DashboardError> {
    let req = Request::builder()
        .method(Method::POST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(bytes.clone()))
        .expect("static request parts");
    Form::<T>::from_request(req, &())
        .await
        .map(|Form(t)| t)
        .map_err(|e| DashboardError::BadForm(format!("The form was incomplete: {}", e.body_text())))
}

/// The CSRF token the form carried, if any.
pub async fn form_csrf(bytes: &Bytes) -> String {
    parse_form::<CsrfField>(bytes)
        .await
        .map(|f| f.csrf)
        .unwrap_or_default()
}

impl<T: DeserializeOwned> FromRequest<Shared> for Post<T> {
    type Rejection = DashboardError;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let SignedIn(session) = SignedIn::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), &())
            .await
            .map_err(|_| DashboardError::BadForm("The form could not be read.".into()))?;
        if !same_token(&form_csrf(&bytes).await, &session.csrf) {
            tracing::warn!(user = %session.user, "dashboard form refused: bad CSRF token");
            return Err(DashboardError::Csrf);
        }
        let form = parse_form(&bytes).await?;
        Ok(Post { session, form })
    }
}
