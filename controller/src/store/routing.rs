use chrono::{DateTime, Utc};

use super::{new_id, on_pool, Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DomainRow {
    pub id: String,
    pub app_id: String,
    pub hostname: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertificateRow {
    pub id: String,
    pub app_id: String,
    pub cert_pem: String,
    pub key_pem: String,
    /// JSON list of the DNS names it covers.
    pub names: String,
    pub not_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl CertificateRow {
    pub fn names(&self) -> Vec<String> {
        serde_json::from_str(&self.names).unwrap_or_default()
    }
}

impl Store {
    pub async fn all_domains(&self) -> Result<Vec<DomainRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as("SELECT * FROM domains ORDER BY hostname")
            .fetch_all(pool)
            .await?))
    }

    pub async fn domains(&self, app_id: &str) -> Result<Vec<DomainRow>, StoreError> {
        on_pool!(self, pool => Ok(
            sqlx::query_as("SELECT * FROM domains WHERE app_id = $1 ORDER BY hostname")
                .bind(app_id)
                .fetch_all(pool)
                .await?,
        ))
    }

    /// Hostnames are unique across every app.
    pub async fn add_domain(&self, app_id: &str, hostname: &str) -> Result<DomainRow, StoreError> {
        let row = DomainRow {
            id: new_id(),
            app_id: app_id.to_string(),
            hostname: hostname.to_string(),
            created_at: Utc::now(),
        };
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO domains (id, app_id, hostname, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&row.id)
        .bind(app_id)
        .bind(hostname)
        .bind(row.created_at)
        .execute(pool)
        .await
        .map(drop))
        .map_err(|e| StoreError::conflict(e, format!("domain {hostname:?}")))?;
        Ok(row)
    }

    pub async fn remove_domain(&self, app_id: &str, hostname: &str) -> Result<bool, StoreError> {
        let removed = on_pool!(self, pool => sqlx::query(
            "DELETE FROM domains WHERE app_id = $1 AND hostname = $2",
        )
        .bind(app_id)
        .bind(hostname)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(removed > 0)
    }

    pub async fn all_certificates(&self) -> Result<Vec<CertificateRow>, StoreError> {
        on_pool!(self, pool => Ok(
            sqlx::query_as("SELECT * FROM certificates ORDER BY created_at")
                .fetch_all(pool)
                .await?,
        ))
    }

    pub async fn certificates(&self, app_id: &str) -> Result<Vec<CertificateRow>, StoreError> {
        on_pool!(self, pool => Ok(
            sqlx::query_as("SELECT * FROM certificates WHERE app_id = $1 ORDER BY created_at")
                .bind(app_id)
                .fetch_all(pool)
                .await?,
        ))
    }

    pub async fn add_certificate(
        &self,
        app_id: &str,
        cert_pem: &str,
        key_pem: &str,
        names: &[String],
        not_after: DateTime<Utc>,
    ) -> Result<CertificateRow, StoreError> {
        let row = CertificateRow {
            id: new_id(),
            app_id: app_id.to_string(),
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
            names: serde_json::to_string(names).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            not_after,
            created_at: Utc::now(),
        };
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO certificates (id, app_id, cert_pem, key_pem, names, not_after, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.id)
        .bind(app_id)
        .bind(&row.cert_pem)
        .bind(&row.key_pem)
        .bind(&row.names)
        .bind(row.not_after)
        .bind(row.created_at)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(row)
    }

    pub async fn remove_certificate(&self, app_id: &str, id: &str) -> Result<bool, StoreError> {
        let removed = on_pool!(self, pool => sqlx::query(
            "DELETE FROM certificates WHERE app_id = $1 AND id = $2",
        )
        .bind(app_id)
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(removed > 0)
    }

    /// Starts (`Some((release, weight))`) or ends a canary.
    pub async fn set_canary(
        &self,
        app_id: &str,
        canary: Option<(i64, i64)>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE apps SET canary_release = $1, canary_weight = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(canary.map(|c| c.0))
        .bind(canary.map(|c| c.1).unwrap_or(0))
        .bind(Utc::now())
        .bind(app_id)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    pub async fn set_router_settings(&self, app_id: &str, json: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE apps SET router_settings = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(json)
        .bind(Utc::now())
        .bind(app_id)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    pub async fn set_maintenance(&self, app_id: &str, on: bool) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE apps SET maintenance = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(on)
        .bind(Utc::now())
        .bind(app_id)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }
}
