//! Arguments shared by many commands.

use anyhow::{bail, Result};
use clap::Args;

use crate::git_remote;

/// `-a APP`, or the app of the current checkout's `platform` remote.
#[derive(Debug, Clone, Default, Args)]
pub struct AppArg {
    /// App to act on (default: the app of this checkout's `platform` git remote)
    #[arg(short, long = "app", value_name = "APP")]
    pub app: Option<String>,
}

impl AppArg {
    /// The app name, checked locally so a typo fails before anything is sent.
    pub fn resolve(&self) -> Result<String> {
        if let Some(app) = &self.app {
            paas_api::validate_app_name(app)?;
            return Ok(app.clone());
        }
        match git_remote::app_from_cwd()? {
            Some(app) => Ok(app),
            None => bail!(
                "no app given: pass -a APP (or run inside a checkout with a `platform` git remote)"
            ),
        }
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct JsonArg {
    /// Print the API's JSON answer instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Listing commands: an app and `--json`.
#[derive(Debug, Clone, Default, Args)]
pub struct AppJsonArgs {
    #[command(flatten)]
    pub app: AppArg,
    #[command(flatten)]
    pub json: JsonArg,
}
