/// Errors at the router's boundary: bad configuration or a listener that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("invalid router domain {domain:?}: {reason}")]
    InvalidDomain {
        domain: String,
        reason: &'static str,
    },
    #[error("cannot read the router's listening address: {0}")]
    LocalAddr(#[source] std::io::Error),
}
