//! Human output in the Heroku CLI's style: `=== Title` headers, aligned columns, `Doing... done`.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Local, Utc};
use serde_json::Value;

pub fn header(title: &str) {
    println!("=== {title}");
}

/// `--json`: the API's answer as it came, indented.
pub fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Columns separated by two spaces, each padded to its widest cell; the last is not padded so
/// lines carry no trailing blanks.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(
                    ' ',
                    widths[c] - cell.chars().count() + 2,
                ));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `Key:  value` pairs with the values aligned two columns after the longest key's colon.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let pad = width - k.chars().count() + 2;
        out.push_str(format!("{k}:{}{v}", " ".repeat(pad)).trim_end());
        out.push('\n');
    }
    out
}

/// A timestamp in the user's local time zone, to the second.
pub fn time(t: &DateTime<Utc>) -> String {
    t.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Runs `f` between `msg... ` and `done<suffix>` (or `failed`), so a slow step shows what it
/// is waiting for.
pub fn step<T>(
    msg: &str,
    f: impl FnOnce() -> Result<T>,
    suffix: impl FnOnce(&T) -> String,
) -> Result<T> {
    print!("{msg}... ");
    let _ = std::io::stdout().flush();
    match f() {
        Ok(v) => {
            println!("done{}", suffix(&v));
            Ok(v)
        }
        Err(e) => {
            println!("failed");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_all_but_the_last_column() {
        let rows = vec![
            vec![
                "v10".to_string(),
                "Deploy abc".to_string(),
                "admin".to_string(),
            ],
            vec!["v9".to_string(), "Set X".to_string(), "bob".to_string()],
        ];
        assert_eq!(
            table(&rows),
            "v10  Deploy abc  admin\nv9   Set X       bob\n"
        );
        assert_eq!(table(&[]), "");
    }

    #[test]
    fn key_values_align_values() {
        let s = key_values(&[
            ("Web URL", "http://a/".into()),
            ("Owner", "admin".into()),
            ("X", String::new()),
        ]);
        assert_eq!(s, "Web URL:  http://a/\nOwner:    admin\nX:\n");
    }
}
