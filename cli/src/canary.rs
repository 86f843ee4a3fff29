//! `canary`, `canary:start`, `canary:stop`, `canary:promote`: another release on a share of the
//! traffic.

use anyhow::{bail, Result};
use clap::Args;
use paas_api::{Canary, CanaryCreate, Release};

use crate::args::{AppArg, AppJsonArgs};
use crate::client::{self, Client};
use crate::output;
use crate::releases::parse_version;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The release to try, e.g. v7
    #[arg(value_name = "vN")]
    pub release: String,
    /// Percentage of clients sent to it (1-99); each client keeps its side
    #[arg(long, default_value_t = 10)]
    pub weight: u8,
    #[command(flatten)]
    pub app: AppArg,
}

pub fn show(args: AppJsonArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "canary"], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let canary: Canary = client::decode(value)?;
    match canary.release {
        Some(v) => println!("v{v} takes {}% of the clients", canary.weight),
        None => println!("no canary runs on {app}"),
    }
    Ok(())
}

pub fn start(args: StartArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let version = parse_version(&args.release)?;
    if !(1..=99).contains(&args.weight) {
        bail!("--weight must be between 1 and 99");
    }
    let api = Client::connect()?;
    let body = CanaryCreate {
        release: format!("v{version}"),
        weight: args.weight,
    };
    output::step(
        &format!(
            "Starting v{version} as a canary on {app} at {}%",
            args.weight
        ),
        || api.post::<_, Canary>(&["apps", &app, "canary"], &body),
        |_| String::new(),
    )?;
    Ok(())
}

pub fn stop(app: AppArg) -> Result<()> {
    let app = app.resolve()?;
    let api = Client::connect()?;
    output::step(
        &format!("Stopping the canary of {app}"),
        || api.delete(&["apps", &app, "canary"]),
        |_| String::new(),
    )?;
    Ok(())
}

pub fn promote(app: AppArg) -> Result<()> {
    let app = app.resolve()?;
    let api = Client::connect()?;
    output::step(
        &format!("Promoting the canary of {app}"),
        || {
            api.post::<_, Release>(
                &["apps", &app, "canary", "actions", "promote"],
                &serde_json::json!({}),
            )
        },
        |r| format!(", v{}", r.version),
    )?;
    Ok(())
}
