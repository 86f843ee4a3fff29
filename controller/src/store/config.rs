use std::collections::BTreeMap;

use super::{on_pool, on_tx, Store, StoreError, Tx};

const READ_CONFIG: &str = "SELECT key, value FROM config_vars WHERE app_id = $1";

impl Store {
    pub async fn config_vars(&self, app_id: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = on_pool!(self, pool => sqlx::query_as(READ_CONFIG)
            .bind(app_id)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().collect())
    }
}

pub(super) async fn read_config(
    tx: &mut Tx,
    app_id: &str,
) -> Result<BTreeMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> = on_tx!(tx, conn => {
        sqlx::query_as(READ_CONFIG)
            .bind(app_id)
            .fetch_all(&mut *conn)
            .await?
    });
    Ok(rows.into_iter().collect())
}

/// Applies a patch (`None` unsets) to the app's current config.
pub(super) async fn patch_config(
    tx: &mut Tx,
    app_id: &str,
    patch: &BTreeMap<String, Option<String>>,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        for (key, value) in patch {
            match value {
                Some(v) => {
                    sqlx::query(
                        "INSERT INTO config_vars (app_id, key, value) VALUES ($1, $2, $3) \
                         ON CONFLICT (app_id, key) DO UPDATE SET value = excluded.value",
                    )
                    .bind(app_id)
                    .bind(key)
                    .bind(v)
                    .execute(&mut *conn)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM config_vars WHERE app_id = $1 AND key = $2")
                        .bind(app_id)
                        .bind(key)
                        .execute(&mut *conn)
                        .await?;
                }
            }
        }
    });
    Ok(())
}

/// Replaces the app's whole config (rollback restores an old release's config).
pub(super) async fn replace_config(
    tx: &mut Tx,
    app_id: &str,
    config: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("DELETE FROM config_vars WHERE app_id = $1")
        .bind(app_id)
        .execute(&mut *conn)
        .await
        .map(drop))?;
    let patch = config
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    patch_config(tx, app_id, &patch).await
}
