use chrono::{DateTime, Utc};

use super::{new_id, on_pool, Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DrainRow {
    pub id: String,
    pub app_id: String,
    pub app_name: String,
    pub url: String,
    pub created_at: DateTime<Utc>,
}

const SELECT_DRAIN: &str = "SELECT log_drains.*, apps.name AS app_name FROM log_drains JOIN apps ON apps.id = log_drains.app_id";

impl Store {
    pub async fn all_drains(&self) -> Result<Vec<DrainRow>, StoreError> {
        on_pool!(self, pool => Ok(
            sqlx::query_as(&format!("{SELECT_DRAIN} ORDER BY log_drains.created_at"))
                .fetch_all(pool)
                .await?,
        ))
    }

    pub async fn drains(&self, app_id: &str) -> Result<Vec<DrainRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as(&format!(
            "{SELECT_DRAIN} WHERE log_drains.app_id = $1 ORDER BY log_drains.created_at"
        ))
        .bind(app_id)
        .fetch_all(pool)
        .await?))
    }

    pub async fn add_drain(&self, app_id: &str, url: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO log_drains (id, app_id, url, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(new_id())
        .bind(app_id)
        .bind(url)
        .bind(Utc::now())
        .execute(pool)
        .await
        .map(drop))
        .map_err(|e| StoreError::conflict(e, format!("drain {url:?}")))?;
        Ok(())
    }

    /// Returns whether a drain was removed.
    pub async fn remove_drain(&self, app_id: &str, id_or_url: &str) -> Result<bool, StoreError> {
        let removed = on_pool!(self, pool => sqlx::query(
            "DELETE FROM log_drains WHERE app_id = $1 AND (id = $2 OR url = $2)",
        )
        .bind(app_id)
        .bind(id_or_url)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(removed > 0)
    }
}
