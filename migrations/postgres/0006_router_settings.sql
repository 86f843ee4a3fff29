-- Postgres twin of ../0006_router_settings.sql.
ALTER TABLE apps ADD COLUMN router_settings TEXT NOT NULL DEFAULT '{}';
