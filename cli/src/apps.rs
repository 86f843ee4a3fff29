//! `apps`, `apps:create`, `apps:info`, `apps:destroy`.

use anyhow::{bail, Result};
use clap::Args;
use paas_api::{App, AppCreate, Formation};

use crate::args::{AppArg, AppJsonArgs, JsonArg};
use crate::client::{self, Client};
use crate::output;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the app: 2 to 30 lower-case letters, digits and dashes, starting with a letter
    pub name: String,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// App to destroy
    pub name: Option<String>,
    #[command(flatten)]
    pub app: AppArg,
    /// The app's name again, to confirm
    #[arg(long, value_name = "NAME")]
    pub confirm: Option<String>,
}

pub fn list(args: JsonArg) -> Result<()> {
    let api = Client::connect()?;
    let value = api.get_value(&["apps"], None)?;
    if args.json {
        return output::print_json(&value);
    }
    let mut apps: Vec<App> = client::decode(value)?;
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    output::header("Apps");
    if apps.is_empty() {
        println!("You have no apps: create one with `paas apps:create NAME`.");
    }
    for app in apps {
        println!("{}", app.name);
    }
    Ok(())
}

pub fn create(args: CreateArgs) -> Result<()> {
    paas_api::validate_app_name(&args.name)?;
    let api = Client::connect()?;
    let body = AppCreate {
        name: args.name.clone(),
    };
    let app: App = output::step(
        &format!("Creating {}", args.name),
        || api.post(&["apps"], &body),
        |_| String::new(),
    )?;
    println!("{} | {}", app.web_url, app.git_url);
    Ok(())
}

pub fn info(args: AppJsonArgs) -> Result<()> {
    let name = args.app.resolve()?;
    let api = Client::connect()?;
    let value = api.get_value(&["apps", &name], None)?;
    if args.json.json {
        return output::print_json(&value);
    }
    let app: App = client::decode(value)?;
    let formation: Vec<Formation> = api.get(&["apps", &name, "formation"])?;
    print!("{}", render_info(&app, &formation));
    Ok(())
}

fn render_info(app: &App, formation: &[Formation]) -> String {
    let release = app
        .current_release
        .map_or_else(|| "none".to_string(), |v| format!("v{v}"));
    let mut out = format!("=== {}\n", app.name);
    out.push_str(&output::key_values(&[
        ("Web URL", app.web_url.clone()),
        ("Git URL", app.git_url.clone()),
        ("Owner", app.owner.name.clone()),
        ("Release", release),
        ("Created", output::time(&app.created_at)),
    ]));
    out.push_str("\n=== Formation\n");
    let mut formation: Vec<&Formation> = formation.iter().collect();
    formation.sort_by(|a, b| a.process_type.cmp(&b.process_type));
    if formation.is_empty() {
        out.push_str("no process types yet: push code with `git push platform main`\n");
    }
    for f in formation {
        out.push_str(&format!("{}: {}\n", f.process_type, f.quantity));
    }
    out
}

pub fn destroy(args: DestroyArgs) -> Result<()> {
    let name = match args.name {
        Some(name) => {
            paas_api::validate_app_name(&name)?;
            name
        }
        None => args.app.resolve()?,
    };
    if args.confirm.as_deref() != Some(name.as_str()) {
        bail!("this permanently destroys {name}, its releases and its processes: pass --confirm {name}");
    }
    let api = Client::connect()?;
    output::step(
        &format!("Destroying {name} (including all releases and processes)"),
        || api.delete(&["apps", &name]),
        |_| String::new(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn info_shows_urls_release_and_formation() {
        let forms = [
            fixtures::formation("worker", 2),
            fixtures::formation("web", 3),
        ];
        let out = render_info(&fixtures::app("hello", Some(3)), &forms);
        assert!(
            out.starts_with("=== hello\nWeb URL:  http://hello.localhost/\n"),
            "{out}"
        );
        assert!(
            out.contains("\nGit URL:  http://127.0.0.1:7000/hello.git\n"),
            "{out}"
        );
        assert!(out.contains("\nOwner:    admin\n"), "{out}");
        assert!(out.contains("\nRelease:  v3\n"), "{out}");
        assert!(out.ends_with("=== Formation\nweb: 3\nworker: 2\n"), "{out}");
        let out = render_info(&fixtures::app("hello", None), &[]);
        assert!(out.contains("\nRelease:  none\n"), "{out}");
    }
}
