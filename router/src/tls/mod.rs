//! TLS termination: certificates chosen by SNI from a hot-swappable store, with a self-signed
//! fallback for `*.DOMAIN`.

mod certs;
mod store;

pub use certs::{inspect_certificate, validate_certificate, CertEntry, CertInfo};
pub(crate) use store::CertStore;
