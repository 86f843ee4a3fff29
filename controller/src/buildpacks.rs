//! Buildpack builds of pushes without a Dockerfile: the app's config vars become `ENV_DIR`, its
//! cache lives in `DATA_DIR/cache/APP`, and the Procfile's process types override the
//! buildpacks' defaults.

use std::collections::BTreeMap;

use paas_builder::buildpack::{self, BuildRequest};
use paas_builder::source::Source;
use tokio::sync::mpsc;

use crate::state::AppState;
use crate::store::AppRow;

/// Builds `src` with buildpacks; returns the image id and the process types. Build output goes
/// to `log` line by line, already formatted for the pusher (`-----> ...`).
pub async fn build(
    state: &AppState,
    app: &AppRow,
    build_id: &str,
    src: Source,
    procfile: BTreeMap<String, String>,
    log: mpsc::Sender<String>,
) -> Result<(String, BTreeMap<String, String>), String> {
    let config = state
        .store
        .config_vars(&app.id)
        .await
        .map_err(|e| e.to_string())?;
    let tag = crate::images::tag(&app.name, build_id);
    let req = BuildRequest {
        app: app.name.clone(),
        commit: src.commit,
        source_tar: src.tar,
        config,
        cache_dir: crate::images::cache_dir(&state.settings.data_dir, &app.name),
        tag: tag.clone(),
        limits: state.settings.build_limits.clone(),
    };
    let _ = log
        .send("-----> No Dockerfile: building with buildpacks".to_string())
        .await;
    let built = buildpack::build(&state.docker, &state.settings.buildpacks, &req, log.clone())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(app = %app.name, buildpacks = ?built.buildpacks, dependencies_reused = built.dependencies_reused, "buildpack build done");
    let mut types = built.default_process_types;
    if !types.is_empty() && !procfile.is_empty() {
        let overridden: Vec<&str> = types
            .keys()
            .filter(|t| procfile.contains_key(*t))
            .map(String::as_str)
            .collect();
        if !overridden.is_empty() {
            let _ = log
                .send(format!(
                    "-----> The Procfile overrides the buildpack's default {}",
                    overridden.join(", ")
                ))
                .await;
        }
    }
    types.extend(procfile);
    let _ = log.send(format!("-----> Built image {tag}")).await;
    Ok((built.image, types))
}
