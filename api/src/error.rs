use serde::{Deserialize, Serialize};

/// The error envelope of every non-2xx API response: `{"id": "not_found", "message": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine-readable id (`not_found`, `unauthorized`, `forbidden`, `invalid_params`,
    /// `conflict`, `internal_error`, ...).
    pub id: String,
    /// What was wrong and what to do about it, for people.
    pub message: String,
}
