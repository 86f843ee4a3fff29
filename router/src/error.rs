use std::time::SystemTime;

/// Errors at the router's boundary: configuration it cannot use, certificates that do not
/// check out, listeners that fail.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("invalid domain {domain:?}: {reason}")]
    InvalidDomain {
        domain: String,
        reason: &'static str,
    },
    #[error("app name {app:?} is not a DNS label (letters, digits, '-'); it cannot be routed")]
    InvalidAppName { app: String },
    #[error("domain {domain:?} of app {app} is already served by app {taken_by}")]
    DuplicateDomain {
        domain: String,
        app: String,
        taken_by: String,
    },
    #[error("canary weight {weight} of app {app} is above 100; 100 is used")]
    InvalidCanaryWeight { app: String, weight: u8 },
    #[error("cannot read the router's listening address: {0}")]
    LocalAddr(#[source] std::io::Error),
    #[error("cannot listen on {0}: {1}")]
    Listen(std::net::SocketAddr, #[source] std::io::Error),
    #[error("router thread: {0}")]
    Thread(String),

    #[error("the certificate PEM holds no certificate")]
    NoCertificate,
    #[error("the key PEM holds no private key (PKCS#8, PKCS#1 or SEC1)")]
    NoPrivateKey,
    #[error("cannot read the {what} PEM: {reason}")]
    BadPem { what: &'static str, reason: String },
    #[error("cannot parse the certificate: {0}")]
    BadCertificate(String),
    #[error("the private key cannot be used: {0}")]
    BadPrivateKey(String),
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    #[error("the certificate expired at {} (UTC)", format_time(*not_after))]
    CertificateExpired { not_after: SystemTime },
    #[error("the certificate is not valid before {} (UTC)", format_time(*not_before))]
    CertificateNotYetValid { not_before: SystemTime },
    #[error("the certificate does not cover {host}; it covers: {}", names.join(", "))]
    CertificateDoesNotCover { host: String, names: Vec<String> },
    #[error("cannot make the fallback certificate: {0}")]
    SelfSigned(String),
}

/// `YYYY-MM-DD HH:MM:SS` without pulling in a date library.
pub(crate) fn format_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_format_as_utc_dates() {
        let t = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(format_time(t(0)), "1970-01-01 00:00:00");
        assert_eq!(format_time(t(951_782_400)), "2000-02-29 00:00:00");
        assert_eq!(format_time(t(1_767_225_599)), "2025-12-31 23:59:59");
    }
}
