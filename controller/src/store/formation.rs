use chrono::{DateTime, Utc};

use super::{new_id, Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FormationRow {
    pub id: String,
    pub app_id: String,
    #[sqlx(rename = "type")]
    pub process_type: String,
    pub quantity: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    pub async fn formation(&self, app_id: &str) -> Result<Vec<FormationRow>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM formations WHERE app_id = ? ORDER BY type")
                .bind(app_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Adds rows for process types seen for the first time: `web` starts at 1 (the first deploy
    /// serves), everything else at 0. Existing quantities are never touched.
    pub async fn add_process_types(
        &self,
        app_id: &str,
        types: &[String],
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        for t in types {
            sqlx::query(
                "INSERT INTO formations (id, app_id, type, quantity, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, type) DO NOTHING",
            )
            .bind(new_id())
            .bind(app_id)
            .bind(t)
            .bind(i64::from(t == "web"))
            .bind(now)
            .bind(now)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Sets quantities for several types at once; all or nothing.
    pub async fn set_quantities(
        &self,
        app_id: &str,
        updates: &[(String, i64)],
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        for (t, q) in updates {
            sqlx::query(
                "INSERT INTO formations (id, app_id, type, quantity, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (app_id, type) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at",
            )
            .bind(new_id())
            .bind(app_id)
            .bind(t)
            .bind(q)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
