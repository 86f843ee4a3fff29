//! Just enough of the Dockerfile grammar to find parser directives and the images a build
//! needs: directives, comments, line continuations, instructions, `ARG` defaults and variable
//! substitution in `FROM`.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    pub line: usize,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instruction {
    /// Line where the instruction starts.
    pub line: usize,
    /// Upper-cased.
    pub keyword: String,
    pub args: String,
}

#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub directives: Vec<Directive>,
    pub instructions: Vec<Instruction>,
}

const DIRECTIVES: &[&str] = &["syntax", "escape", "check"];

fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix('#')?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim().to_ascii_lowercase();
    DIRECTIVES
        .contains(&name.as_str())
        .then(|| (name, value.trim().to_string()))
}

pub(crate) fn parse(text: &str) -> Parsed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parsed = Parsed::default();
    let mut lines = text.lines().enumerate().peekable();

    // Directives count only at the very top; the first other line ends them.
    while let Some((i, line)) = lines.peek() {
        let Some((name, value)) = directive(line) else {
            break;
        };
        parsed.directives.push(Directive {
            line: i + 1,
            name,
            value,
        });
        lines.next();
    }
    let escape = match parsed.directives.iter().find(|d| d.name == "escape") {
        Some(d) if d.value == "`" => '`',
        _ => '\\',
    };

    let mut current: Option<(usize, String)> = None;
    for (i, line) in lines {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_some()) {
            // Comments and blank lines inside a continued instruction are dropped by docker too.
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        let (start, mut text) = current.take().unwrap_or((i + 1, String::new()));
        let body = line.trim_end();
        if let Some(cont) = body.strip_suffix(escape) {
            text.push_str(cont);
            current = Some((start, text));
            continue;
        }
        text.push_str(body);
        push_instruction(&mut parsed, start, &text);
    }
    if let Some((start, text)) = current {
        push_instruction(&mut parsed, start, &text);
    }
    parsed
}

fn push_instruction(parsed: &mut Parsed, line: usize, text: &str) {
    let text = text.trim();
    let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    parsed.instructions.push(Instruction {
        line,
        keyword: keyword.to_ascii_uppercase(),
        args: args.trim().to_string(),
    });
}

/// `ARG A=1 B "C=x y"` -> [(A, Some(1)), (B, None), (C, Some(x y))].
pub(crate) fn arg_defaults(args: &str) -> Vec<(String, Option<String>)> {
    split_words(args)
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(unquote(v))),
            None => (word, None),
        })
        .collect()
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// Splits on whitespace outside quotes, keeping the quotes.
pub(crate) fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                word.push(c);
            }
            Some(_) => word.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                word.push(c);
            }
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            None => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Expands `$VAR`, `${VAR}`, `${VAR:-word}` and `${VAR:+word}` from `vars`. A variable with no
/// value (declared without default, or not declared) is an error carrying its name, because
/// paas passes no build arguments and an empty image name would only fail later, obscurely.
pub(crate) fn substitute(
    s: &str,
    vars: &HashMap<String, Option<String>>,
) -> Result<String, String> {
    let lookup = |name: &str| vars.get(name).cloned().flatten();
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'$') {
            out.push('$');
            chars.next();
            continue;
        }
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            chars.next();
            let mut inner = String::new();
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
                inner.push(c);
            }
            if let Some((name, word)) = inner.split_once(":-") {
                out.push_str(
                    &lookup(name)
                        .filter(|v| !v.is_empty())
                        .unwrap_or(word.to_string()),
                );
            } else if let Some((name, word)) = inner.split_once(":+") {
                if lookup(name).is_some_and(|v| !v.is_empty()) {
                    out.push_str(word);
                }
            } else {
                out.push_str(&lookup(&inner).ok_or(inner)?);
            }
        } else {
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            if name.is_empty() {
                out.push('$');
            } else {
                out.push_str(&lookup(&name).ok_or(name)?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_only_at_the_top() {
        let p = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM a\n# syntax=x\n");
        assert_eq!(p.directives.len(), 2);
        assert_eq!(p.directives[0].value, "docker/dockerfile:1");
        let p = parse("# a comment\n# syntax=docker/dockerfile:1\nFROM a\n");
        assert!(p.directives.is_empty());
        let p = parse("\n# syntax=docker/dockerfile:1\nFROM a\n");
        assert!(p.directives.is_empty());
    }

    #[test]
    fn continuations_and_comments() {
        let text = "FROM a AS b\nRUN echo 1 \\\n  # inside\n\n  && echo 2\n# c\nfrom b\n";
        let p = parse(text);
        let kw: Vec<_> = p
            .instructions
            .iter()
            .map(|i| (i.line, i.keyword.as_str()))
            .collect();
        assert_eq!(kw, [(1, "FROM"), (2, "RUN"), (7, "FROM")]);
        assert_eq!(p.instructions[1].args, "echo 1   && echo 2");
        let p = parse("# escape=`\nRUN a `\n b\n");
        assert_eq!(p.instructions[0].args, "a  b");
    }

    #[test]
    fn args_and_substitution() {
        let vars: HashMap<_, _> = arg_defaults("A=x B C=\"y z\"").into_iter().collect();
        assert_eq!(vars["A"].as_deref(), Some("x"));
        assert_eq!(vars["B"], None);
        assert_eq!(vars["C"].as_deref(), Some("y z"));
        assert_eq!(substitute("$A:${A}", &vars).unwrap(), "x:x");
        assert_eq!(substitute("${B:-d}/${A:+set}", &vars).unwrap(), "d/set");
        assert_eq!(substitute("${B}", &vars), Err("B".to_string()));
        assert_eq!(substitute("$NOPE", &vars), Err("NOPE".to_string()));
        assert_eq!(substitute("\\$A", &vars).unwrap(), "$A");
    }
}
