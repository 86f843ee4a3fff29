//! `domains`, `certs`, `maintenance`: how the router reaches an app.

use anyhow::{Context, Result};
use clap::Args;
use paas_api::{App, AppUpdate, Domain, DomainCreate, SniEndpoint, SniEndpointCreate};

use crate::args::{AppArg, AppJsonArgs};
use crate::client::{self, Client};
use crate::output;

#[derive(Debug, Args)]
pub struct DomainArgs {
    /// e.g. www.example.com or *.example.com
    #[arg(value_name = "HOSTNAME")]
    pub hostname: String,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct CertAddArgs {
    /// PEM file with the certificate chain
    #[arg(value_name = "CERT")]
    pub cert: std::path::PathBuf,
    /// PEM file with the private key
    #[arg(value_name = "KEY")]
    pub key: std::path::PathBuf,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct CertRemoveArgs {
    /// The certificate's id, from `paas certs`
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub app: AppArg,
}

pub fn domains(args: AppJsonArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "domains"], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let domains: Vec<Domain> = client::decode(value)?;
    println!("=== {app} Domains");
    let rows: Vec<Vec<String>> = domains
        .iter()
        .map(|d| {
            let cname = d
                .cname
                .as_ref()
                .map(|c| format!("CNAME {c}"))
                .unwrap_or_default();
            vec![d.hostname.clone(), d.kind.clone(), cname]
        })
        .collect();
    print!("{}", output::table(&rows));
    Ok(())
}

pub fn domains_add(args: DomainArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let body = DomainCreate {
        hostname: args.hostname.clone(),
    };
    output::step(
        &format!("Adding {} to {app}", args.hostname),
        || api.post::<_, Domain>(&["apps", &app, "domains"], &body),
        |d| {
            d.cname
                .as_ref()
                .map(|c| format!("; point its DNS (CNAME) at {c}"))
                .unwrap_or_default()
        },
    )?;
    Ok(())
}

pub fn domains_remove(args: DomainArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    output::step(
        &format!("Removing {} from {app}", args.hostname),
        || api.delete(&["apps", &app, "domains", &args.hostname]),
        |_| String::new(),
    )?;
    Ok(())
}

pub fn certs(args: AppJsonArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &app, "sni-endpoints"], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let certs: Vec<SniEndpoint> = client::decode(value)?;
    println!("=== {app} Certificates");
    let rows: Vec<Vec<String>> = certs
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.domains.join(","),
                format!("expires {}", output::time(&c.expires_at)),
            ]
        })
        .collect();
    print!("{}", output::table(&rows));
    Ok(())
}

pub fn certs_add(args: CertAddArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    let body = SniEndpointCreate {
        certificate_chain: read(&args.cert)?,
        private_key: read(&args.key)?,
    };
    let api = Client::connect()?;
    output::step(
        &format!("Adding a certificate to {app}"),
        || api.post::<_, SniEndpoint>(&["apps", &app, "sni-endpoints"], &body),
        |c| format!(" (covers {}; id {})", c.domains.join(", "), c.id),
    )?;
    Ok(())
}

pub fn certs_remove(args: CertRemoveArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let api = Client::connect()?;
    output::step(
        &format!("Removing certificate {} from {app}", args.id),
        || api.delete(&["apps", &app, "sni-endpoints", &args.id]),
        |_| String::new(),
    )?;
    Ok(())
}

pub fn maintenance(app: AppArg) -> Result<()> {
    let app = app.resolve()?;
    let api = Client::connect()?;
    let info: App = api.get(&["apps", &app])?;
    println!("{}", if info.maintenance { "on" } else { "off" });
    Ok(())
}

pub fn set_maintenance(app: AppArg, on: bool) -> Result<()> {
    let app = app.resolve()?;
    let api = Client::connect()?;
    let body = AppUpdate {
        maintenance: Some(on),
    };
    let what = if on { "Enabling" } else { "Disabling" };
    output::step(
        &format!("{what} maintenance mode for {app}"),
        || api.patch::<_, App>(&["apps", &app], &body),
        |_| String::new(),
    )?;
    Ok(())
}
