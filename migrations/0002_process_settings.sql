-- Per process type settings that outlive releases: resource limits and the health check a new
-- process must pass before it takes traffic.
CREATE TABLE process_settings (
    app_id             TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    type               TEXT NOT NULL,
    memory_bytes       INTEGER,
    nano_cpus          INTEGER,
    health_path        TEXT,
    health_attempts    INTEGER NOT NULL DEFAULT 3,
    health_interval_ms INTEGER NOT NULL DEFAULT 1000,
    health_timeout_ms  INTEGER NOT NULL DEFAULT 5000,
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (app_id, type)
);
