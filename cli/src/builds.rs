//! `builds`, `builds:output`: an app's builds and their kept output.

use std::io::Write;

use anyhow::{Context, Result};
use clap::Args;
use paas_api::Build;

use crate::args::{AppArg, AppJsonArgs};
use crate::client::{self, Client};
use crate::output;

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The build's id (from `paas builds`)
    #[arg(value_name = "BUILD_ID")]
    pub id: String,
    #[command(flatten)]
    pub app: AppArg,
}

pub fn list(args: AppJsonArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "builds"], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let mut builds: Vec<Build> = client::decode(value)?;
    builds.sort_by_key(|b| std::cmp::Reverse(b.created_at));
    println!("=== {app} Builds");
    let rows: Vec<Vec<String>> = builds
        .iter()
        .map(|b| {
            let commit = b.source_blob.version.as_deref().unwrap_or("");
            vec![
                b.id.to_string(),
                format!("{:?}", b.status).to_lowercase(),
                commit.chars().take(7).collect(),
                b.release
                    .as_ref()
                    .map(|r| format!("v{}", r.version))
                    .unwrap_or_default(),
                b.user.name.clone(),
                output::time(&b.created_at),
            ]
        })
        .collect();
    print!("{}", output::table(&rows));
    Ok(())
}

pub fn show_output(args: OutputArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let text = api.get_text(&["apps", &app, "builds", &args.id, "output"])?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .context("cannot write to stdout")?;
    Ok(())
}
