//! `scale`, `ps`, `ps:restart`: the app's processes (Heroku's dynos).

use anyhow::{anyhow, bail, Result};
use clap::Args;
use paas_api::{Dyno, Formation, FormationBatchUpdate, FormationUpdate};

use crate::args::{AppArg, AppJsonArgs};
use crate::client::{self, Client};
use crate::output;

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// TYPE=N pairs, e.g. web=3 worker=2 (none: show the current formation)
    #[arg(value_name = "TYPE=N")]
    pub pairs: Vec<String>,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// A process type (`web`) or one process (`web.1`); default: all processes
    #[arg(value_name = "TYPE|NAME")]
    pub target: Option<String>,
    #[command(flatten)]
    pub app: AppArg,
}

/// `web=3` -> an update of `web` to 3 processes.
pub fn parse_scale(arg: &str) -> Result<FormationUpdate> {
    let Some((process_type, quantity)) = arg.split_once('=') else {
        bail!("invalid argument {arg:?}: use TYPE=N (e.g. web=3)");
    };
    paas_api::validate_process_type(process_type)?;
    let quantity: u32 = quantity.trim().parse().map_err(|_| {
        anyhow!("invalid quantity {quantity:?} for {process_type}: use a whole number of processes, e.g. {process_type}=3")
    })?;
    Ok(FormationUpdate {
        process_type: process_type.to_string(),
        quantity: i64::from(quantity),
    })
}

pub fn scale(args: ScaleArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let mut updates: Vec<FormationUpdate> = Vec::new();
    for arg in &args.pairs {
        let u = parse_scale(arg)?;
        // A type given twice: the last value wins, in the first one's place.
        match updates
            .iter_mut()
            .find(|x| x.process_type == u.process_type)
        {
            Some(x) => x.quantity = u.quantity,
            None => updates.push(u),
        }
    }
    let api = Client::connect()?;
    if updates.is_empty() {
        let mut formation: Vec<Formation> = api.get(&["apps", &app, "formation"])?;
        formation.sort_by(|a, b| a.process_type.cmp(&b.process_type));
        let line: Vec<String> = formation
            .iter()
            .map(|f| format!("{}={}", f.process_type, f.quantity))
            .collect();
        println!("{}", line.join(" "));
        return Ok(());
    }
    let body = FormationBatchUpdate {
        updates: updates.clone(),
    };
    output::step(
        "Scaling dynos",
        || api.patch::<_, Vec<Formation>>(&["apps", &app, "formation"], &body),
        |formation| {
            let running: Vec<String> = updates
                .iter()
                .map(|u| {
                    let q = formation
                        .iter()
                        .find(|f| f.process_type == u.process_type)
                        .map_or(u.quantity, |f| f.quantity);
                    format!("{} at {q}", u.process_type)
                })
                .collect();
            format!(", now running {}", running.join(", "))
        },
    )?;
    Ok(())
}

/// Processes in display order: by type, then by number (`web.2` before `web.10`).
pub fn sort_dynos(dynos: &mut [Dyno]) {
    dynos.sort_by(|a, b| {
        (
            a.process_type.as_str(),
            dyno_index(&a.name),
            a.name.as_str(),
        )
            .cmp(&(
                b.process_type.as_str(),
                dyno_index(&b.name),
                b.name.as_str(),
            ))
    });
}

fn dyno_index(name: &str) -> u64 {
    name.rsplit_once('.')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(u64::MAX)
}

fn render_ps(app: &str, dynos: &mut [Dyno]) -> String {
    if dynos.is_empty() {
        return format!(
            "No processes are running on {app}: scale up with `paas scale web=1 -a {app}`\n"
        );
    }
    sort_dynos(dynos);
    let mut out = String::new();
    for group in dynos.chunk_by(|a, b| a.process_type == b.process_type) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "=== {} ({})\n",
            group[0].process_type,
            group.len()
        ));
        let rows: Vec<Vec<String>> = group
            .iter()
            .map(|d| {
                vec![
                    d.name.clone(),
                    d.state.clone(),
                    format!("v{}", d.release.version),
                    output::time(&d.created_at),
                    notes(d),
                ]
            })
            .collect();
        out.push_str(&output::table(&rows));
    }
    out
}

/// Why a process is not simply up: how it ended and how often it was restarted.
fn notes(d: &Dyno) -> String {
    let mut notes = Vec::new();
    if d.oom_killed {
        notes.push("killed: out of memory".to_string());
    } else if let Some(code) = d.exit_code {
        notes.push(format!("exit status {code}"));
    }
    if d.restarts > 0 {
        notes.push(format!("restarts: {}", d.restarts));
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!("({})", notes.join(", "))
    }
}

pub fn ps(args: AppJsonArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "dynos"], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let mut dynos: Vec<Dyno> = client::decode(value)?;
    print!("{}", render_ps(&app, &mut dynos));
    Ok(())
}

/// What `ps:restart` targets: everything, a process type, or one process.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    All,
    Type(String),
    Process(String),
}

fn parse_target(arg: Option<&str>) -> Result<Target> {
    let Some(arg) = arg else {
        return Ok(Target::All);
    };
    match arg.split_once('.') {
        None => {
            paas_api::validate_process_type(arg)?;
            Ok(Target::Type(arg.to_string()))
        }
        Some((process_type, n)) => {
            paas_api::validate_process_type(process_type)?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                bail!("invalid process {arg:?}: use TYPE or TYPE.N, e.g. web or web.1");
            }
            Ok(Target::Process(arg.to_string()))
        }
    }
}

pub fn restart(args: RestartArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let target = parse_target(args.target.as_deref())?;
    let api = Client::connect()?;
    let (msg, path) = match &target {
        Target::All => (
            format!("Restarting all processes on {app}"),
            vec!["apps", &app, "dynos"],
        ),
        Target::Type(t) => (
            format!("Restarting {t} processes on {app}"),
            vec!["apps", &app, "dynos", t],
        ),
        Target::Process(p) => (
            format!("Restarting {p} on {app}"),
            vec!["apps", &app, "dynos", p],
        ),
    };
    output::step(&msg, || api.delete(&path), |_| String::new())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn scale_args_are_type_equals_count() {
        let u = parse_scale("web=3").unwrap();
        assert_eq!((u.process_type.as_str(), u.quantity), ("web", 3));
        assert_eq!(parse_scale("worker=0").unwrap().quantity, 0);
        for (bad, want) in [
            ("web=x", "invalid quantity \"x\" for web"),
            ("web=-1", "invalid quantity \"-1\""),
            ("web=1.5", "invalid quantity"),
            ("web=", "invalid quantity"),
            ("web", "use TYPE=N"),
            ("Web=1", "invalid process type"),
        ] {
            let e = parse_scale(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn restart_targets() {
        assert_eq!(parse_target(None).unwrap(), Target::All);
        assert_eq!(
            parse_target(Some("web")).unwrap(),
            Target::Type("web".into())
        );
        assert_eq!(
            parse_target(Some("web.12")).unwrap(),
            Target::Process("web.12".into())
        );
        for bad in ["web.", "web.x", "Web", ".1", "web.1.2"] {
            assert!(parse_target(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn ps_groups_by_type_and_sorts_numerically() {
        let mut dynos = vec![
            fixtures::dyno("worker.1", "crashed", 2),
            fixtures::dyno("web.10", "up", 2),
            fixtures::dyno("web.2", "starting", 3),
            fixtures::dyno("web.1", "up", 2),
        ];
        let out = render_ps("hello", &mut dynos);
        let lines: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(lines[0], ["===", "web", "(3)"]);
        assert_eq!(lines[1][..3], ["web.1", "up", "v2"]);
        assert_eq!(lines[2][..3], ["web.2", "starting", "v3"]);
        assert_eq!(lines[3][..3], ["web.10", "up", "v2"]);
        assert!(lines[4].is_empty());
        assert_eq!(lines[5], ["===", "worker", "(1)"]);
        assert_eq!(lines[6][..3], ["worker.1", "crashed", "v2"]);
        assert!(render_ps("hello", &mut []).starts_with("No processes"));
    }
}
