use chrono::{DateTime, Utc};

use super::{new_id, on_pool, on_tx, Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub password_hash: String,
    pub admin: bool,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Creates a user; the very first user becomes admin (decided inside the transaction so two
    /// concurrent first registrations cannot both become admin).
    pub async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        admin_if_first: bool,
    ) -> Result<UserRow, StoreError> {
        let mut tx = self.begin().await?;
        if tx.is_postgres() {
            // Postgres (read committed) would let two transactions both count zero users; this
            // lock makes the second wait for the first. SQLite allows one writer at a time.
            on_tx!(&mut tx, conn => sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *conn)
                .await
                .map(drop))?;
        }
        let count: i64 = on_tx!(&mut tx, conn => sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut *conn)
            .await?);
        let row = UserRow {
            id: new_id(),
            name: name.to_string(),
            password_hash: password_hash.to_string(),
            admin: admin_if_first && count == 0,
            created_at: Utc::now(),
        };
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO users (id, name, password_hash, admin, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.password_hash)
        .bind(row.admin)
        .bind(row.created_at)
        .execute(&mut *conn)
        .await
        .map(drop))
        .map_err(|e| StoreError::conflict(e, format!("user {name:?}")))?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn count_users(&self) -> Result<i64, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(pool)
            .await?))
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as("SELECT * FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?))
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>, StoreError> {
        on_pool!(self, pool => Ok(sqlx::query_as("SELECT * FROM users ORDER BY name")
            .fetch_all(pool)
            .await?))
    }
}
