-- Postgres twin of ../0004_routing.sql.
CREATE TABLE domains (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    hostname   TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE certificates (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    cert_pem   TEXT NOT NULL,
    key_pem    TEXT NOT NULL,
    names      TEXT NOT NULL,
    not_after  TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

ALTER TABLE apps ADD COLUMN maintenance BOOLEAN NOT NULL DEFAULT FALSE;
