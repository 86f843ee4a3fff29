//! Who is calling: bearer tokens (JWT signed with a key kept in the data dir), passwords
//! hashed with argon2, and the `AuthUser` extractor every protected handler takes.

use std::path::Path;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::UserRow;

/// API tokens are long-lived like Heroku's; revoking one means deleting the user (for now).
const TOKEN_LIFETIME_SECS: i64 = 365 * 24 * 3600;

pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    name: String,
    iat: i64,
    exp: i64,
}

impl Keys {
    /// Loads the signing key from `DATA_DIR/secrets/jwt.key`, generating it on first start.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Keys> {
        let dir = data_dir.join("secrets");
        let path = dir.join("jwt.key");
        let secret = match std::fs::read(&path) {
            Ok(bytes) if bytes.len() >= 32 => bytes,
            _ => {
                std::fs::create_dir_all(&dir)?;
                let mut bytes = vec![0u8; 64];
                rand::thread_rng().fill_bytes(&mut bytes);
                paas_api::private_file::write(&path, &bytes)?;
                bytes
            }
        };
        Ok(Keys {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
        })
    }

    pub fn issue(&self, user: &UserRow) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.id.clone(),
            name: user.name.clone(),
            iat: now,
            exp: now + TOKEN_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&Header::default(), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    /// The user id a valid token names.
    fn verify(&self, token: &str) -> Option<String> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &Validation::default())
            .ok()
            .map(|d| d.claims.sub)
    }
}

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The authenticated caller, loaded fresh from the store on every request (so a deleted user's
/// token stops working and admin rights are current).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub name: String,
    pub admin: bool,
}

/// The token from `Authorization: Bearer T`, or the password of `Authorization: Basic` (git).
fn token_from(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_, password) = decoded.split_once(':')?;
        return Some(password.to_string());
    }
    None
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<AuthUser, ApiError> {
        let token = token_from(parts).ok_or_else(|| {
            ApiError::unauthorized(
                "no API token: send `Authorization: Bearer TOKEN` (run `paas login`)",
            )
        })?;
        let invalid =
            || ApiError::unauthorized("invalid or expired API token: run `paas login` again");
        let user_id = state.keys.verify(&token).ok_or_else(invalid)?;
        let user = state
            .store
            .user_by_id(&user_id)
            .await?
            .ok_or_else(invalid)?;
        Ok(AuthUser {
            id: user.id,
            name: user.name,
            admin: user.admin,
        })
    }
}

impl AuthUser {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("only an admin can do this"))
        }
    }
}
