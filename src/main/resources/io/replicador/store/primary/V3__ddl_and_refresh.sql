-- Schema changes (replicador ddl) and repairs (verify --repair) in the stream: migration 3.
-- Idempotent.
--
-- record_ddl writes a schema change at its place in the stream, in the caller's transaction, so
-- that every replica runs the statement after the changes committed before it and before those
-- committed after it. Both sources carry it through this one function:
--
-- - With triggers it is a changelog row of op 'S' (new_row: the statement, old_row: the
--   search_path it ran with), read in order with the row changes around it.
-- - With capture from the WAL it is a transactional logical decoding message: logical decoding
--   does not decode DDL, and the changelog is not in the publication (putting it there would make
--   every changelog row a decoded change that the publisher must also delete). A transactional
--   message is decoded inside its transaction, at its place among the row changes, and leaves
--   nothing behind to clean up; pgoutput passes it on since the publisher asks for messages.
--   While WAL capture is ending (install --capture trigger), the triggers already record, and so
--   does this.
--
-- SECURITY DEFINER like the capture functions: the role running ddl needs no rights on the
-- changelog. The caller passes its own search_path, since inside this function it is fixed.
CREATE OR REPLACE FUNCTION replicador.record_ddl(p_schema text, p_table text, p_statement text,
                                                 p_search_path text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF to_regclass('replicador.wal_capture') IS NOT NULL
       AND EXISTS (SELECT 1 FROM replicador.wal_capture WHERE NOT ending) THEN
        PERFORM pg_logical_emit_message(true, 'replicador.ddl',
            json_build_object('schema', p_schema, 'table', p_table, 'statement', p_statement,
                              'search_path', p_search_path)::text);
    ELSE
        INSERT INTO replicador.changelog (relid, schema_name, table_name, op, new_row, old_row)
        VALUES (0, p_schema, p_table, 'S', p_statement, p_search_path);
        IF pg_sequence_last_value('replicador.bell') = 1 THEN
            PERFORM pg_notify('replicador', '');
        END IF;
    END IF;
END
$fn$;

-- verify --repair: re-emits the primary's current version of one row, named by its key (p_key:
-- column name to text value), at this point of the stream, as an idempotent refresh: the row as
-- an insert (replicas upsert it) when the primary has it, else a delete of the key (a no-op where
-- the replica lacks it too). Returns 'I' or 'D'. The caller locks the table against writers first,
-- so no change of the row can commit between what this reads and the commit that ships it; every
-- later change of the row follows the refresh in the stream, and a repair never undoes one.
--
-- The row's text is printed under the capture functions' settings, so it reads back exactly. A
-- delete needs the row's text for its key: the key's values in a row of the table, the other
-- columns null. With capture from the WAL the refresh is a transactional logical decoding
-- message (prefix replicador.refresh), like record_ddl's: an UPDATE that sets nothing would also
-- ship the row, but fires the table's own triggers (one that stamps a modification time changes
-- the row), and cannot ship the delete of a row that is not there.
CREATE OR REPLACE FUNCTION replicador.refresh_row(p_schema text, p_table text, p_key jsonb)
RETURNS "char"
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
SET extra_float_digits = 3
SET bytea_output = 'hex'
SET lc_monetary = 'C'
AS $fn$
DECLARE
    rel regclass := format('%I.%I', p_schema, p_table)::regclass;
    cond text;
    row_text text;
    op "char" := 'I';
BEGIN
    SELECT string_agg(format('r.%I IS NOT DISTINCT FROM k.%I', c, c), ' AND ') INTO cond
    FROM jsonb_object_keys(p_key) AS c;
    EXECUTE format('SELECT (r.*)::text FROM %s AS r, jsonb_populate_record(NULL::%s, $1) AS k'
                   ' WHERE %s', rel, rel, cond)
        INTO row_text USING p_key;
    IF row_text IS NULL THEN
        op := 'D';
        EXECUTE format('SELECT (jsonb_populate_record(NULL::%s, $1))::text', rel)
            INTO row_text USING p_key;
    END IF;
    IF EXISTS (SELECT 1 FROM replicador.wal_capture WHERE NOT ending) THEN
        PERFORM pg_logical_emit_message(true, 'replicador.refresh',
            json_build_object('relid', rel::oid, 'schema', p_schema, 'table', p_table, 'op', op,
                              'row', row_text)::text);
    ELSIF op = 'I' THEN
        INSERT INTO replicador.changelog (relid, schema_name, table_name, op, new_row)
        VALUES (rel::oid, p_schema, p_table, 'I', row_text);
    ELSE
        INSERT INTO replicador.changelog (relid, schema_name, table_name, op, old_row)
        VALUES (rel::oid, p_schema, p_table, 'D', row_text);
    END IF;
    IF pg_sequence_last_value('replicador.bell') = 1 THEN
        PERFORM pg_notify('replicador', '');
    END IF;
    RETURN op;
END
$fn$;
