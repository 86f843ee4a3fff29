//! What a buildpack's `bin/release` prints: YAML with `default_process_types` (and the old
//! `config_vars`). Buildpacks print a small, flat subset of YAML, so this reads that subset
//! (block or flow mappings one level deep, plain and quoted scalars, comments) instead of
//! pulling in a general YAML library; anything else under the two keys is a clear error.

use std::collections::BTreeMap;

/// The parts of a `bin/release` document paas uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Release {
    pub default_process_types: BTreeMap<String, String>,
    pub config_vars: BTreeMap<String, String>,
}

const KEYS: [&str; 2] = ["default_process_types", "config_vars"];

/// Parses a `bin/release` document. Errors name the line and what was expected.
pub fn parse(text: &str) -> Result<Release, String> {
    let mut release = Release::default();
    // The mapping being filled: set after `default_process_types:` until the next top-level key.
    let mut section: Option<&'static str> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_comment(raw.trim_end());
        if line.trim().is_empty() || line == "---" || line == "..." {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        let line = line.trim();
        if !indented {
            section = None;
            let Some((key, value)) = split_key(line) else {
                return Err(format!("line {n}: expected `key: value`, found {line:?}"));
            };
            let Some(&known) = KEYS.iter().find(|k| **k == key) else {
                continue;
            };
            let target = match known {
                "default_process_types" => &mut release.default_process_types,
                _ => &mut release.config_vars,
            };
            match value {
                "" => section = Some(known),
                "{}" | "~" | "null" => {}
                v if v.starts_with('{') => {
                    parse_flow(v, target).map_err(|e| format!("line {n}: {key}: {e}"))?
                }
                v => {
                    return Err(format!(
                        "line {n}: {key} must be a mapping of names to strings, found {v:?}"
                    ))
                }
            }
            continue;
        }
        let Some(known) = section else {
            continue;
        };
        let Some((key, value)) = split_key(line) else {
            return Err(format!(
                "line {n}: {known}: expected `name: value`, found {line:?}"
            ));
        };
        let value = scalar(value).map_err(|e| format!("line {n}: {known}.{key}: {e}"))?;
        let target = match known {
            "default_process_types" => &mut release.default_process_types,
            _ => &mut release.config_vars,
        };
        target.insert(unquote_key(key), value);
    }
    Ok(release)
}

/// `key: rest` -> (key, rest), with the key possibly quoted.
fn split_key(line: &str) -> Option<(&str, &str)> {
    let end = if line.starts_with(['"', '\'']) {
        let quote = line.chars().next()?;
        line[1..].find(quote)? + 2
    } else {
        line.find(':')?
    };
    let rest = line[end..].strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some((line[..end].trim(), rest.trim()))
}

fn unquote_key(key: &str) -> String {
    scalar(key).unwrap_or_else(|_| key.to_string())
}

/// A `#` starts a comment at the line start or after whitespace, outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && (prev == ' ' || prev == '\t') => return &line[..i],
            None => {}
        }
        prev = c;
    }
    line
}

/// A plain, 'single' or "double" quoted scalar.
fn scalar(value: &str) -> Result<String, String> {
    let value = value.trim();
    if let Some(inner) = value.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or("unterminated 'quoted' string")?;
        return Ok(inner.replace("''", "'"));
    }
    if let Some(inner) = value.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or("unterminated \"quoted\" string")?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(c @ ('"' | '\\' | '/')) => out.push(c),
                Some(c) => return Err(format!("unsupported escape \\{c}")),
                None => return Err("a string ends with a backslash".into()),
            }
        }
        return Ok(out);
    }
    if value.starts_with(['|', '>']) {
        return Err(
            "block scalars (| and >) are not supported: write the value on one line".into(),
        );
    }
    if value.starts_with(['{', '[']) {
        return Err("expected a string, found a collection".into());
    }
    Ok(value.to_string())
}

/// `{a: b, "c": 'd'}` with no commas or braces inside values.
fn parse_flow(value: &str, target: &mut BTreeMap<String, String>) -> Result<(), String> {
    let inner = value
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .ok_or("unterminated {mapping}")?;
    for item in inner.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = split_key(item)
            .or_else(|| item.split_once(':').map(|(k, v)| (k.trim(), v.trim())))
            .ok_or_else(|| format!("expected `name: value`, found {item:?}"))?;
        target.insert(unquote_key(key), scalar(value)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heroku_style_release() {
        let r = parse(
            "---\naddons: []\nconfig_vars:\n  LANG: en_US.UTF-8\ndefault_process_types:\n  web: gunicorn app:app --bind 0.0.0.0:$PORT  # the server\n  worker: \"python worker.py\"\n  'clock': 'echo ''tick'''\n",
        )
        .unwrap();
        assert_eq!(
            r.default_process_types,
            BTreeMap::from([
                ("web".into(), "gunicorn app:app --bind 0.0.0.0:$PORT".into()),
                ("worker".into(), "python worker.py".into()),
                ("clock".into(), "echo 'tick'".into()),
            ])
        );
        assert_eq!(r.config_vars["LANG"], "en_US.UTF-8");
    }

    #[test]
    fn flow_and_empty_mappings() {
        let r = parse("default_process_types: {web: npm start, worker: \"node w.js\"}\n").unwrap();
        assert_eq!(r.default_process_types["web"], "npm start");
        assert_eq!(r.default_process_types["worker"], "node w.js");
        assert!(parse("default_process_types: {}\n")
            .unwrap()
            .default_process_types
            .is_empty());
        assert_eq!(parse("").unwrap(), Release::default());
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("default_process_types:\n  web\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = parse("default_process_types: web\n").unwrap_err();
        assert!(e.contains("mapping"), "{e}");
        let e = parse("default_process_types:\n  web: |\n").unwrap_err();
        assert!(e.contains("block scalars"), "{e}");
        let e = parse("default_process_types:\n  web: \"npm start\n").unwrap_err();
        assert!(e.contains("unterminated"), "{e}");
    }
}
