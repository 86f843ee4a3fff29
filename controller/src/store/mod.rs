//! All SQL lives here. Each submodule holds the queries of one table or aggregate; multi-row
//! changes that must stand or fall together run in one transaction inside one function.

mod apps;
mod builds;
mod collaborators;
mod config;
mod drains;
mod formation;
mod process_settings;
mod releases;
mod routing;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};
use thiserror::Error;

pub use apps::AppRow;
pub use builds::BuildRow;
pub use collaborators::CollaboratorRow;
pub use drains::DrainRow;
pub use formation::FormationRow;
pub use process_settings::ProcessSettingsRow;
pub use releases::{NewRelease, ReleaseRow};
pub use routing::{CertificateRow, DomainRow};
pub use users::UserRow;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot open the database at {url}: {source}")]
    Connect {
        /// With any password masked: this ends up in logs.
        url: String,
        source: sqlx::Error,
    },
    #[error("{0} already exists")]
    Conflict(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Turns a unique-constraint violation into `Conflict(what)`, leaving other errors alone.
    fn conflict(e: sqlx::Error, what: impl Into<String>) -> StoreError {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(what.into())
            }
            _ => StoreError::Db(e),
        }
    }
}

/// Concrete pools rather than `sqlx::Any`: `Any` cannot carry chrono timestamps, and a concrete
/// pool lets sqlx check every column type against the Rust field it decodes into.
#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on either backend; helpers that must share one take `&mut Tx`.
pub(crate) enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }
}

/// Runs `$body` with `$pool` bound to the store's concrete pool. The body is expanded once per
/// backend, so each query is written once but type-checked and compiled for both; both arms
/// must end in the same (backend-neutral) type.
///
/// SQL placeholders are `$1, $2, ...` everywhere: Postgres accepts nothing else, and sqlx binds
/// SQLite's `$N` by its number too. A `?` would still work on SQLite and only fail on Postgres,
/// which is what the `no_question_mark_placeholders` test below catches.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}

/// Like `on_pool!`, with `$conn` bound to the transaction's `&mut` concrete connection.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $conn: &mut sqlx::SqliteConnection = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $conn: &mut sqlx::PgConnection = &mut **t;
                $body
            }
        }
    };
}

pub(crate) use {on_pool, on_tx};

#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Opens (creating if needed) the database and runs the migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let connect_err = |source| StoreError::Connect {
            url: redact(url),
            source,
        };
        let pool = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(connect_err)?
                .create_if_missing(true)
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            sqlx::migrate!("../migrations").run(&pool).await?;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url).map_err(connect_err)?;
            let pool = PgPoolOptions::new()
                .max_connections(8)
                // An unreachable server should stop paasd with a reason soon, not after the
                // default 30 s.
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            // Each dialect has its own migration history; the Postgres one mirrors the SQLite
            // one file for file, in Postgres types.
            sqlx::migrate!("../migrations/postgres").run(&pool).await?;
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        Ok(Store { pool })
    }

    async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }
}

/// The URL with its password (if any) replaced by `***`, fit for error messages and logs.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_string(),
    }
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://paas:s3cret@db.local:5432/paas?sslmode=disable"),
            "postgres://paas:***@db.local:5432/paas?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://paas@db.local/paas"),
            "postgres://paas@db.local/paas"
        );
        assert_eq!(
            redact("sqlite:///var/lib/paas/paas.db"),
            "sqlite:///var/lib/paas/paas.db"
        );
        assert_eq!(redact("mysql://a:b@h/x"), "mysql://a:***@h/x");
    }

    /// Every query is written with `$N` placeholders (see `on_pool!`). A `?` placeholder would
    /// pass every SQLite test and fail only on Postgres, so look for one in the SQL text.
    #[test]
    fn no_question_mark_placeholders() {
        let sources = [
            ("apps.rs", include_str!("apps.rs")),
            ("builds.rs", include_str!("builds.rs")),
            ("collaborators.rs", include_str!("collaborators.rs")),
            ("config.rs", include_str!("config.rs")),
            ("drains.rs", include_str!("drains.rs")),
            ("formation.rs", include_str!("formation.rs")),
            ("process_settings.rs", include_str!("process_settings.rs")),
            ("releases.rs", include_str!("releases.rs")),
            ("routing.rs", include_str!("routing.rs")),
            ("users.rs", include_str!("users.rs")),
        ];
        for (file, text) in sources {
            for (line, literal) in string_literals(text) {
                let bytes = literal.as_bytes();
                for (i, &b) in bytes.iter().enumerate() {
                    // `{x:?}` in format strings is Debug formatting, not a placeholder.
                    let after_colon_or_hash = i > 0 && matches!(bytes[i - 1], b':' | b'#');
                    assert!(
                        b != b'?' || after_colon_or_hash,
                        "{file}:{line}: `?` placeholder in SQL, use $N: {literal}"
                    );
                }
            }
        }
    }

    /// The double-quoted literals of a Rust source with the line each starts on; enough of a
    /// lexer for these files (no char literals holding quotes, no raw strings).
    fn string_literals(text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        let mut line = 1;
        let mut current: Option<(usize, String)> = None;
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match (&mut current, c) {
                (None, '"') => current = Some((line, String::new())),
                (Some(_), '"') => out.extend(current.take()),
                (Some((_, s)), '\\') => {
                    if let Some(next) = chars.next() {
                        if next == '\n' {
                            line += 1;
                        }
                        s.push('\\');
                        s.push(next);
                    }
                }
                (Some((_, s)), c) => s.push(c),
                (None, _) => {}
            }
            if c == '\n' {
                line += 1;
            }
        }
        out
    }
}
