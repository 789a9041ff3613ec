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

-- install --ddl auto: event triggers that record schema changes of captured tables made without
-- replicador ddl, the same way (only a superuser may create event triggers; install says so
-- otherwise). They record the client's query text, so:
--
-- - A query that holds several statements cannot be told apart: it is refused (with the fix) when
--   it changes a captured table. A ';' inside a literal is refused too; replicador ddl takes it.
-- - With trigger capture the changelog's rows of the table must be shipped before the table
--   changes shape (see DdlRecorder): the trigger waits up to a minute for the publisher, while
--   the statement's lock holds writers back, and fails the statement otherwise. Rows of the same
--   transaction could never ship first, so a schema change after writes to the table in one
--   transaction is refused.
-- - replicador ddl records its statement itself; the triggers leave its transaction alone.

-- The captured table a schema change concerns, and its name as capture knows it (before a
-- rename: the capture triggers carry it; from the WAL, the one captured name that no longer
-- resolves). Null when the relation is not captured.
CREATE OR REPLACE FUNCTION replicador.captured_name(p_relid oid, OUT o_schema text,
                                                   OUT o_table text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    args text[];
BEGIN
    SELECT n.nspname, c.relname INTO o_schema, o_table
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN replicador.captured_tables t ON t.schema_name = n.nspname AND t.table_name = c.relname
    WHERE c.oid = p_relid;
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT string_to_array(rtrim(encode(tgargs, 'escape'), '\000'), '\000') INTO args
    FROM pg_trigger WHERE tgrelid = p_relid AND tgname = 'replicador_capture';
    IF args IS NOT NULL THEN
        o_schema := args[1];
        o_table := args[2];
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
               WHERE p.pubname = 'replicador' AND r.prrelid = p_relid) THEN
        SELECT t.schema_name, t.table_name INTO o_schema, o_table
        FROM replicador.captured_tables t
        WHERE to_regclass(format('%I.%I', t.schema_name, t.table_name)) IS NULL;
        IF NOT FOUND OR (SELECT count(*) FROM replicador.captured_tables t
                         WHERE to_regclass(format('%I.%I', t.schema_name, t.table_name)) IS NULL)
                        > 1 THEN
            RAISE EXCEPTION 'Replicador cannot tell which captured table relation % was', p_relid
                USING HINT = 'Rename captured tables with replicador ddl';
        END IF;
    END IF;
END
$fn$;

-- Refuses what the event triggers cannot record faithfully, and waits for the publisher (see
-- above). p_schema, p_table: the table as capture knows it.
CREATE OR REPLACE FUNCTION replicador.before_recording(p_schema text, p_table text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    statement text := rtrim(current_query(), E'; \t\r\n');
    deadline timestamptz := clock_timestamp() + interval '60 seconds';
BEGIN
    IF position(';' in statement) > 0 THEN
        RAISE EXCEPTION 'Replicador records schema changes of captured table %.% one statement'
                        ' per query; this query holds several (or a '';'' in a literal)',
                        quote_ident(p_schema), quote_ident(p_table)
            USING HINT = 'Send the statement on its own, or run it with replicador ddl';
    END IF;
    IF EXISTS (SELECT 1 FROM replicador.wal_capture WHERE NOT ending) THEN
        RETURN statement;
    END IF;
    IF EXISTS (SELECT 1 FROM replicador.changelog WHERE schema_name = p_schema
               AND table_name = p_table AND txid = pg_current_xact_id_if_assigned()) THEN
        RAISE EXCEPTION 'Captured table %.% was written earlier in this transaction; its schema'
                        ' cannot change in the same one', quote_ident(p_schema),
                        quote_ident(p_table)
            USING HINT = 'Commit the writes first, then change the table';
    END IF;
    WHILE EXISTS (SELECT 1 FROM replicador.changelog WHERE schema_name = p_schema
                  AND table_name = p_table) LOOP
        IF clock_timestamp() > deadline THEN
            RAISE EXCEPTION 'Changes of captured table %.% are still waiting in the changelog'
                            ' after 60 s; the schema change must come after them',
                            quote_ident(p_schema), quote_ident(p_table)
                USING HINT = 'Start the publisher (replicador publish) or let it catch up, then'
                             ' run the statement again';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN statement;
END
$fn$;

-- The event triggers' functions run as the installing role (SECURITY DEFINER) but cannot fix
-- their search_path like the others: they must read the one the statement ran with. So each only
-- reads it, with qualified names, and hands it to a function with a fixed search_path.
CREATE OR REPLACE FUNCTION replicador.record_ddl_event() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $fn$
BEGIN
    PERFORM replicador.on_ddl_command(pg_catalog.current_setting('search_path'));
END
$fn$;

CREATE OR REPLACE FUNCTION replicador.record_drop_event() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $fn$
BEGIN
    PERFORM replicador.on_sql_drop(pg_catalog.current_setting('search_path'));
END
$fn$;

CREATE OR REPLACE FUNCTION replicador.on_ddl_command(p_search_path text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cmd record;
    relid oid;
    rel record;
    known record;
    statement text;
BEGIN
    IF current_setting('replicador.recording', true) = 'on' THEN
        RETURN;
    END IF;
    FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands()
               WHERE NOT in_extension AND object_type IN ('table', 'index') LOOP
        IF cmd.object_type = 'index' THEN
            SELECT i.indrelid INTO relid FROM pg_index i WHERE i.indexrelid = cmd.objid;
        ELSE
            relid := cmd.objid;
        END IF;
        SELECT n.nspname, c.relname, c.relkind, c.relpersistence, c.relispartition INTO rel
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relid;
        IF NOT FOUND OR rel.relkind NOT IN ('r', 'p') OR rel.relpersistence = 't' THEN
            CONTINUE;
        END IF;
        SELECT * INTO known FROM replicador.captured_name(relid);
        IF known.o_schema IS NOT NULL THEN
            statement := replicador.before_recording(known.o_schema, known.o_table);
            PERFORM replicador.record_ddl(known.o_schema, known.o_table, statement, p_search_path);
            IF (known.o_schema, known.o_table) IS DISTINCT FROM (rel.nspname, rel.relname) THEN
                -- renamed: capture goes on under the new name
                PERFORM replicador.release_table(known.o_schema, known.o_table);
                IF EXISTS (SELECT 1 FROM replicador.wal_capture WHERE NOT ending) THEN
                    INSERT INTO replicador.captured_tables (schema_name, table_name)
                    VALUES (rel.nspname, rel.relname) ON CONFLICT DO NOTHING;
                ELSE
                    PERFORM replicador.capture_table(rel.nspname, rel.relname);
                END IF;
            END IF;
            RETURN; -- one record per query: its statement holds every command
        END IF;
        IF cmd.command_tag = 'CREATE TABLE' AND cmd.object_type = 'table'
           AND EXISTS (SELECT 1 FROM replicador.captured_tables WHERE schema_name = rel.nspname)
        THEN
            IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = relid AND indisprimary) THEN
                RAISE WARNING 'Table %.% has no primary key, so Replicador does not capture it',
                              quote_ident(rel.nspname), quote_ident(rel.relname)
                    USING HINT = 'Add one, then run replicador install for it';
                RETURN;
            END IF;
            statement := replicador.before_recording(rel.nspname, rel.relname);
            PERFORM replicador.record_ddl(rel.nspname, rel.relname, statement,
                                          p_search_path);
            IF rel.relispartition THEN
                RETURN; -- its rows are captured through its partitioned table
            END IF;
            IF EXISTS (SELECT 1 FROM replicador.wal_capture WHERE NOT ending) THEN
                EXECUTE format('ALTER PUBLICATION %I ADD TABLE %I.%I', 'replicador', rel.nspname,
                               rel.relname);
                INSERT INTO replicador.captured_tables (schema_name, table_name)
                VALUES (rel.nspname, rel.relname) ON CONFLICT DO NOTHING;
            ELSE
                PERFORM replicador.capture_table(rel.nspname, rel.relname);
            END IF;
            RETURN;
        END IF;
    END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION replicador.on_sql_drop(p_search_path text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    obj record;
    statement text;
BEGIN
    IF current_setting('replicador.recording', true) = 'on' THEN
        RETURN;
    END IF;
    FOR obj IN SELECT d.schema_name, d.object_name FROM pg_event_trigger_dropped_objects() d
               JOIN replicador.captured_tables t
                 ON t.schema_name = d.schema_name AND t.table_name = d.object_name
               WHERE d.object_type = 'table' AND d.original LOOP
        statement := replicador.before_recording(obj.schema_name, obj.object_name);
        PERFORM replicador.record_ddl(obj.schema_name, obj.object_name, statement,
                                      p_search_path);
        DELETE FROM replicador.captured_tables
        WHERE schema_name = obj.schema_name AND table_name = obj.object_name;
        RETURN; -- one record per query
    END LOOP;
END
$fn$;

-- Only the installing role (and superusers) may write the stream: a statement recorded here runs
-- on every replica, a refreshed row is applied there.
REVOKE EXECUTE ON FUNCTION replicador.record_ddl(text, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION replicador.refresh_row(text, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION replicador.on_ddl_command(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION replicador.on_sql_drop(text) FROM PUBLIC;
