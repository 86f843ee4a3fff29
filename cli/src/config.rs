//! `config`, `config:get`, `config:set`, `config:unset`. Every change makes a new release, whose
//! version is reported like the Heroku CLI does.

use anyhow::{bail, Result};
use clap::Args;
use paas_api::{App, ConfigVars, ConfigVarsPatch};

use crate::args::{AppArg, JsonArg};
use crate::client::{self, Client};
use crate::output;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub app: AppArg,
    #[command(flatten)]
    pub json: JsonArg,
    /// Print KEY='value' lines a shell can source
    #[arg(short, long, conflicts_with = "json")]
    pub shell: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    pub key: String,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// KEY=value pairs
    #[arg(required = true, value_name = "KEY=VALUE")]
    pub pairs: Vec<String>,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct UnsetArgs {
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
    #[command(flatten)]
    pub app: AppArg,
}

/// `KEY=value`, split at the first `=` so values may contain `=`.
pub fn parse_assignment(arg: &str) -> Result<(String, String)> {
    let Some((key, value)) = arg.split_once('=') else {
        bail!("invalid argument {arg:?}: use KEY=value (e.g. GREETING=hello)");
    };
    paas_api::validate_config_key(key)?;
    Ok((key.to_string(), value.to_string()))
}

/// The keys in the order given (first mention) and the patch (last value wins).
fn parse_assignments(args: &[String]) -> Result<(Vec<String>, ConfigVarsPatch)> {
    let mut keys = Vec::new();
    let mut patch = ConfigVarsPatch::new();
    for arg in args {
        let (key, value) = parse_assignment(arg)?;
        if !patch.contains_key(&key) {
            keys.push(key.clone());
        }
        patch.insert(key, Some(value));
    }
    Ok((keys, patch))
}

pub fn list(args: ListArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "config-vars"], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let vars: ConfigVars = client::decode(value)?;
    if args.shell {
        for (k, v) in &vars {
            println!("{k}={}", shell_quote(v));
        }
        return Ok(());
    }
    output::header(&format!("{app} Config Vars"));
    let pairs: Vec<(&str, String)> = vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    print!("{}", output::key_values(&pairs));
    Ok(())
}

pub fn get(args: GetArgs) -> Result<()> {
    let app = args.app.resolve()?;
    paas_api::validate_config_key(&args.key)?;
    let vars: ConfigVars = Client::connect()?.get(&["apps", &app, "config-vars"])?;
    match vars.get(&args.key) {
        Some(v) => println!("{v}"),
        None => bail!("{app} has no config var {}", args.key),
    }
    Ok(())
}

pub fn set(args: SetArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let (keys, patch) = parse_assignments(&args.pairs)?;
    let api = Client::connect()?;
    let msg = format!("Setting {} and restarting {app}", keys.join(", "));
    let (vars, _) = output::step(&msg, || apply(&api, &app, &patch), done_version)?;
    let pairs: Vec<(&str, String)> = keys
        .iter()
        .map(|k| (k.as_str(), vars.get(k).cloned().unwrap_or_default()))
        .collect();
    print!("{}", output::key_values(&pairs));
    Ok(())
}

pub fn unset(args: UnsetArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let mut keys = Vec::new();
    let mut patch = ConfigVarsPatch::new();
    for key in &args.keys {
        paas_api::validate_config_key(key)?;
        if patch.insert(key.clone(), None).is_none() {
            keys.push(key.clone());
        }
    }
    let api = Client::connect()?;
    let msg = format!("Unsetting {} and restarting {app}", keys.join(", "));
    output::step(&msg, || apply(&api, &app, &patch), done_version)?;
    Ok(())
}

/// PATCH, then read the release the change made from the app.
fn apply(api: &Client, app: &str, patch: &ConfigVarsPatch) -> Result<(ConfigVars, Option<i64>)> {
    let vars: ConfigVars = api.patch(&["apps", app, "config-vars"], patch)?;
    let info: App = api.get(&["apps", app])?;
    Ok((vars, info.current_release))
}

fn done_version((_, version): &(ConfigVars, Option<i64>)) -> String {
    version.map(|v| format!(", v{v}")).unwrap_or_default()
}

/// Single quotes keep everything literal in POSIX shells; a quote itself is closed, escaped and
/// reopened.
fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_split_at_the_first_equals() {
        assert_eq!(parse_assignment("A=b").unwrap(), ("A".into(), "b".into()));
        assert_eq!(
            parse_assignment("URL=x?a=1&b=2").unwrap(),
            ("URL".into(), "x?a=1&b=2".into())
        );
        assert_eq!(
            parse_assignment("EMPTY=").unwrap(),
            ("EMPTY".into(), String::new())
        );
        let e = parse_assignment("NOEQUALS").unwrap_err().to_string();
        assert!(e.contains("use KEY=value"), "{e}");
        let e = parse_assignment("1BAD=x").unwrap_err().to_string();
        assert!(e.contains("invalid config key \"1BAD\""), "{e}");
        assert!(parse_assignment("=x").is_err());
    }

    #[test]
    fn repeated_keys_keep_first_order_and_last_value() {
        let args: Vec<String> = ["B=1", "A=2", "B=3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (keys, patch) = parse_assignments(&args).unwrap();
        assert_eq!(keys, ["B", "A"]);
        assert_eq!(patch["B"].as_deref(), Some("3"));
        assert_eq!(patch["A"].as_deref(), Some("2"));
    }

    #[test]
    fn shell_quoting_is_literal() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's $HOME"), r"'it'\''s $HOME'");
    }
}
