use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{new_id, on_pool, Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BuildRow {
    pub id: String,
    pub app_id: String,
    pub user_id: String,
    pub user_name: String,
    pub status: String,
    pub commit_sha: Option<String>,
    pub image: Option<String>,
    pub process_types: String,
    pub output: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BuildRow {
    pub fn process_types(&self) -> BTreeMap<String, String> {
        serde_json::from_str(&self.process_types).unwrap_or_default()
    }
}

const SELECT_BUILD: &str =
    "SELECT builds.*, users.name AS user_name FROM builds JOIN users ON users.id = builds.user_id";

impl Store {
    pub async fn create_build(
        &self,
        app_id: &str,
        user_id: &str,
        commit: &str,
    ) -> Result<BuildRow, StoreError> {
        let id = new_id();
        let now = Utc::now();
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO builds (id, app_id, user_id, status, commit_sha, created_at, updated_at) \
             VALUES ($1, $2, $3, 'pending', $4, $5, $6)",
        )
        .bind(&id)
        .bind(app_id)
        .bind(user_id)
        .bind(commit)
        .bind(now)
        .bind(now)
        .execute(pool)
        .await
        .map(drop))?;
        self.build_by_id(&id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("build {id} vanished after insert")))
    }

    pub async fn finish_build(
        &self,
        id: &str,
        succeeded: bool,
        image: Option<&str>,
        process_types: &BTreeMap<String, String>,
        output: &str,
    ) -> Result<(), StoreError> {
        let types =
            serde_json::to_string(process_types).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_pool!(self, pool => sqlx::query(
            "UPDATE builds SET status = $1, image = $2, process_types = $3, output = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(if succeeded { "succeeded" } else { "failed" })
        .bind(image)
        .bind(&types)
        .bind(output)
        .bind(Utc::now())
        .bind(id)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    pub async fn build_by_id(&self, id: &str) -> Result<Option<BuildRow>, StoreError> {
        on_pool!(self, pool => Ok(
            sqlx::query_as(&format!("{SELECT_BUILD} WHERE builds.id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?,
        ))
    }

    pub async fn list_builds(&self, app_id: &str) -> Result<Vec<BuildRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as(&format!(
            "{SELECT_BUILD} WHERE builds.app_id = $1 ORDER BY builds.created_at"
        ))
        .bind(app_id)
        .fetch_all(pool)
        .await?))
    }
}

impl Store {
    /// The build's image was removed from the engine (collected); the build can no longer be
    /// rolled back to.
    pub async fn forget_build_image(&self, id: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("UPDATE builds SET image = NULL, updated_at = $1 WHERE id = $2")
            .bind(Utc::now())
            .bind(id)
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }
}
