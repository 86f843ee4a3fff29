use axum::extract::State;
use axum::http::StatusCode;
use paas_api::{Account, Credentials, TokenResponse};

use crate::auth::{hash_password, verify_password, AuthUser};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use crate::views;

fn check_credentials(c: &Credentials) -> ApiResult<()> {
    let name_ok = (2..=40).contains(&c.username.len())
        && c.username
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.@".contains(ch));
    if !name_ok {
        return Err(ApiError::invalid(format!(
            "invalid username {:?}: use 2 to 40 letters, digits, '-', '_', '.' or '@'",
            c.username
        )));
    }
    if c.password.len() < 8 {
        return Err(ApiError::invalid(
            "password too short: use at least 8 characters",
        ));
    }
    Ok(())
}

/// The first user becomes admin; after that registration is closed unless the operator opened it.
pub async fn register(
    State(state): State<AppState>,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, ApiJson<TokenResponse>)> {
    check_credentials(&c)?;
    if !state.settings.open_registration && state.store.count_users().await? > 0 {
        return Err(ApiError::forbidden(
            "registration is closed: ask an admin to create your user with `paas users:create`",
        ));
    }
    let user = state
        .store
        .create_user(&c.username, &hash_password(&c.password)?, true)
        .await?;
    tracing::info!(user = %user.name, admin = user.admin, "user registered");
    let token = state.keys.issue(&user)?;
    Ok((
        StatusCode::CREATED,
        ApiJson(TokenResponse {
            token,
            user: views::account(&user),
        }),
    ))
}

pub async fn login(
    State(state): State<AppState>,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<ApiJson<TokenResponse>> {
    let user = state.store.user_by_name(&c.username).await?;
    match user {
        Some(user) if verify_password(&c.password, &user.password_hash) => {
            let token = state.keys.issue(&user)?;
            Ok(ApiJson(TokenResponse {
                token,
                user: views::account(&user),
            }))
        }
        _ => Err(ApiError::unauthorized("wrong username or password")),
    }
}

pub async fn get_account(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<ApiJson<Account>> {
    let row = state
        .store
        .user_by_id(&user.id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("user no longer exists"))?;
    Ok(ApiJson(views::account(&row)))
}

pub async fn list_users(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<ApiJson<Vec<Account>>> {
    user.require_admin()?;
    let users = state.store.list_users().await?;
    Ok(ApiJson(users.iter().map(views::account).collect()))
}

pub async fn create_user(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, ApiJson<Account>)> {
    user.require_admin()?;
    check_credentials(&c)?;
    let created = state
        .store
        .create_user(&c.username, &hash_password(&c.password)?, false)
        .await?;
    tracing::info!(user = %created.name, by = %user.name, "user created");
    Ok((StatusCode::CREATED, ApiJson(views::account(&created))))
}
