-- Postgres twin of ../0003_log_drains.sql.
CREATE TABLE log_drains (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (app_id, url)
);
