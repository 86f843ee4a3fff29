-- Where each app's log lines are forwarded (syslog or HTTPS).
CREATE TABLE log_drains (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (app_id, url)
);
