//! `releases`, `rollback`.

use anyhow::{anyhow, Result};
use clap::Args;
use paas_api::{Release, ReleaseStatus, RollbackRequest};

use crate::args::{AppArg, JsonArg};
use crate::client::{self, Client};
use crate::output;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub app: AppArg,
    #[command(flatten)]
    pub json: JsonArg,
    /// How many releases to show, newest first
    #[arg(short = 'n', long = "num", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..))]
    pub num: u32,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Release to roll back to, e.g. v3 (default: the one before the current release)
    #[arg(value_name = "vN")]
    pub release: Option<String>,
    #[command(flatten)]
    pub app: AppArg,
}

/// The newest `max` releases, as the Heroku API's `Range` header asks for them.
pub fn range_header(max: u32) -> String {
    format!("version ..; max={max}, order=desc")
}

/// `v3` or `3` -> 3.
pub fn parse_version(arg: &str) -> Result<i64> {
    let digits = arg.strip_prefix(['v', 'V']).unwrap_or(arg);
    digits
        .parse::<u32>()
        .ok()
        .filter(|v| *v > 0 && digits.bytes().all(|b| b.is_ascii_digit()))
        .map(i64::from)
        .ok_or_else(|| anyhow!("invalid release {arg:?}: use vN, e.g. v3"))
}

/// Newest first, whatever order the server used, and at most `max`.
pub fn newest_first(mut releases: Vec<Release>, max: usize) -> Vec<Release> {
    releases.sort_by_key(|r| std::cmp::Reverse(r.version));
    releases.truncate(max);
    releases
}

/// The release a bare `paas rollback` returns to: the newest succeeded one older than the
/// current release (a failed release has nothing to run).
pub fn previous_release(releases: &[Release]) -> Result<i64> {
    let current = releases
        .iter()
        .find(|r| r.current)
        .or_else(|| {
            releases
                .iter()
                .filter(|r| r.status == ReleaseStatus::Succeeded)
                .max_by_key(|r| r.version)
        })
        .ok_or_else(|| anyhow!("the app has no release yet: nothing to roll back"))?;
    releases
        .iter()
        .filter(|r| r.version < current.version && r.status == ReleaseStatus::Succeeded)
        .map(|r| r.version)
        .max()
        .ok_or_else(|| {
            anyhow!(
                "v{} is the first release: there is nothing before it to roll back to",
                current.version
            )
        })
}

fn render_releases(app: &str, releases: &[Release]) -> String {
    let mut out = format!("=== {app} Releases\n");
    if releases.is_empty() {
        out.push_str(&format!(
            "{app} has no releases yet: deploy with `git push platform main`\n"
        ));
        return out;
    }
    let rows: Vec<Vec<String>> = releases
        .iter()
        .map(|r| {
            let mut marks = Vec::new();
            match r.status {
                ReleaseStatus::Succeeded => {}
                ReleaseStatus::Pending => marks.push("pending"),
                ReleaseStatus::Failed => marks.push("failed"),
            }
            if r.current {
                marks.push("(current)");
            }
            vec![
                format!("v{}", r.version),
                r.description.clone(),
                r.user.name.clone(),
                output::time(&r.created_at),
                marks.join(" "),
            ]
        })
        .collect();
    out.push_str(&output::table(&rows));
    out
}

pub fn list(args: ListArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "releases"], Some(&range_header(args.num)))?;
    if args.json.json {
        return output::print_json(&value);
    }
    let releases = newest_first(client::decode(value)?, args.num as usize);
    print!("{}", render_releases(&app, &releases));
    Ok(())
}

pub fn rollback(args: RollbackArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let target = args.release.as_deref().map(parse_version).transpose()?;
    let api = Client::connect()?;
    let target = match target {
        Some(v) => v,
        None => previous_release(&api.get::<Vec<Release>>(&["apps", &app, "releases"])?)?,
    };
    let body = RollbackRequest {
        release: format!("v{target}"),
    };
    output::step(
        &format!("Rolling back {app} to v{target}"),
        || api.post::<_, Release>(&["apps", &app, "releases"], &body),
        |r| format!(", v{}", r.version),
    )?;
    Ok(())
}

/// `paas releases:cancel`: stops the deploy in progress.
pub fn cancel(app: AppArg) -> Result<()> {
    let app = app.resolve()?;
    let api = Client::connect()?;
    output::step(
        &format!("Cancelling the deploy in progress on {app}"),
        || {
            api.post::<_, Release>(
                &["apps", &app, "releases", "actions", "cancel"],
                &serde_json::json!({}),
            )
        },
        |r| format!(", v{} cancelled", r.version),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::release;

    #[test]
    fn versions_parse_with_or_without_v() {
        assert_eq!(parse_version("v3").unwrap(), 3);
        assert_eq!(parse_version("12").unwrap(), 12);
        assert_eq!(parse_version("V1").unwrap(), 1);
        for bad in ["", "v", "v0", "v-1", "v+1", "3a", "vv3", "v 3", "latest"] {
            let e = parse_version(bad).unwrap_err().to_string();
            assert!(e.contains("use vN"), "{bad}: {e}");
        }
    }

    #[test]
    fn range_asks_for_the_newest() {
        assert_eq!(range_header(15), "version ..; max=15, order=desc");
    }

    #[test]
    fn listing_is_newest_first_and_capped() {
        let rs = (1..=5)
            .map(|v| release(v, "x", "succeeded", v == 5))
            .collect();
        let versions: Vec<i64> = newest_first(rs, 3).iter().map(|r| r.version).collect();
        assert_eq!(versions, [5, 4, 3]);
    }

    #[test]
    fn previous_skips_failed_and_uses_current_flag() {
        let rs = vec![
            release(1, "Deploy a", "succeeded", false),
            release(2, "Deploy b", "failed", false),
            release(3, "Rollback to v1", "succeeded", true),
            release(4, "Deploy c", "failed", false),
        ];
        assert_eq!(previous_release(&rs).unwrap(), 1);
        let e = previous_release(&rs[..1]).unwrap_err().to_string();
        assert!(e.contains("nothing before it"), "{e}");
        assert!(previous_release(&[]).is_err());
    }

    #[test]
    fn release_lines_carry_version_description_user_and_marks() {
        let rs = newest_first(
            vec![
                release(1, "Deploy 1a2b3c4", "succeeded", false),
                release(2, "Deploy 5d6e7f8", "failed", false),
                release(3, "Rollback to v1", "succeeded", true),
            ],
            15,
        );
        let out = render_releases("hello", &rs);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "=== hello Releases");
        assert!(
            lines[1].starts_with("v3  Rollback to v1  admin  2026-11-"),
            "{out}"
        );
        assert!(lines[1].ends_with("  (current)"), "{out}");
        assert!(lines[2].starts_with("v2  Deploy 5d6e7f8  admin  "), "{out}");
        assert!(lines[2].ends_with("  failed"), "{out}");
        assert!(lines[3].starts_with("v1  Deploy 1a2b3c4  admin  "), "{out}");
        assert!(!lines[3].contains("current"), "{out}");
    }
}
