-- Which of the primary's transactions a copied table holds (pg_current_snapshot() of the copy),
-- so that the listener applies exactly the changes the copy lacks.
ALTER TABLE replicador.snapshot ADD COLUMN IF NOT EXISTS source text;
ALTER TABLE replicador.snapshot ADD COLUMN IF NOT EXISTS primary_snapshot text;
