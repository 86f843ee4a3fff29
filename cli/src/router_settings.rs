//! `router:settings`, `router:set`: timeouts, body limit, HTTPS redirect and balancing per app.

use anyhow::{anyhow, bail, Result};
use clap::Args;
use paas_api::{RouterSettings, RouterSettingsUpdate};

use crate::args::{AppArg, AppJsonArgs};
use crate::client::{self, Client};
use crate::output;

#[derive(Debug, Args)]
pub struct SetArgs {
    /// KEY=VALUE: connect_timeout, response_timeout, idle_timeout (seconds), max_body (e.g. 10M,
    /// empty for none), redirect_https (true/false), balance (round-robin, least-outstanding)
    #[arg(value_name = "KEY=VALUE", required = true)]
    pub pairs: Vec<String>,
    #[command(flatten)]
    pub app: AppArg,
}

/// `response_timeout=60` and the like, into one update; unknown keys and bad values are errors.
pub fn parse_update(pairs: &[String]) -> Result<RouterSettingsUpdate> {
    let mut u = RouterSettingsUpdate::default();
    for pair in pairs {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            anyhow!("invalid argument {pair:?}: use KEY=VALUE, e.g. response_timeout=60")
        })?;
        let seconds = || {
            value
                .parse::<f64>()
                .map_err(|_| anyhow!("{key} takes seconds, e.g. {key}=60"))
        };
        match key {
            "connect_timeout" => u.connect_timeout = Some(seconds()?),
            "response_timeout" => u.response_timeout = Some(seconds()?),
            "idle_timeout" => u.idle_timeout = Some(seconds()?),
            "max_body" => u.max_body = Some(value.to_string()),
            "redirect_https" => {
                u.redirect_https = Some(value.parse().map_err(|_| anyhow!("redirect_https takes true or false"))?)
            }
            "balance" => u.balance = Some(value.to_string()),
            _ => bail!(
                "unknown setting {key:?}: use connect_timeout, response_timeout, idle_timeout, max_body, redirect_https or balance"
            ),
        }
    }
    Ok(u)
}

fn render(app: &str, s: &RouterSettings) -> String {
    let rows = vec![
        vec![
            "connect_timeout".to_string(),
            format!("{}s", s.connect_timeout),
        ],
        vec![
            "response_timeout".to_string(),
            format!("{}s", s.response_timeout),
        ],
        vec!["idle_timeout".to_string(), format!("{}s", s.idle_timeout)],
        vec![
            "max_body".to_string(),
            s.max_body.clone().unwrap_or_else(|| "none".into()),
        ],
        vec!["redirect_https".to_string(), s.redirect_https.to_string()],
        vec!["balance".to_string(), s.balance.clone()],
    ];
    format!("=== {app} Router settings\n{}", output::table(&rows))
}

pub fn show(args: AppJsonArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "router-settings"], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let settings: RouterSettings = client::decode(value)?;
    print!("{}", render(&app, &settings));
    Ok(())
}

pub fn set(args: SetArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let update = parse_update(&args.pairs)?;
    let api = Client::connect()?;
    let settings = output::step(
        &format!("Changing the router settings of {app}"),
        || api.patch::<_, RouterSettings>(&["apps", &app, "router-settings"], &update),
        |_| String::new(),
    )?;
    print!("{}", render(&app, &settings));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_arguments() {
        let u = parse_update(&[
            "response_timeout=60".into(),
            "max_body=10M".into(),
            "redirect_https=true".into(),
        ])
        .unwrap();
        assert_eq!(
            (u.response_timeout, u.max_body.as_deref(), u.redirect_https),
            (Some(60.0), Some("10M"), Some(true))
        );
        assert!(parse_update(&["timeout=5".into()]).is_err());
        assert!(parse_update(&["response_timeout=soon".into()]).is_err());
        assert!(parse_update(&["redirect_https=yes".into()]).is_err());
        assert!(parse_update(&["balance".into()]).is_err());
    }
}
