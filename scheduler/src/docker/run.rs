//! One-off processes (`paas run`): containers of a release that no formation owns, attached to
//! whoever started them or running in the background.

use std::collections::HashMap;

use bollard::container::LogOutput;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, InspectContainerOptions, ResizeContainerTTYOptionsBuilder,
    StartContainerOptions, WaitContainerOptionsBuilder,
};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::{engine, host_config, message, status, validate, DockerRuntime};
use crate::runtime::{Attachment, Exit, OneOffMode, Output, Process, ProcessSpec, Runtime};
use crate::{labels, RuntimeError, ONE_OFF};

/// The engine's detach sequence ends an attachment when typed into a terminal (Ctrl-P Ctrl-Q
/// by default, which shells bind to history). It cannot be turned off, so it is made one
/// nobody types by accident.
const DETACH_KEYS: &str = "ctrl-@,ctrl-^,ctrl-_,ctrl-@,ctrl-^,ctrl-_";

pub(super) async fn create(
    rt: &DockerRuntime,
    spec: &ProcessSpec,
    mode: OneOffMode,
) -> Result<Process, RuntimeError> {
    validate(spec)?;
    if spec.process_type != ONE_OFF {
        return Err(RuntimeError::Invalid(format!(
            "one-off processes have process type {ONE_OFF:?}, not {:?}",
            spec.process_type
        )));
    }
    let Some(command) = spec.command.as_deref().filter(|c| !c.trim().is_empty()) else {
        return Err(RuntimeError::Invalid(
            "a one-off process needs a command".into(),
        ));
    };
    let (attached, tty) = match mode {
        OneOffMode::Attached { tty } => (true, tty),
        OneOffMode::Detached => (false, false),
    };
    let container_labels = HashMap::from([
        (labels::INSTANCE.to_owned(), rt.instance.clone()),
        (labels::APP.to_owned(), spec.app.clone()),
        (labels::RELEASE.to_owned(), spec.release.to_string()),
        (labels::PROCESS.to_owned(), spec.process_type.clone()),
        (labels::INDEX.to_owned(), spec.index.to_string()),
        (labels::COMMAND.to_owned(), command.to_owned()),
        (
            labels::ONE_OFF.to_owned(),
            if attached { "attached" } else { "detached" }.to_owned(),
        ),
    ]);
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        cmd: Some(vec!["/bin/sh".into(), "-c".into(), command.to_owned()]),
        labels: Some(container_labels),
        tty: Some(tty),
        open_stdin: Some(attached),
        // The engine closes the process's stdin when the attached client closes its own: that
        // is how end of input reaches `cat` or `wc`.
        stdin_once: Some(attached),
        attach_stdin: Some(attached),
        attach_stdout: Some(attached),
        attach_stderr: Some(attached),
        host_config: Some(host_config(spec)),
        ..Default::default()
    };

    let (id, name) = rt.create(spec, body).await?;
    if !attached {
        if let Err(e) = rt
            .docker
            .start_container(&id, None::<StartContainerOptions>)
            .await
        {
            discard(rt, &id).await;
            return Err(RuntimeError::Engine(format!(
                "starting {name}: {}",
                message(&e)
            )));
        }
    }
    tracing::info!(app = %spec.app, release = spec.release, process = %format!("{ONE_OFF}.{}", spec.index), container = %name, attached, tty, "one-off created");
    let mut found = rt
        .list_with(HashMap::from([("id", vec![id.clone()])]))
        .await?;
    found.pop().ok_or_else(|| {
        RuntimeError::Engine(format!("container {name} vanished right after creation"))
    })
}

pub(super) async fn attach(rt: &DockerRuntime, id: &str) -> Result<Attachment, RuntimeError> {
    let options = AttachContainerOptionsBuilder::new()
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .logs(false)
        .detach_keys(DETACH_KEYS)
        .build();
    let attached = rt
        .docker
        .attach_container(id, Some(options))
        .await
        .map_err(engine)?;
    // Started only now, so its first bytes already have somewhere to go.
    if let Err(e) = rt
        .docker
        .start_container(id, None::<StartContainerOptions>)
        .await
    {
        return Err(RuntimeError::Engine(format!(
            "starting the one-off process: {}",
            message(&e)
        )));
    }
    let output = attached.output.filter_map(|chunk| async move {
        match chunk {
            Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                Some(Ok(Output::Stdout(message)))
            }
            Ok(LogOutput::StdErr { message }) => Some(Ok(Output::Stderr(message))),
            Ok(LogOutput::StdIn { .. }) => None,
            Err(e) => Some(Err(engine(e))),
        }
    });
    Ok(Attachment {
        output: Box::pin(output),
        input: attached.input,
    })
}

pub(super) async fn resize(
    rt: &DockerRuntime,
    id: &str,
    cols: u16,
    rows: u16,
) -> Result<(), RuntimeError> {
    let options = ResizeContainerTTYOptionsBuilder::new()
        .w(i32::from(cols))
        .h(i32::from(rows))
        .build();
    rt.docker
        .resize_container_tty(id, options)
        .await
        .map_err(engine)
}

pub(super) async fn wait(rt: &DockerRuntime, id: &str) -> Result<Exit, RuntimeError> {
    let options = WaitContainerOptionsBuilder::new()
        .condition("not-running")
        .build();
    let mut waits = rt.docker.wait_container(id, Some(options));
    // A non-zero exit arrives as an error item; the inspect below tells every exit apart.
    match waits.next().await {
        Some(Err(e)) if status(&e) == Some(404) => {
            return Err(RuntimeError::Engine(format!(
                "process {id} no longer exists"
            )))
        }
        Some(Err(bollard::errors::Error::DockerContainerWaitError { .. })) | Some(Ok(_)) => {}
        Some(Err(e)) => return Err(engine(e)),
        None => {}
    }
    let state = rt
        .docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .map_err(engine)?
        .state
        .unwrap_or_default();
    Ok(Exit {
        code: state.exit_code.unwrap_or(-1),
        oom_killed: state.oom_killed.unwrap_or_default(),
        finished_at: state
            .finished_at
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc)),
    })
}

async fn discard(rt: &DockerRuntime, id: &str) {
    if let Err(e) = rt.remove(id, 0).await {
        tracing::warn!(container = id, error = %e, "removing a one-off that failed to start");
    }
}
