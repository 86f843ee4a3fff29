-- A canary: an earlier or newer release whose web processes take a share of the traffic.
ALTER TABLE apps ADD COLUMN canary_release INTEGER;
ALTER TABLE apps ADD COLUMN canary_weight INTEGER NOT NULL DEFAULT 0;
