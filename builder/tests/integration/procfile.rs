use paas_builder::procfile::{parse, ProcfileError};

#[test]
fn parses_types_and_commands() {
    let text = "\u{feff}# processes\nweb: bundle exec rails s -b 0.0.0.0:$PORT\r\n\n  worker_2 :  ./work --fast  \nclock:x\n";
    let types = parse(text).unwrap();
    let got: Vec<(&str, &str)> = types
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("clock", "x"),
            ("web", "bundle exec rails s -b 0.0.0.0:$PORT"),
            ("worker_2", "./work --fast"),
        ]
    );
    assert!(parse("").unwrap().is_empty());
    assert!(parse("# only comments\n\n").unwrap().is_empty());
}

#[test]
fn missing_colon() {
    let err = parse("web: ok\nworker run it\n").unwrap_err();
    assert_eq!(
        err,
        ProcfileError::MissingColon {
            line: 2,
            text: "worker run it".into()
        }
    );
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn bad_type() {
    let err = parse("\nWeb: run\n").unwrap_err();
    assert!(
        matches!(err, ProcfileError::BadType { line: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("invalid process type \"Web\""),
        "{err}"
    );
    assert!(matches!(
        parse(": run").unwrap_err(),
        ProcfileError::BadType { line: 1, .. }
    ));
}

#[test]
fn empty_command() {
    let err = parse("web: run\nworker:   \n").unwrap_err();
    assert_eq!(
        err,
        ProcfileError::EmptyCommand {
            line: 2,
            name: "worker".into()
        }
    );
    assert!(err.to_string().contains("has no command"), "{err}");
}

#[test]
fn duplicate_type() {
    let err = parse("web: a\n# x\nweb: b\n").unwrap_err();
    assert_eq!(
        err,
        ProcfileError::Duplicate {
            line: 3,
            name: "web".into(),
            first: 1
        }
    );
    assert!(
        err.to_string().contains("already declared on line 1"),
        "{err}"
    );
}

#[test]
fn run_is_reserved_for_one_offs() {
    let err = parse("web: a\nrun: b\n").unwrap_err();
    assert_eq!(err, ProcfileError::Reserved { line: 2 });
    assert!(err.to_string().contains("reserved for one-off"), "{err}");
    assert!(parse("web: a\nrunner: b\n").is_ok());
}
