-- The replica's bookkeeping as every version up to the numbered migrations created it.
CREATE TABLE IF NOT EXISTS replicador.applied (
    consumer   text NOT NULL,
    source     text NOT NULL,
    position   bigint NOT NULL,
    xid        text,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source)
);
CREATE TABLE IF NOT EXISTS replicador.staged (
    consumer text NOT NULL,
    source   text NOT NULL,
    position bigint NOT NULL,
    part     integer NOT NULL,
    body     bytea NOT NULL,
    PRIMARY KEY (consumer, source, position, part)
);
-- stored as it comes: compressing parts cost more than writing them (pglz, the default)
ALTER TABLE replicador.staged ALTER COLUMN body SET STORAGE EXTERNAL;
-- the tables a snapshot copied for a consumer
CREATE TABLE IF NOT EXISTS replicador.snapshot (
    consumer    text NOT NULL,
    schema_name text NOT NULL,
    table_name  text NOT NULL,
    copied_rows bigint NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, schema_name, table_name)
);
