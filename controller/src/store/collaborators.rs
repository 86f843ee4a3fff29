use chrono::{DateTime, Utc};

use super::{new_id, on_pool, Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CollaboratorRow {
    pub id: String,
    pub app_id: String,
    pub user_id: String,
    pub user_name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT_COLLABORATOR: &str =
    "SELECT collaborators.*, users.name AS user_name FROM collaborators \
     JOIN users ON users.id = collaborators.user_id";

impl Store {
    pub async fn is_collaborator(&self, app_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM collaborators WHERE app_id = $1 AND user_id = $2",
        )
        .bind(app_id)
        .bind(user_id)
        .fetch_one(pool)
        .await?);
        Ok(n > 0)
    }

    pub async fn list_collaborators(
        &self,
        app_id: &str,
    ) -> Result<Vec<CollaboratorRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as(&format!(
            "{SELECT_COLLABORATOR} WHERE collaborators.app_id = $1 ORDER BY users.name"
        ))
        .bind(app_id)
        .fetch_all(pool)
        .await?))
    }

    pub async fn add_collaborator(
        &self,
        app_id: &str,
        user_id: &str,
        user_name: &str,
    ) -> Result<CollaboratorRow, StoreError> {
        let now = Utc::now();
        let row = CollaboratorRow {
            id: new_id(),
            app_id: app_id.to_string(),
            user_id: user_id.to_string(),
            user_name: user_name.to_string(),
            created_at: now,
            updated_at: now,
        };
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO collaborators (id, app_id, user_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.id)
        .bind(app_id)
        .bind(user_id)
        .bind(now)
        .bind(now)
        .execute(pool)
        .await
        .map(drop))
        .map_err(|e| StoreError::conflict(e, format!("collaborator {user_name:?}")))?;
        Ok(row)
    }

    /// Returns whether a row was removed.
    pub async fn remove_collaborator(
        &self,
        app_id: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let removed = on_pool!(self, pool => sqlx::query("DELETE FROM collaborators WHERE app_id = $1 AND user_id = $2")
            .bind(app_id)
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(removed > 0)
    }
}
