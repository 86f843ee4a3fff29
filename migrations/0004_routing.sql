-- How the router reaches apps besides APP.DOMAIN: custom domains, TLS certificates, and
-- maintenance mode.
CREATE TABLE domains (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    hostname   TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE certificates (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    cert_pem   TEXT NOT NULL,
    key_pem    TEXT NOT NULL,
    names      TEXT NOT NULL,
    not_after  TEXT NOT NULL,
    created_at TEXT NOT NULL
);

ALTER TABLE apps ADD COLUMN maintenance BOOLEAN NOT NULL DEFAULT FALSE;
