-- Schema changes in the stream (replicador ddl): migration 3. Idempotent.
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
