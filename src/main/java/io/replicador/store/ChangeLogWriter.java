package io.replicador.store;

import static java.util.stream.Collectors.joining;

import io.replicador.change.Identifiers;
import io.replicador.change.TableName;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

/**
 * Writes changes into the primary's changelog from outside the capture triggers: the origin
 * design's NOTIFY payloads, which the publisher turns into changelog rows. Runs in the caller's
 * transaction on the caller's connection; not thread-safe.
 */
public final class ChangeLogWriter {
  private final Connection connection;

  public ChangeLogWriter(Connection connection) {
    this.connection = connection;
  }

  /**
   * Writes origin payloads of one table, in order, as changelog rows. A payload is a hint that a
   * row changed, never the row itself: what is stored is the row as the primary holds it now, found
   * by the key the payload names, so a forged or stale payload can only send the truth again. Per
   * operation:
   *
   * <ul>
   *   <li>INSERT: the current row at the key of {@code new_record}; nothing when there is none
   *       (deleted since, or never there).
   *   <li>UPDATE: the current row at the new key, as an update of the old key ({@code
   *       old_record}'s); nothing when the new key has no row. When the key changed but a row still
   *       exists at the old key (re-inserted since, or the payload is false), it is stored as an
   *       insert of the current row instead, which replicas upsert, and the old key's row is left
   *       alone.
   *   <li>DELETE: the old key, only when the primary has no row there now.
   *   <li>TRUNCATE: only when the table is empty now.
   * </ul>
   *
   * Changes to a row are notified in commit order, so skipping a superseded one loses nothing: the
   * later one carries the current row. The caller needs SELECT on the table.
   *
   * @param relid the table's oid
   * @param ops each payload's operation code (I, U, D)
   * @return the rows written
   */
  public int insertOrigin(long relid, TableName table, String[] payloads, String[] ops)
      throws SQLException {
    List<String> key =
        Statements.list(
            connection,
            "SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, n),"
                + " pg_attribute a WHERE i.indrelid = ?::int8::oid AND i.indisprimary"
                + " AND a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n",
            rs -> Identifiers.quote(rs.getString(1)),
            relid);
    if (key.isEmpty()) {
      throw new SQLException("Table " + table + " has no primary key", "42P01");
    }
    String rowType = "NULL::" + table.quoted();
    String tableKey = "ROW(" + key.stream().map(k -> "t." + k).collect(joining(", ")) + ")";
    String newKey = "ROW(" + key.stream().map(k -> "(p.n)." + k).collect(joining(", ")) + ")";
    String oldKey = "ROW(" + key.stream().map(k -> "(p.o)." + k).collect(joining(", ")) + ")";
    try (PreparedStatement ps =
        connection.prepareStatement(
            "WITH p AS (SELECT q.ord, q.op,"
                + " CASE WHEN q.op IN ('I', 'U') THEN json_populate_record("
                + rowType
                + ", q.payload::json -> 'new_record') END AS n,"
                + " CASE WHEN q.op IN ('U', 'D') THEN json_populate_record("
                + rowType
                + ", q.payload::json -> 'old_record') END AS o"
                + " FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS q(payload, op, ord)),"
                + " c AS (SELECT p.ord, p.op, p.o,"
                + " (SELECT t::text FROM "
                + table.quoted()
                + " t WHERE "
                + tableKey
                + " = "
                + newKey
                + ") AS now_new,"
                + " EXISTS (SELECT FROM "
                + table.quoted()
                + " t WHERE "
                + tableKey
                + " = "
                + oldKey
                + ") AS old_there,"
                + " "
                + oldKey
                + " IS NOT DISTINCT FROM "
                + newKey
                + " AS same_key FROM p)"
                + " INSERT INTO replicador.changelog"
                + " (relid, schema_name, table_name, op, new_row, old_row)"
                + " SELECT ?::int8::oid, ?, ?,"
                + " (CASE WHEN c.op = 'U' AND c.old_there AND NOT c.same_key THEN 'I'"
                + " ELSE c.op END)::\"char\","
                + " c.now_new,"
                + " CASE WHEN c.op = 'D' OR (c.op = 'U' AND (c.same_key OR NOT c.old_there))"
                + " THEN c.o::text END"
                + " FROM c WHERE (c.op IN ('I', 'U') AND c.now_new IS NOT NULL)"
                + " OR (c.op = 'D' AND NOT c.old_there)"
                + " OR (c.op = 'T' AND NOT EXISTS (SELECT FROM "
                + table.quoted()
                + "))"
                + " ORDER BY c.ord")) {
      ps.setArray(1, connection.createArrayOf("text", payloads));
      ps.setArray(2, connection.createArrayOf("text", ops));
      ps.setLong(3, relid);
      ps.setString(4, table.schema());
      ps.setString(5, table.name());
      return ps.executeUpdate();
    }
  }
}
