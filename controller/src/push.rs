//! A `git push` as the pre-receive hook reports it: export the pushed commit, build it, make a
//! release and deploy it, narrating to the pusher. Any failure rejects the push and leaves the
//! running release alone.

use std::path::PathBuf;

use paas_builder::hook::{HookRequest, RefUpdate};
use paas_builder::{dockerfile, procfile, source};
use tokio::sync::mpsc;

use crate::deploy::process_commands;
use crate::state::AppState;
use crate::store::{AppRow, NewRelease};

const DEPLOY_BRANCHES: [&str; 2] = ["refs/heads/master", "refs/heads/main"];
const ZERO: &str = "0000000000000000000000000000000000000000";

/// Narrates to the pusher and keeps the whole log for the build record.
struct Narrator {
    tx: mpsc::Sender<String>,
    log: Vec<String>,
    /// The app's log stream gets the build output too (source `build`).
    stream: Option<(std::sync::Arc<paas_telemetry::LogHub>, String)>,
}

impl Narrator {
    async fn say(&mut self, line: impl Into<String>) {
        let line = line.into();
        if let Some((hub, app)) = &self.stream {
            let text = line.trim_start_matches(' ').to_string();
            hub.publish(
                app,
                paas_telemetry::LogLine::new(paas_telemetry::Source::Build, None, text),
            );
        }
        self.log.push(line.clone());
        // The pusher may have hung up; the build still completes and is recorded.
        let _ = self.tx.send(line).await;
    }
}

/// Runs the whole push; returns whether git should accept it.
pub async fn handle_push(state: AppState, req: HookRequest, tx: mpsc::Sender<String>) -> bool {
    let mut out = Narrator {
        tx,
        log: Vec::new(),
        stream: None,
    };
    let Some(app) = state.store.app_by_name(&req.app).await.ok().flatten() else {
        out.say(format!("app {:?} no longer exists", req.app)).await;
        return false;
    };
    out.stream = Some((state.logs.clone(), app.name.clone()));
    let deploy: Vec<&RefUpdate> = req
        .refs
        .iter()
        .filter(|r| DEPLOY_BRANCHES.contains(&r.name.as_str()))
        .collect();
    if let Some(deleted) = deploy.iter().find(|r| r.new == ZERO) {
        out.say(format!(
            "deleting {} is not allowed: it is the branch paas deploys",
            deleted.name
        ))
        .await;
        return false;
    }
    let Some(update) = deploy.first() else {
        let names: Vec<&str> = req.refs.iter().map(|r| r.name.as_str()).collect();
        out.say(format!(
            "-----> Pushed {}; only master or main deploy",
            names.join(", ")
        ))
        .await;
        return true;
    };
    match build_and_release(&state, &app, &req, update, &mut out).await {
        Ok(()) => true,
        Err(message) => {
            out.say(format!(" !     {message}")).await;
            out.say(" !     Push rejected; the running release is unchanged.")
                .await;
            false
        }
    }
}

async fn build_and_release(
    state: &AppState,
    app: &AppRow,
    req: &HookRequest,
    update: &RefUpdate,
    out: &mut Narrator,
) -> Result<(), String> {
    let store = &state.store;
    let short = &update.new[..update.new.len().min(7)];
    let build = store
        .create_build(&app.id, &req.user, &update.new)
        .await
        .map_err(|e| e.to_string())?;
    out.say(format!("-----> Building {} from commit {short}", app.name))
        .await;
    tracing::info!(app = %app.name, build = %build.id, commit = %update.new, "build started");

    let result = build_image(state, app, req, update, &build.id, out).await;
    let (image, types) = match &result {
        Ok((image, types)) => (Some(image.as_str()), types.clone()),
        Err(_) => (None, Default::default()),
    };
    let output = out.log.join("\n");
    store
        .finish_build(&build.id, result.is_ok(), image, &types, &output)
        .await
        .map_err(|e| e.to_string())?;
    let (_, types) = result?;

    let commands = process_commands(&types);
    let type_names: Vec<String> = commands.keys().cloned().collect();
    out.say(format!("-----> Process types: {}", type_names.join(", ")))
        .await;
    store
        .add_process_types(&app.id, &type_names)
        .await
        .map_err(|e| e.to_string())?;
    let release = store
        .release_build(
            &app.id,
            NewRelease {
                build_id: Some(&build.id),
                description: format!("Deploy {short}"),
                user_id: &req.user,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    out.say(format!("-----> Launching v{}...", release.version))
        .await;
    state
        .deployer
        .release(app, &release, Some(out.tx.clone()))
        .await
        .map_err(|e| e.to_string())?;
    out.say(format!("       Released v{}", release.version))
        .await;
    out.say(format!(
        "       {} deployed to paas",
        state.settings.web_url(&app.name)
    ))
    .await;
    Ok(())
}

/// Export, check and build; returns the image id and the Procfile's process types.
async fn build_image(
    state: &AppState,
    app: &AppRow,
    req: &HookRequest,
    update: &RefUpdate,
    build_id: &str,
    out: &mut Narrator,
) -> Result<(String, std::collections::BTreeMap<String, String>), String> {
    let repo = PathBuf::from(&req.repo);
    let quarantine = req.quarantine.clone().map(PathBuf::from);
    let commit = update.new.clone();
    let src =
        tokio::task::spawn_blocking(move || source::export(&repo, &commit, quarantine.as_deref()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    let types = match &src.procfile {
        Some(text) => procfile::parse(text).map_err(|e| format!("Procfile: {e}"))?,
        None => Default::default(),
    };
    if !src.has_dockerfile {
        // Buildpack output is already formatted (`-----> ...`), so it is relayed as it is.
        let (log_tx, mut log_rx) = mpsc::channel::<String>(256);
        let build = crate::buildpacks::build(state, app, build_id, src, types, log_tx);
        tokio::pin!(build);
        return loop {
            tokio::select! {
                Some(line) = log_rx.recv() => out.say(line).await,
                result = &mut build => {
                    while let Ok(line) = log_rx.try_recv() {
                        out.say(line).await;
                    }
                    break result;
                }
            }
        };
    }
    out.say("-----> Building with the Dockerfile").await;
    let dockerfile = src.dockerfile.clone().unwrap_or_default();
    dockerfile::check(&state.docker, &dockerfile)
        .await
        .map_err(|e| e.to_string())?;

    let tag = crate::images::tag(&app.name, build_id);
    let (log_tx, mut log_rx) = mpsc::channel::<String>(256);
    let build = dockerfile::build(
        &state.docker,
        src.tar,
        &tag,
        &state.settings.build_limits,
        log_tx,
    );
    tokio::pin!(build);
    let image = loop {
        tokio::select! {
            Some(line) = log_rx.recv() => out.say(format!("       {line}")).await,
            result = &mut build => {
                while let Ok(line) = log_rx.try_recv() {
                    out.say(format!("       {line}")).await;
                }
                break result.map_err(|e| e.to_string())?;
            }
        }
    };
    out.say(format!("-----> Built image {tag}")).await;
    Ok((image, types))
}
