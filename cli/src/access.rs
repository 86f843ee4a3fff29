//! `access`, `access:add`, `access:remove`: the app's collaborators.

use anyhow::{bail, Result};
use clap::Args;
use paas_api::{Collaborator, CollaboratorCreate};

use crate::args::{AppArg, AppJsonArgs};
use crate::client::{self, Client};
use crate::output;

#[derive(Debug, Args)]
pub struct UserArgs {
    /// User name
    pub user: String,
    #[command(flatten)]
    pub app: AppArg,
}

fn user_name(args: &UserArgs) -> Result<String> {
    let user = args.user.trim();
    if user.is_empty() {
        bail!("the user name must not be empty");
    }
    Ok(user.to_string())
}

pub fn list(args: AppJsonArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "collaborators"], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let mut collaborators: Vec<Collaborator> = client::decode(value)?;
    collaborators.sort_by(|a, b| a.user.name.cmp(&b.user.name));
    output::header(&format!("{app} Access"));
    for c in collaborators {
        println!("{}", c.user.name);
    }
    Ok(())
}

pub fn add(args: UserArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let user = user_name(&args)?;
    let api = Client::connect()?;
    let body = CollaboratorCreate { user: user.clone() };
    output::step(
        &format!("Adding {user} access to the app {app}"),
        || api.post::<_, Collaborator>(&["apps", &app, "collaborators"], &body),
        |_| String::new(),
    )?;
    Ok(())
}

pub fn remove(args: UserArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let user = user_name(&args)?;
    let api = Client::connect()?;
    output::step(
        &format!("Removing {user} access from the app {app}"),
        || api.delete(&["apps", &app, "collaborators", &user]),
        |_| String::new(),
    )?;
    Ok(())
}
