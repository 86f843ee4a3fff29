//! `run`: a one-off process in the app's current release, attached to this terminal (or in the
//! background with `--detach`). The attachment itself is in [`attach`].

mod attach;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use paas_api::{Dyno, DynoCreate};

use crate::args::AppArg;
use crate::client::Client;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// Run in the background; the output goes to the app's logs
    #[arg(short, long)]
    pub detach: bool,
    /// Never give the process a terminal (one is given when stdin and stdout are terminals)
    #[arg(long)]
    pub no_tty: bool,
    /// Extra environment for this process only (repeatable)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The command: one argument is a shell command line (`'echo $PORT'`); several are a
    /// program and its arguments, passed on exactly
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// Exits with the process's exit code; errors of `paas` itself exit 1, like every command.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    let app = args.app.resolve()?;
    let command = shell_command(&args.command);
    if command.trim().is_empty() {
        bail!("no command given: say what to run, e.g. `paas run -a {app} -- ls -l`");
    }
    let tty = !args.detach
        && !args.no_tty
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    let mut env = parse_env(&args.env)?;
    if tty {
        if let Ok(term) = std::env::var("TERM") {
            env.entry("TERM".to_owned()).or_insert(term);
        }
    }
    let body = DynoCreate {
        command: command.clone(),
        attach: !args.detach,
        tty,
        env,
    };
    let api = Client::connect()?;
    let dyno: Dyno = api.post(&["apps", &app, "dynos"], &body)?;
    if args.detach {
        println!("Running `{command}` on {app}... up, {}", dyno.name);
        println!(
            "Run `paas logs -a {app} -p {}` to see its output.",
            dyno.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(url) = &dyno.attach_url else {
        bail!(
            "the paas API started {} without an attach URL (is the server a different version?)",
            dyno.name
        );
    };
    if std::io::stderr().is_terminal() {
        eprintln!("Running `{command}` on {app}... up, {}", dyno.name);
    }
    let code = attach::session(&api.url(&[]), url, tty)?;
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX)))
}

/// One argument is a command line for the remote shell; several are quoted so each arrives
/// as the very same argument.
fn shell_command(args: &[String]) -> String {
    match args {
        [one] => one.clone(),
        many => many.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
    }
}

fn quote(arg: &str) -> Cow<'_, str> {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b));
    if plain {
        Cow::Borrowed(arg)
    } else {
        Cow::Owned(format!("'{}'", arg.replace('\'', r"'\''")))
    }
}

fn parse_env(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("invalid environment {pair:?}: use KEY=VALUE");
        };
        paas_api::validate_config_key(key)?;
        env.insert(key.to_owned(), value.to_owned());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_argument_is_a_command_line() {
        assert_eq!(
            shell_command(&strings(&["echo $PORT | wc"])),
            "echo $PORT | wc"
        );
    }

    #[test]
    fn several_arguments_arrive_unchanged() {
        assert_eq!(
            shell_command(&strings(&["sh", "-c", "exit 3"])),
            "sh -c 'exit 3'"
        );
        assert_eq!(
            shell_command(&strings(&["printf", "%s\n", "it's", "", "a=b"])),
            "printf '%s\n' 'it'\\''s' '' a=b"
        );
    }

    #[test]
    fn env_pairs_are_checked() {
        let env = parse_env(&strings(&["A=1", "B=x=y", "C="])).unwrap();
        assert_eq!(env["B"], "x=y");
        assert_eq!(env["C"], "");
        assert!(parse_env(&strings(&["NOEQUALS"])).is_err());
        assert!(parse_env(&strings(&["1A=x"])).is_err());
    }
}
