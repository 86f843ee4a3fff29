//! The wire format of the paas HTTP API: the Heroku Platform API v3 shapes where Heroku has the
//! resource, and paas's own resources beside them in the same style.

pub mod error;
pub mod metrics;
pub mod names;
pub mod private_file;
pub mod router_feed;
pub mod run;
pub mod settings;
pub mod types;

pub use error::ErrorBody;
pub use names::{validate_app_name, validate_config_key, validate_process_type, NameError};
pub use settings::*;
pub use types::*;

/// The media type Heroku clients send; plain `application/json` is accepted too.
pub const HEROKU_ACCEPT: &str = "application/vnd.heroku+json; version=3";
