-- Postgres twin of ../0002_process_settings.sql.
CREATE TABLE process_settings (
    app_id             TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    type               TEXT COLLATE "C" NOT NULL,
    memory_bytes       BIGINT,
    nano_cpus          BIGINT,
    health_path        TEXT,
    health_attempts    BIGINT NOT NULL DEFAULT 3,
    health_interval_ms BIGINT NOT NULL DEFAULT 1000,
    health_timeout_ms  BIGINT NOT NULL DEFAULT 5000,
    updated_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (app_id, type)
);
