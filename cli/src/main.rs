//! `paas`: the command-line client of the paas platform, in the style of the Heroku CLI.

mod access;
mod apps;
mod args;
mod auth;
mod builds;
mod canary;
mod client;
mod config;
mod drains;
#[cfg(test)]
mod fixtures;
mod git_remote;
mod logs;
mod metrics;
mod output;
mod process_settings;
mod ps;
mod releases;
mod router_settings;
mod routing;
mod run;
mod settings;
mod tls;
mod users;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use args::{AppJsonArgs, JsonArg};

/// Deploy and run apps on a paas server: `git push` builds a release, `paas` manages the rest.
///
/// Credentials come from PAAS_API_URL and PAAS_TOKEN, else from the config file written by
/// `paas login` (~/.config/paas/config.toml). `-a APP` may be omitted inside a git checkout
/// whose `platform` remote points at the app. PAAS_CA_FILE names PEM certificates to trust for
/// an https API besides the usual ones (e.g. a copy of a self-signed platform's certificate).
#[derive(Debug, Parser)]
#[command(name = "paas", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an account and log in (the first account becomes admin)
    Register(auth::LoginArgs),
    /// Log in and save the token to the config file
    Login(auth::LoginArgs),
    /// Show the logged-in user
    Whoami(JsonArg),
    /// Print the current API token (for scripts, git and other tools)
    #[command(name = "auth:token")]
    AuthToken,

    /// List users (admin only)
    Users(JsonArg),
    /// Create a user (admin only)
    #[command(name = "users:create")]
    UsersCreate(users::CreateArgs),

    /// List the users who can use an app
    Access(AppJsonArgs),
    /// Let a user use an app
    #[command(name = "access:add")]
    AccessAdd(access::UserArgs),
    /// Stop a user from using an app
    #[command(name = "access:remove")]
    AccessRemove(access::UserArgs),

    /// List your apps
    Apps(JsonArg),
    /// Create an app
    #[command(name = "apps:create")]
    AppsCreate(apps::CreateArgs),
    /// Show an app's URLs, current release and formation
    #[command(name = "apps:info")]
    AppsInfo(AppJsonArgs),
    /// Permanently destroy an app
    #[command(name = "apps:destroy")]
    AppsDestroy(apps::DestroyArgs),

    /// Add the `platform` git remote (with credentials) so `git push platform main` deploys
    #[command(name = "git:remote")]
    GitRemote(git_remote::GitRemoteArgs),

    /// Show an app's config vars
    Config(config::ListArgs),
    /// Print one config var's value
    #[command(name = "config:get")]
    ConfigGet(config::GetArgs),
    /// Set config vars and restart the app (makes a new release)
    #[command(name = "config:set")]
    ConfigSet(config::SetArgs),
    /// Unset config vars and restart the app (makes a new release)
    #[command(name = "config:unset")]
    ConfigUnset(config::UnsetArgs),

    /// Scale process types: `paas scale web=3 worker=2`
    Scale(ps::ScaleArgs),
    /// Show memory and CPU limits per process type
    Limits(AppJsonArgs),
    /// Set a process type's limits: `paas limits:set web=512M --cpu 0.5` (a new release)
    #[command(name = "limits:set")]
    LimitsSet(process_settings::LimitsSetArgs),
    /// Show the health checks new processes must pass before they take traffic
    Healthchecks(AppJsonArgs),
    /// Set a process type's health check: `paas healthchecks:set web --path /health`
    #[command(name = "healthchecks:set")]
    HealthchecksSet(process_settings::HealthSetArgs),
    /// List an app's processes
    Ps(AppJsonArgs),
    /// Restart all processes, one type, or one process
    #[command(name = "ps:restart")]
    PsRestart(ps::RestartArgs),

    /// List an app's releases, newest first
    Releases(releases::ListArgs),
    /// List an app's builds
    Builds(AppJsonArgs),
    /// Print a build's whole output: `paas builds:output BUILD_ID`
    #[command(name = "builds:output")]
    BuildsOutput(builds::OutputArgs),
    /// List the app's log drains
    Drains(AppJsonArgs),
    /// Forward the app's logs: `paas drains:add syslog+tls://HOST:PORT` or an https:// URL
    #[command(name = "drains:add")]
    DrainsAdd(drains::DrainArgs),
    /// Stop forwarding to a drain
    #[command(name = "drains:remove")]
    DrainsRemove(drains::DrainArgs),
    /// Requests, status classes, latency, memory and CPU per release: `paas metrics --compare v7 v8`
    Metrics(metrics::MetricsArgs),
    /// List the app's domains
    Domains(AppJsonArgs),
    /// Serve the app at a custom domain too: `paas domains:add www.example.com`
    #[command(name = "domains:add")]
    DomainsAdd(routing::DomainArgs),
    /// Stop serving the app at a custom domain
    #[command(name = "domains:remove")]
    DomainsRemove(routing::DomainArgs),
    /// List the app's TLS certificates
    Certs(AppJsonArgs),
    /// Serve HTTPS with a certificate: `paas certs:add CERT KEY`
    #[command(name = "certs:add")]
    CertsAdd(routing::CertAddArgs),
    /// Remove a certificate by id
    #[command(name = "certs:remove")]
    CertsRemove(routing::CertRemoveArgs),
    /// Whether maintenance mode is on
    Maintenance(args::AppArg),
    /// Answer every request with a maintenance page (503), without touching the app
    #[command(name = "maintenance:on")]
    MaintenanceOn(args::AppArg),
    /// Serve the app again
    #[command(name = "maintenance:off")]
    MaintenanceOff(args::AppArg),
    /// Show the canary release and its share of clients
    Canary(AppJsonArgs),
    /// Send a share of clients to another release: `paas canary:start v7 --weight 10`
    #[command(name = "canary:start")]
    CanaryStart(canary::StartArgs),
    /// Stop the canary: every client goes to the current release
    #[command(name = "canary:stop")]
    CanaryStop(args::AppArg),
    /// Make the canary the current release (a new release with its build and config)
    #[command(name = "canary:promote")]
    CanaryPromote(args::AppArg),
    /// Show how the router treats the app (timeouts, body limit, HTTPS redirect, balancing)
    #[command(name = "router:settings")]
    RouterSettings(AppJsonArgs),
    /// Change router settings: `paas router:set response_timeout=60 max_body=10M`
    #[command(name = "router:set")]
    RouterSet(router_settings::SetArgs),
    /// Roll back to an earlier release (makes a new release)
    Rollback(releases::RollbackArgs),
    /// Cancel the deploy in progress (the current release keeps running)
    #[command(name = "releases:cancel")]
    ReleasesCancel(args::AppArg),

    /// Show an app's logs
    Logs(logs::LogsArgs),

    /// Run a one-off process in the app's current release: `paas run -a APP -- CMD ARGS...`
    ///
    /// Its output is streamed, this terminal's input passed to it, and `paas` exits with its
    /// exit code. With a terminal on stdin and stdout (`paas run -a APP sh`) it gets one too.
    Run(run::RunArgs),
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Register(a) => auth::register(a),
        Command::Login(a) => auth::login(a),
        Command::Whoami(a) => auth::whoami(a),
        Command::AuthToken => auth::token(),
        Command::Users(a) => users::list(a),
        Command::UsersCreate(a) => users::create(a),
        Command::Access(a) => access::list(a),
        Command::AccessAdd(a) => access::add(a),
        Command::AccessRemove(a) => access::remove(a),
        Command::Apps(a) => apps::list(a),
        Command::AppsCreate(a) => apps::create(a),
        Command::AppsInfo(a) => apps::info(a),
        Command::AppsDestroy(a) => apps::destroy(a),
        Command::GitRemote(a) => git_remote::run(a),
        Command::Config(a) => config::list(a),
        Command::ConfigGet(a) => config::get(a),
        Command::ConfigSet(a) => config::set(a),
        Command::ConfigUnset(a) => config::unset(a),
        Command::Scale(a) => ps::scale(a),
        Command::Limits(a) => process_settings::limits(a),
        Command::LimitsSet(a) => process_settings::limits_set(a),
        Command::Healthchecks(a) => process_settings::healthchecks(a),
        Command::HealthchecksSet(a) => process_settings::healthchecks_set(a),
        Command::Ps(a) => ps::ps(a),
        Command::PsRestart(a) => ps::restart(a),
        Command::Releases(a) => releases::list(a),
        Command::Rollback(a) => releases::rollback(a),
        Command::RouterSettings(a) => router_settings::show(a),
        Command::RouterSet(a) => router_settings::set(a),
        Command::Canary(a) => canary::show(a),
        Command::CanaryStart(a) => canary::start(a),
        Command::CanaryStop(a) => canary::stop(a),
        Command::CanaryPromote(a) => canary::promote(a),
        Command::Domains(a) => routing::domains(a),
        Command::DomainsAdd(a) => routing::domains_add(a),
        Command::DomainsRemove(a) => routing::domains_remove(a),
        Command::Certs(a) => routing::certs(a),
        Command::CertsAdd(a) => routing::certs_add(a),
        Command::CertsRemove(a) => routing::certs_remove(a),
        Command::Maintenance(a) => routing::maintenance(a),
        Command::MaintenanceOn(a) => routing::set_maintenance(a, true),
        Command::MaintenanceOff(a) => routing::set_maintenance(a, false),
        Command::Metrics(a) => metrics::run(a),
        Command::Drains(a) => drains::list(a),
        Command::DrainsAdd(a) => drains::add(a),
        Command::DrainsRemove(a) => drains::remove(a),
        Command::Builds(a) => builds::list(a),
        Command::BuildsOutput(a) => builds::show_output(a),
        Command::ReleasesCancel(a) => releases::cancel(a),
        Command::Logs(a) => logs::run(a),
        Command::Run(_) => unreachable!("`run` exits with its process's code: see main"),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1 like every other error; help and version are not errors.
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Run(a) => run::run(a),
        command => run(command).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_the_rest_as_the_command() {
        let cli =
            Cli::try_parse_from(["paas", "run", "-a", "x1", "--", "sh", "-c", "exit 3"]).unwrap();
        assert!(
            matches!(cli.command, Command::Run(ref r) if r.command == ["sh", "-c", "exit 3"] && !r.detach)
        );
        let cli = Cli::try_parse_from(["paas", "run", "--detach", "-a", "x1", "ls", "-l"]).unwrap();
        assert!(
            matches!(cli.command, Command::Run(ref r) if r.command == ["ls", "-l"] && r.detach)
        );
        assert!(Cli::try_parse_from(["paas", "run", "-a", "x1"]).is_err());
    }

    #[test]
    fn colon_commands_and_app_flag_parse() {
        let cli = Cli::try_parse_from(["paas", "config:set", "A=1", "B=2", "-a", "hello"]).unwrap();
        match cli.command {
            Command::ConfigSet(a) => {
                assert_eq!(a.pairs, ["A=1", "B=2"]);
                assert_eq!(a.app.app.as_deref(), Some("hello"));
            }
            other => panic!("parsed as {other:?}"),
        }
        let cli = Cli::try_parse_from(["paas", "apps:info", "--app", "hello", "--json"]).unwrap();
        assert!(
            matches!(cli.command, Command::AppsInfo(ref a) if a.json.json && a.app.app.as_deref() == Some("hello"))
        );
        let cli = Cli::try_parse_from([
            "paas", "logs", "-t", "--ps", "web.1", "--source", "router", "-a", "x1",
        ])
        .unwrap();
        assert!(
            matches!(cli.command, Command::Logs(ref l) if l.tail && l.source == Some(logs::Source::Router))
        );
        assert!(Cli::try_parse_from(["paas", "logs", "--source", "kernel"]).is_err());
        assert!(Cli::try_parse_from(["paas", "config:set"]).is_err());
        assert!(Cli::try_parse_from(["paas", "releases", "-n", "0"]).is_err());
    }
}
