use chrono::Utc;

use super::{on_pool, on_tx, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProcessSettingsRow {
    #[sqlx(rename = "type")]
    pub process_type: String,
    pub memory_bytes: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub health_path: Option<String>,
    pub health_attempts: i64,
    pub health_interval_ms: i64,
    pub health_timeout_ms: i64,
}

impl ProcessSettingsRow {
    /// What a type has before anyone set anything.
    pub fn defaults(process_type: &str) -> ProcessSettingsRow {
        ProcessSettingsRow {
            process_type: process_type.to_string(),
            memory_bytes: None,
            nano_cpus: None,
            health_path: None,
            health_attempts: 3,
            health_interval_ms: 1000,
            health_timeout_ms: 5000,
        }
    }
}

impl Store {
    pub async fn process_settings(
        &self,
        app_id: &str,
    ) -> Result<Vec<ProcessSettingsRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as(
            "SELECT type, memory_bytes, nano_cpus, health_path, health_attempts, health_interval_ms, \
             health_timeout_ms FROM process_settings WHERE app_id = $1 ORDER BY type",
        )
        .bind(app_id)
        .fetch_all(pool)
        .await?))
    }

    /// Replaces the settings of the given types; all or nothing.
    pub async fn set_process_settings(
        &self,
        app_id: &str,
        rows: &[ProcessSettingsRow],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, conn => for r in rows {
            sqlx::query(
                "INSERT INTO process_settings (app_id, type, memory_bytes, nano_cpus, health_path, \
                 health_attempts, health_interval_ms, health_timeout_ms, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (app_id, type) DO UPDATE SET memory_bytes = excluded.memory_bytes, \
                 nano_cpus = excluded.nano_cpus, health_path = excluded.health_path, \
                 health_attempts = excluded.health_attempts, health_interval_ms = excluded.health_interval_ms, \
                 health_timeout_ms = excluded.health_timeout_ms, updated_at = excluded.updated_at",
            )
            .bind(app_id)
            .bind(&r.process_type)
            .bind(r.memory_bytes)
            .bind(r.nano_cpus)
            .bind(&r.health_path)
            .bind(r.health_attempts)
            .bind(r.health_interval_ms)
            .bind(r.health_timeout_ms)
            .bind(Utc::now())
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        Ok(())
    }
}
