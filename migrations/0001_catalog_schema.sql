-- The catalog's own schema. Every later migration creates its tables inside it.
-- Migrations are append-only: never edit an applied file; add a new one.
CREATE SCHEMA IF NOT EXISTS backtrack;

COMMENT ON SCHEMA backtrack IS 'Backtrack catalog: tenants, checkpoints, segments, snapshots, jobs, audit.';
