//! `paasd stack build`: makes the stack images of buildpack builds with the stack maker
//! (`deploy/stacks/make.sh`, installed with paas), which bootstraps them from Debian packages
//! and labels each with its recipe's hash, so a second run does nothing.

use std::process::Command;

use clap::Subcommand;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum StackCommand {
    /// Make the stack images (run, then build) unless they are up to date.
    Build {
        /// Rebuild even when up to date.
        #[arg(long)]
        force: bool,
        /// Stacks to make (recipe directory names, e.g. `run`); default: all.
        names: Vec<String>,
    },
    /// List the stack recipes.
    List,
}

/// Runs the stack maker; returns the exit code for the process.
pub fn run(config: &Config, command: &StackCommand) -> i32 {
    let script = config.stacks_dir.join("make.sh");
    if !script.is_file() {
        eprintln!(
            "paasd stack: {} not found: set --stacks-dir (PAAS_STACKS_DIR) to the deploy/stacks folder of paas (deploy/bootstrap.sh installs it at /usr/local/share/paas/deploy/stacks)",
            script.display()
        );
        return 1;
    }
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .env("PAAS_CA_BUNDLE", &config.ca_bundle)
        .env("DOCKER_HOST", &config.docker_host);
    match command {
        StackCommand::Build { force, names } => {
            if *force {
                cmd.arg("--force");
            }
            cmd.args(names);
        }
        StackCommand::List => {
            cmd.arg("--list");
        }
    }
    match cmd.status() {
        Ok(status) => {
            if status.success() {
                if let StackCommand::Build { .. } = command {
                    eprintln!(
                        "paasd builds on {} and runs apps on {} (--build-stack, --run-stack)",
                        config.build_stack, config.run_stack
                    );
                }
            }
            status.code().unwrap_or(1)
        }
        Err(e) => {
            eprintln!("paasd stack: cannot run bash {}: {e}", script.display());
            1
        }
    }
}
