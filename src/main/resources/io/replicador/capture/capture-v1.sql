-- Replicador capture objects on the primary, version 1. Idempotent: install runs it every time.

CREATE SCHEMA IF NOT EXISTS replicador;

-- Identity of this changelog. Positions count per source; a reinstall after uninstall starts a
-- new source, so replicas never confuse the two position sequences.
CREATE TABLE IF NOT EXISTS replicador.source (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    source_id  text NOT NULL DEFAULT gen_random_uuid()::text,
    version    integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO replicador.source (version) VALUES (1) ON CONFLICT DO NOTHING;

-- One row per captured row change, written in the same transaction as the change. The publisher
-- deletes rows once the broker confirmed them, so the table stays small; aggressive autovacuum
-- keeps it from bloating (the publisher also vacuums it).
CREATE TABLE IF NOT EXISTS replicador.changelog (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    relid       oid NOT NULL,
    schema_name text NOT NULL,
    table_name  text NOT NULL,
    op          "char" NOT NULL,
    new_row     text,
    old_row     text
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0,
        autovacuum_analyze_threshold = 1000);
CREATE INDEX IF NOT EXISTS changelog_txid ON replicador.changelog (txid, id);

-- The publisher's durable state. A claimed batch (pending_*) is published again, with the same
-- positions, by whichever publisher comes next, so a crash between publishing and deleting gives
-- duplicates that replicas recognise, never a gap.
CREATE TABLE IF NOT EXISTS replicador.publisher (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    next_position bigint NOT NULL DEFAULT 1,
    pending_first bigint,
    pending_txids xid8[],
    active_since  timestamptz,
    active_by     text
);
INSERT INTO replicador.publisher DEFAULT VALUES ON CONFLICT DO NOTHING;

-- The doorbell. A busy publisher polls and leaves it unarmed, so writers pay no NOTIFY (which
-- serialises commits on a global lock); an idle publisher arms it and sleeps in LISTEN.
CREATE TABLE IF NOT EXISTS replicador.doorbell (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    armed     boolean NOT NULL DEFAULT true
);
INSERT INTO replicador.doorbell DEFAULT VALUES ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS replicador.captured_tables (
    schema_name  text NOT NULL,
    table_name   text NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schema_name, table_name)
);

-- Row values are stored as the row's text form under fixed output settings, so the replica's
-- input functions read back exactly what was written, whatever the writer's session settings.
-- lc_monetary = C prints money with two fractional digits whatever the database's locale, so
-- the amount's internal integer survives (the listener reads it under C too).
CREATE OR REPLACE FUNCTION replicador.capture_row() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
SET extra_float_digits = 3
SET bytea_output = 'hex'
SET lc_monetary = 'C'
AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO replicador.changelog (relid, schema_name, table_name, op, new_row)
        VALUES (TG_RELID, TG_ARGV[0], TG_ARGV[1], 'I', NEW::text);
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO replicador.changelog (relid, schema_name, table_name, op, new_row, old_row)
        VALUES (TG_RELID, TG_ARGV[0], TG_ARGV[1], 'U', NEW::text, OLD::text);
    ELSE
        INSERT INTO replicador.changelog (relid, schema_name, table_name, op, old_row)
        VALUES (TG_RELID, TG_ARGV[0], TG_ARGV[1], 'D', OLD::text);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION replicador.capture_truncate() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO replicador.changelog (relid, schema_name, table_name, op)
    VALUES (TG_RELID, TG_ARGV[0], TG_ARGV[1], 'T');
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION replicador.ring_doorbell() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF (SELECT armed FROM replicador.doorbell) THEN
        PERFORM pg_notify('replicador', '');
    END IF;
    RETURN NULL;
END
$fn$;

-- Adds (or re-adds) the three triggers to one table. Names arrive as values and are quoted by
-- format(), never spliced. The trigger arguments carry the installed table's name, so rows of a
-- partition are reported under their partitioned table.
CREATE OR REPLACE FUNCTION replicador.capture_table(p_schema text, p_table text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS replicador_capture ON %I.%I', p_schema, p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS replicador_truncate ON %I.%I', p_schema, p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS replicador_doorbell ON %I.%I', p_schema, p_table);
    EXECUTE format('CREATE TRIGGER replicador_capture AFTER INSERT OR UPDATE OR DELETE ON %I.%I'
                   ' FOR EACH ROW EXECUTE FUNCTION replicador.capture_row(%L, %L)',
                   p_schema, p_table, p_schema, p_table);
    EXECUTE format('CREATE TRIGGER replicador_truncate AFTER TRUNCATE ON %I.%I'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION replicador.capture_truncate(%L, %L)',
                   p_schema, p_table, p_schema, p_table);
    EXECUTE format('CREATE TRIGGER replicador_doorbell AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE'
                   ' ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION replicador.ring_doorbell()',
                   p_schema, p_table);
    INSERT INTO replicador.captured_tables (schema_name, table_name)
    VALUES (p_schema, p_table) ON CONFLICT DO NOTHING;
END
$fn$;

CREATE OR REPLACE FUNCTION replicador.release_table(p_schema text, p_table text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF to_regclass(format('%I.%I', p_schema, p_table)) IS NOT NULL THEN
        EXECUTE format('DROP TRIGGER IF EXISTS replicador_capture ON %I.%I', p_schema, p_table);
        EXECUTE format('DROP TRIGGER IF EXISTS replicador_truncate ON %I.%I', p_schema, p_table);
        EXECUTE format('DROP TRIGGER IF EXISTS replicador_doorbell ON %I.%I', p_schema, p_table);
    END IF;
    DELETE FROM replicador.captured_tables WHERE schema_name = p_schema AND table_name = p_table;
END
$fn$;
