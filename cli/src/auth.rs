//! `register`, `login`, `whoami`, `auth:token`.

use anyhow::{bail, Result};
use clap::Args;
use paas_api::{Account, Credentials, TokenResponse};

use crate::args::JsonArg;
use crate::client::{self, Client};
use crate::output;
use crate::settings::{self, FileSettings};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// API URL of the paas server, e.g. http://127.0.0.1:7000 (default: PAAS_API_URL, else the saved one)
    #[arg(long = "api", value_name = "URL")]
    pub api: Option<String>,
    #[arg(short, long)]
    pub username: String,
    #[arg(short, long)]
    pub password: String,
}

pub fn register(args: LoginArgs) -> Result<()> {
    let resp = authenticate("register", args)?;
    let role = if resp.user.admin { " (admin)" } else { "" };
    println!("Registered {}{role}", resp.user.name);
    Ok(())
}

pub fn login(args: LoginArgs) -> Result<()> {
    let resp = authenticate("login", args)?;
    println!("Logged in as {}", resp.user.name);
    Ok(())
}

/// Both endpoints answer with a token, which is saved with the URL it works for.
fn authenticate(endpoint: &str, args: LoginArgs) -> Result<TokenResponse> {
    if args.username.trim().is_empty() {
        bail!("the username must not be empty");
    }
    if args.password.is_empty() {
        bail!("the password must not be empty");
    }
    let api_url = settings::login_api_url(args.api)?;
    let path = settings::config_path()?;
    let client = Client::anonymous(&api_url)?;
    let creds = Credentials {
        username: args.username,
        password: args.password,
    };
    let resp: TokenResponse = client.post(&["auth", endpoint], &creds)?;
    let saved = FileSettings {
        api_url: Some(api_url),
        token: Some(resp.token.clone()),
    };
    settings::write_file(&path, &saved)?;
    eprintln!("Saved credentials to {}", path.display());
    Ok(resp)
}

pub fn whoami(args: JsonArg) -> Result<()> {
    let client = Client::connect()?;
    let value = client.get_value(&["account"], None)?;
    if args.json {
        return output::print_json(&value);
    }
    let account: Account = client::decode(value)?;
    println!("{}", account.name);
    Ok(())
}

/// Needs no server: scripts use it to hand the token to other tools.
pub fn token() -> Result<()> {
    println!("{}", settings::load_session()?.token);
    Ok(())
}
