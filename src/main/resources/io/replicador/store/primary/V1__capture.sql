-- Replicador capture objects on the primary: migration 1. Idempotent: it also brings a schema from
-- before the numbered migrations up to date.

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
-- Rows inserted by one statement are stored together, op 'B', in new_rows (see
-- capture_inserted); new_row holds the single row of op 'I'. EXTERNAL: out of line and not
-- compressed, since compressing costs the writer more than it saves.
ALTER TABLE replicador.changelog ADD COLUMN IF NOT EXISTS new_rows text[];
ALTER TABLE replicador.changelog ALTER COLUMN new_rows SET STORAGE EXTERNAL;

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

-- The doorbell. While changes come fast the publisher polls and leaves it unarmed, so writers pay
-- no NOTIFY (which serialises commits on a global lock); while they come slowly or not at all it
-- arms it (1) and sleeps in LISTEN until a writer rings. It is a sequence, not a table, because
-- its value is read without a query: pg_sequence_last_value is a plain function call, a table
-- read is a query with an executor of its own. Each capture function looks at it itself
-- (capture_row for every row), which costs a single-row statement less than the statement
-- trigger that earlier versions rang it from (ring_doorbell, dropped here with its triggers);
-- docs/performance.md has the instruction counts. setval is not transactional:
-- arming takes effect at once, for the writers' statements that follow. Created unarmed; a rerun
-- of install leaves it as it is.
CREATE SEQUENCE IF NOT EXISTS replicador.bell MINVALUE 0 MAXVALUE 1 START 0;
DROP FUNCTION IF EXISTS replicador.ring_doorbell() CASCADE;
DROP TABLE IF EXISTS replicador.doorbell;

CREATE TABLE IF NOT EXISTS replicador.captured_tables (
    schema_name  text NOT NULL,
    table_name   text NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schema_name, table_name)
);

-- The capture functions run as the role that installed them (SECURITY DEFINER, with a fixed
-- search_path): the roles that write the captured tables need no rights on this schema, so they
-- cannot write the changelog other than through these triggers. (r.*)::text runs no code of
-- theirs: type output functions are C, installed by a superuser.
--
-- Row values are stored as the row's text form under fixed output settings, so the replica's
-- input functions read back exactly what was written, whatever the writer's session settings.
-- lc_monetary = C prints money with two fractional digits whatever the database's locale, so
-- the amount's internal integer survives (the listener reads it under C too).
CREATE OR REPLACE FUNCTION replicador.capture_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
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
    IF pg_sequence_last_value('replicador.bell') = 1 THEN
        PERFORM pg_notify('replicador', '');
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION replicador.capture_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO replicador.changelog (relid, schema_name, table_name, op)
    VALUES (TG_RELID, TG_ARGV[0], TG_ARGV[1], 'T');
    IF pg_sequence_last_value('replicador.bell') = 1 THEN
        PERFORM pg_notify('replicador', '');
    END IF;
    RETURN NULL;
END
$fn$;

-- Inserts into an ordinary table: one call per statement. A statement that inserted one row writes
-- one changelog row like capture_row; several rows are written as arrays (op 'B'), each of the rows
-- of one thousand consecutive ones that are at most 16 kB (so at most 16 MB), or of one larger row
-- alone. The changelog gets one row per thousand inserted instead of one each, which costs a bulk
-- INSERT much less. Bounding size row by row, not by a running total, spares a window pass. One
-- key per group lets the planner hash the rows instead of sorting them all. (Figures of each in
-- docs/performance.md, "Why the code is as it is".) Arrays are written in the order of their first
-- row, which keeps the replica's inserts in the primary's order; the rows within an array are in
-- the order hashing met them, statement order in practice. The order among rows of one statement
-- does not matter anyway, since their keys differ (below). Same settings as capture_row, so the row
-- text is the same byte for byte. (r.*) is the whole row even when the table has a column named r;
-- use_variable keeps TG_RELID and TG_ARGV from clashing with columns of those names.
--
-- Why the changelog still has the primary's order: AFTER ROW events are queued as each row
-- changes; this statement's event is queued when its INSERT finishes (when a query has several
-- INSERTs into the table, e.g. in writable CTEs, PostgreSQL fires it once, after the last, with
-- all their rows). All events fire at the end of the query in queue order. So an insert is
-- logged later than it happened, never earlier and never after its query ended, and that delay
-- is harmless: nothing else in the same query can change or delete a row that query inserted (one
-- snapshot for all its parts; ON CONFLICT DO UPDATE refuses to touch a row twice), and nothing
-- can add the same key after it (the unique key). Deletes are not like that, so they stay a ROW
-- trigger: in WITH d AS (DELETE FROM t WHERE id IN (1, 2) RETURNING *) INSERT INTO t SELECT *
-- FROM d LIMIT 1, the INSERT finishes (queues its event) before the DELETE does, so a statement
-- trigger would log the re-insert of 1 before its delete and replicas would lose the row; and a
-- DELETE through an inheritance parent does not fire the child's statement triggers.
CREATE OR REPLACE FUNCTION replicador.capture_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
SET extra_float_digits = 3
SET bytea_output = 'hex'
SET lc_monetary = 'C'
AS $fn$
#variable_conflict use_variable
DECLARE
    head text[] := ARRAY(SELECT (r.*)::text FROM new_rows AS r LIMIT 2);
BEGIN
    IF cardinality(head) = 1 THEN
        INSERT INTO replicador.changelog (relid, schema_name, table_name, op, new_row)
        VALUES (TG_RELID, TG_ARGV[0], TG_ARGV[1], 'I', head[1]);
    ELSIF cardinality(head) > 1 THEN
        INSERT INTO replicador.changelog (relid, schema_name, table_name, op, new_rows)
        SELECT TG_RELID, TG_ARGV[0], TG_ARGV[1], 'B', array_agg(t)
        FROM (SELECT t, row_number() OVER () AS n
              FROM (SELECT (r.*)::text AS t FROM new_rows AS r) AS s) AS c
        GROUP BY CASE WHEN octet_length(t) > 16384 THEN -n ELSE (n - 1) / 1000 END
        ORDER BY min(n);
    END IF;
    IF cardinality(head) > 0 AND pg_sequence_last_value('replicador.bell') = 1 THEN
        PERFORM pg_notify('replicador', '');
    END IF;
    RETURN NULL;
END
$fn$;

-- Every trigger name capture has used; dropped before (re)capturing and on release, so that
-- rerunning install moves a table captured by an older version to the current triggers.
CREATE OR REPLACE FUNCTION replicador.drop_capture_triggers(p_schema text, p_table text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', 'replicador_capture', p_schema, p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', 'replicador_capture_insert', p_schema,
                   p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', 'replicador_truncate', p_schema, p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', 'replicador_doorbell', p_schema, p_table);
END
$fn$;

-- Adds (or re-adds) the triggers to one table. Names arrive as values and are quoted by format(),
-- never spliced. The trigger arguments carry the installed table's name, so rows of a partition
-- are reported under their partitioned table.
--
-- An ordinary table gets a statement trigger for INSERT (capture_inserted) and a row trigger for
-- UPDATE and DELETE (an update's old and new row must be paired, and its key may change; for
-- DELETE see capture_inserted).
--
-- A partitioned table, and a partition captured on its own, keep a row trigger for all three: a
-- statement trigger on the partitioned table does not fire for a statement that names a partition
-- directly, nor one on a partition for rows routed to it through its parent; row triggers fire in
-- both cases, and those of a partitioned table are cloned to partitions created later. For the
-- same reason a captured table that later becomes a partition (ATTACH PARTITION) must be captured
-- again (rerun install), or rows inserted through the parent are missed.
CREATE OR REPLACE FUNCTION replicador.capture_table(p_schema text, p_table text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    statement_inserts boolean;
BEGIN
    SELECT c.relkind = 'r' AND NOT c.relispartition INTO statement_inserts
    FROM pg_class c WHERE c.oid = format('%I.%I', p_schema, p_table)::regclass;
    PERFORM replicador.drop_capture_triggers(p_schema, p_table);
    IF statement_inserts THEN
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I.%I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION replicador.capture_inserted(%L, %L)',
                       'replicador_capture_insert', p_schema, p_table, p_schema, p_table);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE OR DELETE ON %I.%I'
                       ' FOR EACH ROW EXECUTE FUNCTION replicador.capture_row(%L, %L)',
                       'replicador_capture', p_schema, p_table, p_schema, p_table);
    ELSE
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I.%I'
                       ' FOR EACH ROW EXECUTE FUNCTION replicador.capture_row(%L, %L)',
                       'replicador_capture', p_schema, p_table, p_schema, p_table);
    END IF;
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I.%I'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION replicador.capture_truncate(%L, %L)',
                   'replicador_truncate', p_schema, p_table, p_schema, p_table);
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
        PERFORM replicador.drop_capture_triggers(p_schema, p_table);
    END IF;
    DELETE FROM replicador.captured_tables WHERE schema_name = p_schema AND table_name = p_table;
END
$fn$;
