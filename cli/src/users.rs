//! `users`, `users:create` (admin only; the server checks).

use anyhow::{bail, Result};
use clap::Args;
use paas_api::{Account, Credentials};

use crate::args::JsonArg;
use crate::client::{self, Client};
use crate::output;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the new user
    pub name: String,
    #[arg(short, long)]
    pub password: String,
}

pub fn list(args: JsonArg) -> Result<()> {
    let api = Client::connect()?;
    let value = api.get_value(&["users"], None)?;
    if args.json {
        return output::print_json(&value);
    }
    let mut users: Vec<Account> = client::decode(value)?;
    users.sort_by(|a, b| a.name.cmp(&b.name));
    output::header("Users");
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.name.clone(),
                if u.admin {
                    "(admin)".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    print!("{}", output::table(&rows));
    Ok(())
}

pub fn create(args: CreateArgs) -> Result<()> {
    let name = args.name.trim();
    if name.is_empty() {
        bail!("the user name must not be empty");
    }
    if args.password.is_empty() {
        bail!("the password must not be empty");
    }
    let api = Client::connect()?;
    let creds = Credentials {
        username: name.to_string(),
        password: args.password,
    };
    output::step(
        &format!("Creating user {name}"),
        || api.post::<_, Account>(&["users"], &creds),
        |_| String::new(),
    )?;
    Ok(())
}
