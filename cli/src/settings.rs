//! Where the CLI finds its API URL and token: the environment first, then the config file that
//! `paas login` writes.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub const ENV_API_URL: &str = "PAAS_API_URL";
pub const ENV_TOKEN: &str = "PAAS_TOKEN";

const NOT_LOGGED_IN: &str =
    "not logged in: run `paas login --api URL ...` or set PAAS_API_URL and PAAS_TOKEN";

/// The contents of `config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileSettings {
    pub api_url: Option<String>,
    pub token: Option<String>,
}

/// What an authenticated command needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub api_url: String,
    pub token: String,
}

/// `$XDG_CONFIG_HOME/paas/config.toml`, else `$HOME/.config/paas/config.toml`.
pub fn config_path() -> Result<PathBuf> {
    config_path_from(env_var("XDG_CONFIG_HOME"), env_var("HOME"))
}

fn config_path_from(xdg: Option<String>, home: Option<String>) -> Result<PathBuf> {
    // The XDG spec says relative values are to be ignored.
    if let Some(xdg) = xdg.filter(|x| Path::new(x).is_absolute()) {
        return Ok(Path::new(&xdg).join("paas").join("config.toml"));
    }
    match home {
        Some(home) => Ok(Path::new(&home)
            .join(".config")
            .join("paas")
            .join("config.toml")),
        None => bail!("cannot locate the paas config file: set HOME or XDG_CONFIG_HOME"),
    }
}

/// An empty variable counts as unset, so `PAAS_TOKEN= paas ...` falls back to the file.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A missing file is an empty one: the user has not logged in yet.
pub fn read_file(path: &Path) -> Result<FileSettings> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileSettings::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    toml::from_str(&text).with_context(|| format!("{} is not valid paas config", path.display()))
}

/// Writes the file readable by its owner only (it holds a bearer token), replacing it whole so a
/// crash never leaves half a token behind.
pub fn write_file(path: &Path, settings: &FileSettings) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let text = toml::to_string(settings).context("cannot encode the paas config")?;
    let tmp = dir.join(".config.toml.tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    // The umask cannot widen 0600, but an inherited ACL or odd filesystem might: be explicit.
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Each of the two values comes from its environment variable when set, else from the file.
pub fn resolve(
    env_api: Option<String>,
    env_token: Option<String>,
    file: FileSettings,
) -> Result<Session> {
    let api_url = env_api.or(file.api_url).filter(|v| !v.trim().is_empty());
    let token = env_token.or(file.token).filter(|v| !v.trim().is_empty());
    match (api_url, token) {
        (Some(api_url), Some(token)) => Ok(Session {
            api_url: api_url.trim().to_string(),
            token: token.trim().to_string(),
        }),
        _ => bail!(NOT_LOGGED_IN),
    }
}

/// The session of an authenticated command.
pub fn load_session() -> Result<Session> {
    let (env_api, env_token) = (env_var(ENV_API_URL), env_var(ENV_TOKEN));
    // With both variables set the file is irrelevant, even if it is unreadable.
    let file = if env_api.is_some() && env_token.is_some() {
        FileSettings::default()
    } else {
        read_file(&config_path()?)?
    };
    resolve(env_api, env_token, file)
}

/// The API URL for `register`/`login`: the flag, else `PAAS_API_URL`, else the saved one.
pub fn login_api_url(flag: Option<String>) -> Result<String> {
    if let Some(url) = flag
        .filter(|u| !u.trim().is_empty())
        .or_else(|| env_var(ENV_API_URL))
    {
        return Ok(url.trim().to_string());
    }
    match read_file(&config_path()?)?.api_url {
        Some(url) if !url.trim().is_empty() => Ok(url.trim().to_string()),
        _ => bail!("no API URL given: pass --api URL (e.g. --api http://127.0.0.1:7000) or set PAAS_API_URL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefers_absolute_xdg_then_home() {
        let p = config_path_from(Some("/x/cfg".into()), Some("/home/u".into())).unwrap();
        assert_eq!(p, Path::new("/x/cfg/paas/config.toml"));
        let p = config_path_from(Some("relative".into()), Some("/home/u".into())).unwrap();
        assert_eq!(p, Path::new("/home/u/.config/paas/config.toml"));
        let p = config_path_from(None, Some("/home/u".into())).unwrap();
        assert_eq!(p, Path::new("/home/u/.config/paas/config.toml"));
        assert!(config_path_from(None, None).is_err());
    }

    #[test]
    fn write_then_read_round_trips_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/paas/config.toml");
        assert_eq!(read_file(&path).unwrap(), FileSettings::default());
        let s = FileSettings {
            api_url: Some("http://127.0.0.1:7000".into()),
            token: Some("a.b.c".into()),
        };
        write_file(&path, &s).unwrap();
        assert_eq!(read_file(&path).unwrap(), s);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("api_url = \"http://127.0.0.1:7000\""),
            "{text}"
        );
        assert!(text.contains("token = \"a.b.c\""), "{text}");

        // Overwriting keeps the mode even when the old file was wider.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let s2 = FileSettings {
            token: Some("d.e.f".into()),
            ..s
        };
        write_file(&path, &s2).unwrap();
        assert_eq!(read_file(&path).unwrap(), s2);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn bad_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, "api_url = [").unwrap();
        let err = read_file(&path).unwrap_err().to_string();
        assert!(err.contains("is not valid paas config"), "{err}");
    }

    #[test]
    fn env_wins_per_value_and_missing_is_not_logged_in() {
        let file = FileSettings {
            api_url: Some("http://file".into()),
            token: Some("filetoken".into()),
        };
        let s = resolve(Some("http://env".into()), None, file.clone()).unwrap();
        assert_eq!(s.api_url, "http://env");
        assert_eq!(s.token, "filetoken");
        let s = resolve(None, Some("envtoken".into()), file).unwrap();
        assert_eq!(
            (s.api_url.as_str(), s.token.as_str()),
            ("http://file", "envtoken")
        );

        let err = resolve(Some("http://env".into()), None, FileSettings::default()).unwrap_err();
        assert!(err.to_string().starts_with("not logged in"), "{err}");
        assert!(resolve(None, None, FileSettings::default()).is_err());
    }
}
