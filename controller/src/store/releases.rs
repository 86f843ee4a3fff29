use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::config::{patch_config, read_config, replace_config};
use super::{new_id, on_pool, on_tx, Store, StoreError, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReleaseRow {
    pub id: String,
    pub app_id: String,
    pub version: i64,
    pub build_id: Option<String>,
    pub config: String,
    pub description: String,
    pub status: String,
    pub user_id: String,
    pub user_name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ReleaseRow {
    pub fn config(&self) -> BTreeMap<String, String> {
        serde_json::from_str(&self.config).unwrap_or_default()
    }
}

/// What a new release points at. The config snapshot is taken inside the same transaction.
pub struct NewRelease<'a> {
    pub build_id: Option<&'a str>,
    pub description: String,
    pub user_id: &'a str,
}

const SELECT_RELEASE: &str =
    "SELECT releases.*, users.name AS user_name FROM releases JOIN users ON users.id = releases.user_id";

/// The release that runs: the newest one that did not fail. (A pending release is the one
/// being deployed; failed ones are kept in history but never become current.)
const CURRENT: &str = "releases.status = 'succeeded'";

impl Store {
    pub async fn list_releases(&self, app_id: &str) -> Result<Vec<ReleaseRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as(&format!(
            "{SELECT_RELEASE} WHERE releases.app_id = $1 ORDER BY releases.version"
        ))
        .bind(app_id)
        .fetch_all(pool)
        .await?))
    }

    pub async fn current_release(&self, app_id: &str) -> Result<Option<ReleaseRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as(&format!(
            "{SELECT_RELEASE} WHERE releases.app_id = $1 AND {CURRENT} ORDER BY releases.version DESC LIMIT 1"
        ))
        .bind(app_id)
        .fetch_optional(pool)
        .await?))
    }

    pub async fn release_by_version(
        &self,
        app_id: &str,
        version: i64,
    ) -> Result<Option<ReleaseRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as(&format!(
            "{SELECT_RELEASE} WHERE releases.app_id = $1 AND releases.version = $2"
        ))
        .bind(app_id)
        .bind(version)
        .fetch_optional(pool)
        .await?))
    }

    pub async fn release_by_id(
        &self,
        app_id: &str,
        id: &str,
    ) -> Result<Option<ReleaseRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as(&format!(
            "{SELECT_RELEASE} WHERE releases.app_id = $1 AND releases.id = $2"
        ))
        .bind(app_id)
        .bind(id)
        .fetch_optional(pool)
        .await?))
    }

    pub async fn set_release_status(&self, id: &str, status: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("UPDATE releases SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(Utc::now())
            .bind(id)
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }

    /// A build finished: a release of it with the app's current config.
    pub async fn release_build(
        &self,
        app_id: &str,
        new: NewRelease<'_>,
    ) -> Result<ReleaseRow, StoreError> {
        let mut tx = self.begin().await?;
        lock_app(&mut tx, app_id).await?;
        let config = read_config(&mut tx, app_id).await?;
        let row = insert_release(&mut tx, app_id, &config, new).await?;
        tx.commit().await?;
        self.reload(row).await
    }

    /// A config change and the release that carries it, together or not at all. The release
    /// runs the current release's build (none before the first build).
    pub async fn change_config(
        &self,
        app_id: &str,
        patch: &BTreeMap<String, Option<String>>,
        description: String,
        user_id: &str,
    ) -> Result<ReleaseRow, StoreError> {
        let mut tx = self.begin().await?;
        lock_app(&mut tx, app_id).await?;
        let build_id: Option<String> = on_tx!(&mut tx, conn => sqlx::query_scalar(&format!(
            "SELECT build_id FROM releases WHERE app_id = $1 AND {CURRENT} ORDER BY version DESC LIMIT 1"
        ))
        .bind(app_id)
        .fetch_optional(&mut *conn)
        .await?
        .flatten());
        patch_config(&mut tx, app_id, patch).await?;
        let config = read_config(&mut tx, app_id).await?;
        let new = NewRelease {
            build_id: build_id.as_deref(),
            description,
            user_id,
        };
        let row = insert_release(&mut tx, app_id, &config, new).await?;
        tx.commit().await?;
        self.reload(row).await
    }

    /// A new release with an old release's build and config; the app's config becomes that config.
    pub async fn rollback(
        &self,
        app_id: &str,
        target: &ReleaseRow,
        user_id: &str,
    ) -> Result<ReleaseRow, StoreError> {
        let mut tx = self.begin().await?;
        lock_app(&mut tx, app_id).await?;
        let config = target.config();
        replace_config(&mut tx, app_id, &config).await?;
        let new = NewRelease {
            build_id: target.build_id.as_deref(),
            description: format!("Rollback to v{}", target.version),
            user_id,
        };
        let row = insert_release(&mut tx, app_id, &config, new).await?;
        tx.commit().await?;
        self.reload(row).await
    }

    async fn reload(&self, row: ReleaseRow) -> Result<ReleaseRow, StoreError> {
        self.release_by_id(&row.app_id, &row.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("release {} vanished after insert", row.id)))
    }
}

/// Called first in every transaction that makes a release. Postgres (read committed) would let
/// two of them read the same MAX(version) and the same config, and then one fails on the unique
/// (app_id, version); holding the app row serialises them per app. SQLite has a single writer.
/// `NO KEY UPDATE` so that inserts referencing the app (which take a key-share lock) go on.
async fn lock_app(tx: &mut Tx, app_id: &str) -> Result<(), StoreError> {
    if tx.is_postgres() {
        on_tx!(tx, conn => sqlx::query("SELECT id FROM apps WHERE id = $1 FOR NO KEY UPDATE")
            .bind(app_id)
            .execute(&mut *conn)
            .await
            .map(drop))?;
    }
    Ok(())
}

async fn insert_release(
    tx: &mut Tx,
    app_id: &str,
    config: &BTreeMap<String, String>,
    new: NewRelease<'_>,
) -> Result<ReleaseRow, StoreError> {
    let version: i64 = on_tx!(&mut *tx, conn => sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM releases WHERE app_id = $1",
    )
    .bind(app_id)
    .fetch_one(&mut *conn)
    .await?);
    let now = Utc::now();
    let config = serde_json::to_string(config).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let row = ReleaseRow {
        id: new_id(),
        app_id: app_id.to_string(),
        version,
        build_id: new.build_id.map(str::to_string),
        config,
        description: new.description,
        status: "pending".to_string(),
        user_id: new.user_id.to_string(),
        user_name: String::new(),
        created_at: now,
        updated_at: now,
    };
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO releases (id, app_id, version, build_id, config, description, status, user_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&row.id)
    .bind(app_id)
    .bind(version)
    .bind(&row.build_id)
    .bind(&row.config)
    .bind(&row.description)
    .bind(&row.status)
    .bind(&row.user_id)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map(drop))?;
    Ok(row)
}
