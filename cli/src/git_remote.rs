//! The `platform` git remote: where `-a APP` comes from when omitted, and `paas git:remote`,
//! which sets it up with credentials so `git push platform main` deploys.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;
use paas_api::App;
use reqwest::Url;

use crate::args::AppArg;
use crate::client::Client;
use crate::settings;

pub const REMOTE: &str = "platform";

#[derive(Debug, Args)]
pub struct GitRemoteArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// Name of the git remote to set
    #[arg(short, long, default_value = REMOTE)]
    pub remote: String,
}

/// The app a remote URL points at: `http://host:7000/hello.git` -> `hello`.
pub fn app_from_remote_url(url: &str) -> Option<String> {
    let url = url.trim();
    let last = match Url::parse(url) {
        // Only the path names the repository: `http://host/` names none.
        Ok(u) if u.has_host() => u.path_segments()?.rfind(|s| !s.is_empty())?.to_string(),
        // scp-like `git@host:hello.git`, or a local path.
        _ => url
            .trim_end_matches('/')
            .rsplit(['/', ':'])
            .next()?
            .to_string(),
    };
    let name = last.strip_suffix(".git").unwrap_or(&last);
    paas_api::validate_app_name(name).ok()?;
    Some(name.to_string())
}

/// The URL of remote `name` of the repository around `dir`, if there is one.
pub fn remote_url(dir: &Path, name: &str) -> Option<String> {
    let out = Command::new("git")
        .args(["remote", "get-url", name])
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let url = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!url.is_empty()).then_some(url)
}

/// The app of the current directory's `platform` remote.
pub fn app_from_cwd() -> Result<Option<String>> {
    let Some(url) = remote_url(Path::new("."), REMOTE) else {
        return Ok(None);
    };
    match app_from_remote_url(&url) {
        Some(app) => Ok(Some(app)),
        None => bail!(
            "git remote {REMOTE} ({}) does not point at a paas app (expected a URL ending in /APP.git): pass -a APP",
            without_credentials(&url)
        ),
    }
}

/// The app's git URL with `paas:TOKEN@` in it; git sends the password as HTTP Basic auth,
/// which is what the platform's git endpoint checks.
pub fn credentialed_url(git_url: &str, token: &str) -> Result<Url> {
    let mut url = Url::parse(git_url)
        .with_context(|| format!("the app's git URL {git_url:?} is not a URL"))?;
    if url.set_username("paas").is_err() || url.set_password(Some(token)).is_err() {
        bail!("cannot put credentials into the git URL {git_url}");
    }
    Ok(url)
}

/// For messages: never echo a token that sits in a remote URL.
fn without_credentials(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

pub fn run(args: GitRemoteArgs) -> Result<()> {
    let app = args.app.resolve()?;
    if args.remote.trim().is_empty() || args.remote.starts_with('-') {
        bail!("invalid git remote name {:?}", args.remote);
    }
    let session = settings::load_session()?;
    let client = Client::for_session(&session)?;
    let info: App = client.get(&["apps", &app])?;
    let url = credentialed_url(&info.git_url, &session.token)?;

    let inside = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        .context("cannot run git: is it installed?")?;
    if !inside.status.success() {
        bail!("not inside a git checkout: run `git init` (or cd into your app's repository) first");
    }
    let verb = if remote_url(Path::new("."), &args.remote).is_some() {
        "set-url"
    } else {
        "add"
    };
    let out = Command::new("git")
        .args(["remote", verb, &args.remote, url.as_str()])
        .output()
        .context("cannot run git: is it installed?")?;
    if !out.status.success() {
        // git's message can quote the URL, and with it the token.
        let msg = String::from_utf8_lossy(&out.stderr).replace(&session.token, "***");
        bail!("git remote {verb} {} failed: {}", args.remote, msg.trim());
    }
    println!(
        "set git remote {} to {}",
        args.remote,
        without_credentials(&info.git_url)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_name_from_remote_urls() {
        let cases = [
            ("http://127.0.0.1:7000/hello.git", Some("hello")),
            (
                "http://paas:tok@127.0.0.1:7000/my-app.git\n",
                Some("my-app"),
            ),
            ("https://paas.example.com/base/hello.git/", Some("hello")),
            ("http://127.0.0.1:7000/hello", Some("hello")),
            ("git@host:hello.git", Some("hello")),
            ("http://127.0.0.1:7000/Hello.git", None),
            ("http://127.0.0.1:7000/", None),
            ("http://hello", None),
            ("", None),
        ];
        for (url, want) in cases {
            assert_eq!(app_from_remote_url(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn credentials_go_into_the_url_and_out_of_messages() {
        let u = credentialed_url("http://127.0.0.1:7000/hello.git", "eyJ.abc-_.x").unwrap();
        assert_eq!(
            u.as_str(),
            "http://paas:eyJ.abc-_.x@127.0.0.1:7000/hello.git"
        );
        // A token with characters that are not URL-safe still yields a valid URL.
        let u = credentialed_url("http://h/hello.git", "a/b@c").unwrap();
        assert_eq!(u.as_str(), "http://paas:a%2Fb%40c@h/hello.git");
        assert_eq!(without_credentials(u.as_str()), "http://h/hello.git");
        assert!(credentialed_url("not a url", "t").is_err());
    }
}
