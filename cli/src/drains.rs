//! `drains`, `drains:add`, `drains:remove`: where an app's log lines are forwarded.

use anyhow::Result;
use clap::Args;
use paas_api::{LogDrain, LogDrainCreate};

use crate::args::{AppArg, AppJsonArgs};
use crate::client::{self, Client};
use crate::output;

#[derive(Debug, Args)]
pub struct DrainArgs {
    /// syslog://HOST:PORT, syslog+tls://HOST:PORT or https://URL
    #[arg(value_name = "URL")]
    pub url: String,
    #[command(flatten)]
    pub app: AppArg,
}

pub fn list(args: AppJsonArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "log-drains"], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let drains: Vec<LogDrain> = client::decode(value)?;
    println!("=== {app} Drains");
    if drains.is_empty() {
        println!("No drains: add one with `paas drains:add syslog+tls://HOST:PORT -a {app}`");
    }
    for d in drains {
        println!("{}", d.url);
    }
    Ok(())
}

pub fn add(args: DrainArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let body = LogDrainCreate {
        url: args.url.clone(),
    };
    output::step(
        &format!("Adding drain {} to {app}", args.url),
        || api.post::<_, LogDrain>(&["apps", &app, "log-drains"], &body),
        |_| String::new(),
    )?;
    Ok(())
}

pub fn remove(args: DrainArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    output::step(
        &format!("Removing drain {} from {app}", args.url),
        || api.delete(&["apps", &app, "log-drains", &args.url]),
        |_| String::new(),
    )?;
    Ok(())
}
