-- Per app router settings (timeouts, body limit, HTTPS redirect, balancing), as JSON.
ALTER TABLE apps ADD COLUMN router_settings TEXT NOT NULL DEFAULT '{}';
