use axum::extract::{Path, State};
use paas_api::{validate_config_key, ConfigVars, ConfigVarsPatch};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::routes::releases::deploy_release;
use crate::state::AppState;

pub async fn get_config_vars(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<ConfigVars>> {
    let app = state.app_for(&user, &name).await?;
    Ok(ApiJson(state.store.config_vars(&app.id).await?))
}

/// Every change is a new release carrying the new config; the processes are replaced with it.
pub async fn update_config_vars(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(patch): ApiJson<ConfigVarsPatch>,
) -> ApiResult<ApiJson<ConfigVars>> {
    let app = state.app_for(&user, &name).await?;
    for key in patch.keys() {
        validate_config_key(key)?;
    }
    if patch.is_empty() {
        return Err(ApiError::invalid(
            "no config vars given: send {\"KEY\": \"value\"} or {\"KEY\": null} to unset",
        ));
    }
    let release = state
        .store
        .change_config(&app.id, &patch, describe(&patch), &user.id)
        .await?;
    deploy_release(&state, &app, &release).await?;
    Ok(ApiJson(state.store.config_vars(&app.id).await?))
}

/// Heroku's wording: "Set A, B config vars", "Unset C config vars".
fn describe(patch: &ConfigVarsPatch) -> String {
    let set: Vec<&str> = patch
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k.as_str())
        .collect();
    let unset: Vec<&str> = patch
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    match (set.is_empty(), unset.is_empty()) {
        (false, true) => format!("Set {} config vars", set.join(", ")),
        (true, false) => format!("Unset {} config vars", unset.join(", ")),
        _ => format!(
            "Set {}; unset {} config vars",
            set.join(", "),
            unset.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions() {
        let p = ConfigVarsPatch::from([
            ("A".into(), Some("1".into())),
            ("B".into(), Some("2".into())),
        ]);
        assert_eq!(describe(&p), "Set A, B config vars");
        let p = ConfigVarsPatch::from([("A".into(), None)]);
        assert_eq!(describe(&p), "Unset A config vars");
        let p = ConfigVarsPatch::from([("A".into(), None), ("B".into(), Some("x".into()))]);
        assert_eq!(describe(&p), "Set B; unset A config vars");
    }
}
