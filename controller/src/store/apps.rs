use chrono::{DateTime, Utc};

use super::{new_id, on_pool, on_tx, Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppRow {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub owner_name: String,
    /// The router answers with a maintenance page instead of the app.
    pub maintenance: bool,
    /// A release taking `canary_weight` percent of the clients.
    pub canary_release: Option<i64>,
    pub canary_weight: i64,
    /// JSON of `paas_api::RouterSettings`.
    pub router_settings: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT_APP: &str =
    "SELECT apps.*, users.name AS owner_name FROM apps JOIN users ON users.id = apps.owner_id";

impl Store {
    pub async fn create_app(&self, name: &str, owner_id: &str) -> Result<AppRow, StoreError> {
        let id = new_id();
        let now = Utc::now();
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO apps (id, name, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(name)
        .bind(owner_id)
        .bind(now)
        .bind(now)
        .execute(pool)
        .await
        .map(drop))
        .map_err(|e| StoreError::conflict(e, format!("app {name:?}")))?;
        self.app_by_name(name)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("app {name} vanished after insert")))
    }

    pub async fn app_by_name(&self, name: &str) -> Result<Option<AppRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as(&format!("{SELECT_APP} WHERE apps.name = $1"))
            .bind(name)
            .fetch_optional(pool)
            .await?))
    }

    /// Every app, or (for a non-admin) those the user owns or collaborates on.
    pub async fn list_apps(&self, visible_to: Option<&str>) -> Result<Vec<AppRow>, StoreError> {
        on_pool!(self, pool => {
            let rows = match visible_to {
                None => {
                    sqlx::query_as(&format!("{SELECT_APP} ORDER BY apps.name"))
                        .fetch_all(pool)
                        .await?
                }
                Some(user_id) => {
                    sqlx::query_as(&format!(
                        "{SELECT_APP} WHERE apps.owner_id = $1 OR apps.id IN \
                         (SELECT app_id FROM collaborators WHERE user_id = $1) ORDER BY apps.name"
                    ))
                    .bind(user_id)
                    .fetch_all(pool)
                    .await?
                }
            };
            Ok(rows)
        })
    }

    pub async fn delete_app(&self, app_id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // Releases point at builds, so they go first; the rest cascades from apps.
        on_tx!(&mut tx, conn => {
            sqlx::query("DELETE FROM releases WHERE app_id = $1")
                .bind(app_id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM apps WHERE id = $1")
                .bind(app_id)
                .execute(&mut *conn)
                .await?;
        });
        tx.commit().await?;
        Ok(())
    }

    pub async fn touch_app(&self, app_id: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("UPDATE apps SET updated_at = $1 WHERE id = $2")
            .bind(Utc::now())
            .bind(app_id)
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }
}
