use std::path::PathBuf;

use thiserror::Error;

/// Failures of the git side: repositories, `git` processes, source export.
#[derive(Debug, Error)]
pub enum BuilderError {
    #[error("git repository {} does not exist: create the app first", path.display())]
    RepoMissing { path: PathBuf },

    #[error("the hook program {} must be an absolute path: git runs hooks from inside the repository", .0.display())]
    RelativeHookProgram(PathBuf),

    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not run `{command}`: {source} (is git installed on the paas host?)")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`{command}` failed ({status}): {stderr}")]
    GitCommand {
        command: String,
        status: String,
        stderr: String,
    },

    #[error("reading git repository {}: {source}", repo.display())]
    Git {
        repo: PathBuf,
        #[source]
        source: git2::Error,
    },

    #[error("commit {commit:?} is not in {} (a push still in pre-receive needs its quarantine directory)", repo.display())]
    CommitNotFound { commit: String, repo: PathBuf },

    #[error("{file} in commit {commit} is not UTF-8 text: save it as UTF-8")]
    NotUtf8 { file: &'static str, commit: String },

    #[error("the quarantine directory {} is not a UTF-8 path", .0.display())]
    QuarantinePath(PathBuf),
}

impl BuilderError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        BuilderError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
