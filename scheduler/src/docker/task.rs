//! One-shot tasks (the release phase): run a container to its end, relaying its output.

use std::time::Duration;

use bollard::query_parameters::{InspectContainerOptions, WaitContainerOptions};
use chrono::Utc;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{engine, logs, DockerRuntime};
use crate::runtime::{Exit, LogsFrom, ProcessSpec, Runtime};
use crate::RuntimeError;

/// What `timeout` reports as the exit code, as coreutils' `timeout` does.
const TIMED_OUT: i64 = 124;

pub(super) async fn run(
    rt: &DockerRuntime,
    spec: &ProcessSpec,
    timeout: Duration,
    output: mpsc::Sender<String>,
) -> Result<Exit, RuntimeError> {
    let process = rt.start(spec).await?;
    let relay = {
        let mut lines = logs::stream(
            &rt.docker,
            &process,
            LogsFrom::Since(process.created_at),
            true,
        );
        async move {
            while let Some(line) = lines.next().await {
                if output.send(line.line).await.is_err() {
                    break;
                }
            }
        }
    };
    let wait = async {
        let mut waits = rt
            .docker
            .wait_container(&process.id, None::<WaitContainerOptions>);
        // The engine reports a non-zero exit as an error item; the inspect below says which.
        let _ = waits.next().await;
    };
    let finished = tokio::time::timeout(timeout, async {
        tokio::join!(wait, relay);
    })
    .await;
    let exit = match finished {
        Ok(()) => {
            let state = rt
                .docker
                .inspect_container(&process.id, None::<InspectContainerOptions>)
                .await
                .map_err(engine)?
                .state
                .unwrap_or_default();
            Exit {
                code: state.exit_code.unwrap_or(-1),
                oom_killed: state.oom_killed.unwrap_or_default(),
                finished_at: Utc::now(),
            }
        }
        Err(_) => Exit {
            code: TIMED_OUT,
            oom_killed: false,
            finished_at: Utc::now(),
        },
    };
    rt.remove(&process.id, 0).await?;
    Ok(exit)
}
