//! `limits`, `limits:set`, `healthchecks`, `healthchecks:set`: per process type settings.

use anyhow::{bail, Result};
use clap::Args;
use paas_api::{
    HealthCheck, HealthCheckUpdate, HealthChecksPatch, LimitsPatch, LimitsUpdate, ProcessLimits,
};

use crate::args::{AppArg, AppJsonArgs};
use crate::client::{self, Client};
use crate::output;

#[derive(Debug, Args)]
pub struct LimitsSetArgs {
    /// TYPE=MEMORY, e.g. web=512M (memory may be left out: `web`)
    #[arg(value_name = "TYPE[=MEMORY]")]
    pub target: String,
    /// CPUs the type's processes may use, e.g. 0.5
    #[arg(long)]
    pub cpu: Option<f64>,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct HealthSetArgs {
    /// The process type, e.g. web
    #[arg(value_name = "TYPE")]
    pub process_type: String,
    /// HTTP path that must answer 2xx or 3xx (without it: accepting TCP on PORT is enough)
    #[arg(long)]
    pub path: Option<String>,
    /// Failed answers tolerated before a new process counts as broken
    #[arg(long)]
    pub attempts: Option<u32>,
    /// Seconds between checks
    #[arg(long)]
    pub interval: Option<f64>,
    /// Seconds one check may take
    #[arg(long)]
    pub timeout: Option<f64>,
    #[command(flatten)]
    pub app: AppArg,
}

/// `web=512M` -> (`web`, Some("512M")); `web` -> (`web`, None).
pub fn parse_limits_target(arg: &str) -> Result<(String, Option<String>)> {
    let (process_type, memory) = match arg.split_once('=') {
        Some((t, m)) => (t, Some(m.to_string())),
        None => (arg, None),
    };
    paas_api::validate_process_type(process_type)?;
    if let Some(m) = &memory {
        if let Err(e) = paas_api::parse_memory(m) {
            bail!(e);
        }
    }
    Ok((process_type.to_string(), memory))
}

pub fn limits(args: AppJsonArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "limits"], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let limits: Vec<ProcessLimits> = client::decode(value)?;
    println!("=== {app} Limits");
    if limits.is_empty() {
        println!("No limits: processes may use the whole host.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = limits.iter().map(limits_row).collect();
    print!("{}", output::table(&rows));
    Ok(())
}

fn limits_row(l: &ProcessLimits) -> Vec<String> {
    vec![
        format!("{}:", l.process_type),
        format!("memory {}", l.memory.as_deref().unwrap_or("unlimited")),
        format!(
            "cpu {}",
            l.cpu
                .map(|c| c.to_string())
                .unwrap_or_else(|| "unlimited".into())
        ),
    ]
}

pub fn limits_set(args: LimitsSetArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let (process_type, memory) = parse_limits_target(&args.target)?;
    if memory.is_none() && args.cpu.is_none() {
        bail!("give a memory limit (web=512M) or --cpu 0.5, or both");
    }
    if args.cpu.is_some_and(|c| c <= 0.0 || !c.is_finite()) {
        bail!("--cpu must be above 0, e.g. 0.5");
    }
    let api = Client::connect()?;
    let patch = LimitsPatch::from([(
        process_type.clone(),
        LimitsUpdate {
            memory,
            cpu: args.cpu,
        },
    )]);
    output::step(
        &format!("Setting {process_type} limits and restarting {app}"),
        || api.patch::<_, Vec<ProcessLimits>>(&["apps", &app, "limits"], &patch),
        |_| String::new(),
    )?;
    Ok(())
}

pub fn healthchecks(args: AppJsonArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "healthchecks"], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let checks: Vec<HealthCheck> = client::decode(value)?;
    println!("=== {app} Health checks");
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            let what = match &c.path {
                Some(path) => format!("GET {path}"),
                None => "TCP on PORT".to_string(),
            };
            vec![
                format!("{}:", c.process_type),
                what,
                format!("attempts {}", c.attempts),
                format!("interval {}s", c.interval),
                format!("timeout {}s", c.timeout),
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("Default: a new web process must accept TCP on PORT.");
    }
    print!("{}", output::table(&rows));
    Ok(())
}

pub fn healthchecks_set(args: HealthSetArgs) -> Result<()> {
    let app = args.app.resolve()?;
    paas_api::validate_process_type(&args.process_type)?;
    if let Some(path) = &args.path {
        if !path.starts_with('/') {
            bail!("--path must start with /, e.g. /health");
        }
    }
    let api = Client::connect()?;
    let update = HealthCheckUpdate {
        path: args.path,
        attempts: args.attempts,
        interval: args.interval,
        timeout: args.timeout,
    };
    let patch = HealthChecksPatch::from([(args.process_type.clone(), update)]);
    output::step(
        &format!("Setting the {} health check of {app}", args.process_type),
        || api.patch::<_, Vec<HealthCheck>>(&["apps", &app, "healthchecks"], &patch),
        |_| String::new(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_targets() {
        assert_eq!(
            parse_limits_target("web=512M").unwrap(),
            ("web".into(), Some("512M".into()))
        );
        assert_eq!(
            parse_limits_target("worker").unwrap(),
            ("worker".into(), None)
        );
        assert!(parse_limits_target("web=lots").is_err());
        assert!(parse_limits_target("Web=1G").is_err());
    }
}
