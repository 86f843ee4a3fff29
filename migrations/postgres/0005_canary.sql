-- Postgres twin of ../0005_canary.sql.
ALTER TABLE apps ADD COLUMN canary_release BIGINT;
ALTER TABLE apps ADD COLUMN canary_weight BIGINT NOT NULL DEFAULT 0;
