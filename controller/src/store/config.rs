use std::collections::BTreeMap;

use sqlx::SqliteConnection;

use super::{Store, StoreError};

impl Store {
    pub async fn config_vars(&self, app_id: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_config(&mut conn, app_id).await
    }
}

pub(super) async fn read_config(
    conn: &mut SqliteConnection,
    app_id: &str,
) -> Result<BTreeMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, value FROM config_vars WHERE app_id = ?")
            .bind(app_id)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Applies a patch (`None` unsets) to the app's current config.
pub(super) async fn patch_config(
    conn: &mut SqliteConnection,
    app_id: &str,
    patch: &BTreeMap<String, Option<String>>,
) -> Result<(), StoreError> {
    for (key, value) in patch {
        match value {
            Some(v) => {
                sqlx::query(
                    "INSERT INTO config_vars (app_id, key, value) VALUES (?, ?, ?) \
                     ON CONFLICT (app_id, key) DO UPDATE SET value = excluded.value",
                )
                .bind(app_id)
                .bind(key)
                .bind(v)
                .execute(&mut *conn)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM config_vars WHERE app_id = ? AND key = ?")
                    .bind(app_id)
                    .bind(key)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Replaces the app's whole config (rollback restores an old release's config).
pub(super) async fn replace_config(
    conn: &mut SqliteConnection,
    app_id: &str,
    config: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM config_vars WHERE app_id = ?")
        .bind(app_id)
        .execute(&mut *conn)
        .await?;
    let patch = config
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    patch_config(conn, app_id, &patch).await
}
