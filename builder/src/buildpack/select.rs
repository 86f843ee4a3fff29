//! Which buildpacks a build runs: `BUILDPACK_URL`, else a `.buildpacks` file, else paas's own
//! detected in order. A buildpack is named by a built-in name (`python`), a path on the host,
//! or a git URL (`https://...`, `file://...`, with an optional `#ref`), which is cloned here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{tarball, BuildRequest, BuildpackError, BuildpackSettings};

const CLONE_TIMEOUT: Duration = Duration::from_secs(300);

/// One buildpack, ready to copy into the build container.
#[derive(Debug)]
pub(super) struct Pack {
    pub name: String,
    pub dir: PathBuf,
}

#[derive(Debug)]
pub(super) struct Plan {
    /// Detection picks the first that applies; otherwise all run, and each must apply.
    pub detect: bool,
    pub packs: Vec<Pack>,
    /// What chose the buildpacks, for messages.
    pub chosen_by: String,
    /// Clones live until the build is done.
    _fetched: Vec<tempfile::TempDir>,
}

pub(super) async fn plan(
    settings: &BuildpackSettings,
    req: &BuildRequest,
    log: &mpsc::Sender<String>,
) -> Result<Plan, BuildpackError> {
    let from_config = req
        .config
        .get("BUILDPACK_URL")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty());
    let (specs, chosen_by) = if let Some(url) = from_config {
        (vec![url.to_string()], "BUILDPACK_URL".to_string())
    } else {
        let file = tarball::root_file(&req.source_tar, ".buildpacks")
            .map_err(|e| BuildpackError::io("read", ".buildpacks", e))?;
        match file {
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let specs: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string)
                    .collect();
                if specs.is_empty() {
                    return Err(BuildpackError::Select(
                        ".buildpacks names no buildpack: list one per line (a git URL, a host path or a built-in name)".into(),
                    ));
                }
                (specs, ".buildpacks".to_string())
            }
            None => {
                return Ok(Plan {
                    detect: true,
                    packs: builtins(&settings.buildpacks_dir)?,
                    chosen_by: "detection".into(),
                    _fetched: Vec::new(),
                })
            }
        }
    };
    let mut plan = Plan {
        detect: false,
        packs: Vec::new(),
        chosen_by,
        _fetched: Vec::new(),
    };
    for spec in specs {
        let pack = resolve(settings, &spec, &plan.chosen_by, log, &mut plan._fetched).await?;
        plan.packs.push(pack);
    }
    Ok(plan)
}

/// paas's own buildpacks: those named in `DIR/order` first, in that order, then any others
/// by name.
pub(super) fn builtins(dir: &Path) -> Result<Vec<Pack>, BuildpackError> {
    let missing = || {
        BuildpackError::Select(format!(
            "paas's buildpacks are not at {}: set PAAS_BUILDPACKS_DIR (--buildpacks-dir) to the buildpacks folder of paas (deploy/bootstrap.sh installs it)",
            dir.display()
        ))
    };
    let entries = std::fs::read_dir(dir).map_err(|_| missing())?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("bin/detect").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    let order = std::fs::read_to_string(dir.join("order")).unwrap_or_default();
    let mut ordered: Vec<String> = order
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| names.iter().any(|n| n == l))
        .map(str::to_string)
        .collect();
    for name in names {
        if !ordered.contains(&name) {
            ordered.push(name);
        }
    }
    if ordered.is_empty() {
        return Err(missing());
    }
    Ok(ordered
        .into_iter()
        .map(|name| Pack {
            dir: dir.join(&name),
            name,
        })
        .collect())
}

fn is_builtin_name(spec: &str) -> bool {
    !spec.is_empty()
        && spec
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

async fn resolve(
    settings: &BuildpackSettings,
    spec: &str,
    chosen_by: &str,
    log: &mpsc::Sender<String>,
    fetched: &mut Vec<tempfile::TempDir>,
) -> Result<Pack, BuildpackError> {
    if is_builtin_name(spec) {
        let builtins = builtins(&settings.buildpacks_dir)?;
        let names: Vec<&str> = builtins.iter().map(|p| p.name.as_str()).collect();
        return builtins
            .iter()
            .find(|p| p.name == spec)
            .map(|p| Pack {
                name: p.name.clone(),
                dir: p.dir.clone(),
            })
            .ok_or_else(|| {
                BuildpackError::Select(format!(
                    "{chosen_by} names {spec:?}, which is not a built-in buildpack ({}); give a git URL or an absolute path for others",
                    names.join(", ")
                ))
            });
    }
    let (location, reference) = match spec.split_once('#') {
        Some((l, r)) if !r.is_empty() => (l, Some(r)),
        Some((l, _)) => (l, None),
        None => (spec, None),
    };
    let name = display_name(location);
    if location.starts_with('/') {
        let path = Path::new(location);
        let real = path.canonicalize().map_err(|e| {
            BuildpackError::Select(format!(
                "{chosen_by}: {location} is not readable on the paas host: {e}"
            ))
        })?;
        if settings
            .protected_dirs
            .iter()
            .filter_map(|d| d.canonicalize().ok())
            .any(|d| real.starts_with(d))
        {
            return Err(BuildpackError::Select(format!(
                "{chosen_by}: {location} is inside paas's data directory, which builds may not read"
            )));
        }
        if reference.is_none() && real.join("bin/compile").is_file() {
            return Ok(Pack { name, dir: real });
        }
        if !real.join("HEAD").is_file() && !real.join(".git").exists() {
            return Err(BuildpackError::Select(format!(
                "{chosen_by}: {location} is neither a buildpack (no bin/compile) nor a git repository"
            )));
        }
    } else if !(location.contains("://") || location.starts_with("git@")) {
        return Err(BuildpackError::Select(format!(
            "{chosen_by}: {spec:?} is not a buildpack: give a git URL (https://..., file://...), an absolute path on the paas host, or a built-in name"
        )));
    }
    let _ = log.send(format!("-----> Fetching buildpack {spec}")).await;
    let dir = tempfile::tempdir().map_err(|e| BuildpackError::io("create", "a temp dir", e))?;
    clone(location, reference, dir.path()).await?;
    let pack = Pack {
        name,
        dir: dir.path().to_path_buf(),
    };
    fetched.push(dir);
    Ok(pack)
}

/// The last path segment without `.git`: `https://host/heroku-buildpack-x.git` -> that name.
fn display_name(location: &str) -> String {
    let last = location
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(location);
    let name = last.strip_suffix(".git").unwrap_or(last);
    if name.is_empty() {
        "buildpack".into()
    } else {
        name.to_string()
    }
}

async fn clone(url: &str, reference: Option<&str>, into: &Path) -> Result<(), BuildpackError> {
    let fail = |message: String| BuildpackError::Fetch {
        url: url.to_string(),
        message,
    };
    let mut clone = vec!["clone", "--quiet"];
    if reference.is_none() {
        clone.extend(["--depth", "1"]);
    }
    let target = into
        .to_str()
        .ok_or_else(|| fail("temp dir is not UTF-8".into()))?;
    clone.extend(["--", url, target]);
    git(&clone, None).await.map_err(fail)?;
    if let Some(r) = reference {
        git(&["checkout", "--quiet", r, "--"], Some(into))
            .await
            .map_err(|e| fail(format!("no ref {r:?}: {e}")))?;
    }
    Ok(())
}

async fn git(args: &[&str], cwd: Option<&Path>) -> Result<(), String> {
    let mut cmd = tokio::process::Command::new("git");
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = tokio::time::timeout(CLONE_TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("git {} took over {} s", args[0], CLONE_TIMEOUT.as_secs()))?
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr
            .lines()
            .filter(|l| !l.starts_with("warning:"))
            .collect::<Vec<_>>()
            .join(" ");
        Err(format!("git {} failed: {}", args[0], message.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            display_name("https://github.com/heroku/heroku-buildpack-python.git"),
            "heroku-buildpack-python"
        );
        assert_eq!(display_name("/srv/bp/"), "bp");
        assert_eq!(display_name("git@host:me/x.git"), "x");
        assert!(is_builtin_name("python"));
        assert!(!is_builtin_name("/srv/python"));
        assert!(!is_builtin_name("heroku/python"));
    }

    #[test]
    fn builtins_follow_the_order_file() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a", "b", "c", "not-a-buildpack"] {
            std::fs::create_dir_all(dir.path().join(name).join("bin")).unwrap();
            if name != "not-a-buildpack" {
                std::fs::write(dir.path().join(name).join("bin/detect"), "").unwrap();
            }
        }
        std::fs::write(dir.path().join("order"), "# first\nc\nmissing\na\n").unwrap();
        let names: Vec<String> = builtins(dir.path())
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["c", "a", "b"]);
        let err = builtins(&dir.path().join("nowhere")).unwrap_err();
        assert!(err.to_string().contains("PAAS_BUILDPACKS_DIR"), "{err}");
    }
}
