//! Name rules shared by the controller (which enforces them) and the CLI (which checks early).

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    #[error("invalid app name {0:?}: use 2 to 30 characters, lower-case letters, digits and dashes, starting with a letter")]
    App(String),
    #[error(
        "invalid config key {0:?}: use letters, digits and underscores, not starting with a digit"
    )]
    ConfigKey(String),
    #[error("invalid process type {0:?}: use 1 to 30 characters, lower-case letters, digits, dashes and underscores, starting with a letter")]
    ProcessType(String),
}

/// `^[a-z][a-z0-9-]{1,29}$`
pub fn validate_app_name(name: &str) -> Result<(), NameError> {
    let b = name.as_bytes();
    let ok = (2..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(NameError::App(name.to_string()))
    }
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`
pub fn validate_config_key(key: &str) -> Result<(), NameError> {
    let b = key.as_bytes();
    let ok = !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
    if ok {
        Ok(())
    } else {
        Err(NameError::ConfigKey(key.to_string()))
    }
}

/// Process types name containers and DNS-ish labels, so they stay short and plain.
pub fn validate_process_type(name: &str) -> Result<(), NameError> {
    let b = name.as_bytes();
    let ok = (1..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_');
    if ok {
        Ok(())
    } else {
        Err(NameError::ProcessType(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names() {
        for good in [
            "ab",
            "hello",
            "my-app-2",
            "a234567890123456789012345678901"[..30].as_ref(),
        ] {
            assert_eq!(validate_app_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "a",
            "1app",
            "-app",
            "App",
            "my_app",
            "my.app",
            "a b",
            "a234567890123456789012345678901",
        ] {
            assert!(validate_app_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_keys() {
        for good in ["A", "_", "GREETING", "a_b_1", "_X9"] {
            assert_eq!(validate_config_key(good), Ok(()), "{good}");
        }
        for bad in ["", "1A", "A-B", "A B", "A=B", "é"] {
            assert!(validate_config_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn process_types() {
        assert!(validate_process_type("web").is_ok());
        assert!(validate_process_type("worker_2").is_ok());
        assert!(validate_process_type("Web").is_err());
        assert!(validate_process_type("").is_err());
        assert!(validate_process_type("we b").is_err());
    }
}
