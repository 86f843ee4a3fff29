//! Heroku Procfile: one `type: command` line per process type.

use std::collections::BTreeMap;

use paas_api::NameError;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProcfileError {
    #[error("Procfile line {line}: expected `type: command`, found {text:?}")]
    MissingColon { line: usize, text: String },
    #[error("Procfile line {line}: {source}")]
    BadType {
        line: usize,
        #[source]
        source: NameError,
    },
    #[error(
        "Procfile line {line}: process type \"run\" is reserved for one-off processes \
         (`paas run` names them run.1, run.2, ...): give it another name"
    )]
    Reserved { line: usize },
    #[error("Procfile line {line}: process type {name:?} has no command: write `{name}: COMMAND`")]
    EmptyCommand { line: usize, name: String },
    #[error(
        "Procfile line {line}: process type {name:?} is already declared on line {first}: keep one"
    )]
    Duplicate {
        line: usize,
        name: String,
        first: usize,
    },
}

/// Parses a Procfile into process type -> command. Blank lines and `#` comments are skipped.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, ProcfileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut types = BTreeMap::new();
    let mut first_line = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, command)) = trimmed.split_once(':') else {
            return Err(ProcfileError::MissingColon {
                line,
                text: trimmed.to_string(),
            });
        };
        let (name, command) = (name.trim(), command.trim());
        paas_api::validate_process_type(name)
            .map_err(|source| ProcfileError::BadType { line, source })?;
        if name == "run" {
            return Err(ProcfileError::Reserved { line });
        }
        if command.is_empty() {
            return Err(ProcfileError::EmptyCommand {
                line,
                name: name.to_string(),
            });
        }
        if let Some(&first) = first_line.get(name) {
            return Err(ProcfileError::Duplicate {
                line,
                name: name.to_string(),
                first,
            });
        }
        first_line.insert(name.to_string(), line);
        types.insert(name.to_string(), command.to_string());
    }
    Ok(types)
}
