use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, Result};

/// The repository's `examples/` folder.
pub fn examples_dir() -> PathBuf {
    crate::repo_dir().join("examples")
}

/// `git ARGS` in `dir`, isolated from the user's git config.
pub fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "paas test")
        .env("GIT_AUTHOR_EMAIL", "test@paas.invalid")
        .env("GIT_COMMITTER_NAME", "paas test")
        .env("GIT_COMMITTER_EMAIL", "test@paas.invalid")
        .output()
        .expect("run git")
}

/// A fresh git checkout (branch master) holding a copy of `examples/NAME`.
pub fn copy_example(name: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    copy_dir(&examples_dir().join(name), dir.path())?;
    let out = git(dir.path(), &["init", "-q", "-b", "master"]);
    if !out.status.success() {
        bail!("git init: {}", String::from_utf8_lossy(&out.stderr));
    }
    commit_all(dir.path(), "initial")?;
    Ok(dir)
}

pub fn commit_all(dir: &Path, message: &str) -> Result<()> {
    for args in [
        &["add", "-A"][..],
        &["commit", "-q", "--allow-empty", "-m", message][..],
    ] {
        let out = git(dir, args);
        if !out.status.success() {
            bail!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
