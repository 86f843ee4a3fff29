use chrono::{DateTime, Utc};

use super::{new_id, on_pool, on_tx, Store, StoreError};

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
        on_pool!(self, pool => Ok(
            sqlx::query_as("SELECT * FROM formations WHERE app_id = $1 ORDER BY type")
                .bind(app_id)
                .fetch_all(pool)
                .await?,
        ))
    }

    /// Adds rows for process types seen for the first time: `web` starts at 1 (the first deploy
    /// serves), everything else at 0. Existing quantities are never touched.
    pub async fn add_process_types(
        &self,
        app_id: &str,
        types: &[String],
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        on_pool!(self, pool => {
            for t in types {
                sqlx::query(
                    "INSERT INTO formations (id, app_id, type, quantity, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (app_id, type) DO NOTHING",
                )
                .bind(new_id())
                .bind(app_id)
                .bind(t)
                .bind(i64::from(t == "web"))
                .bind(now)
                .bind(now)
                .execute(pool)
                .await?;
            }
        });
        Ok(())
    }

    /// Sets quantities for several types at once; all or nothing.
    pub async fn set_quantities(
        &self,
        app_id: &str,
        updates: &[(String, i64)],
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, conn => {
            for (t, q) in updates {
                sqlx::query(
                    "INSERT INTO formations (id, app_id, type, quantity, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (app_id, type) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at",
                )
                .bind(new_id())
                .bind(app_id)
                .bind(t)
                .bind(q)
                .bind(now)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
        });
        tx.commit().await?;
        Ok(())
    }
}
