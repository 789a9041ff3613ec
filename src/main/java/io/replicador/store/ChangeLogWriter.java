package io.replicador.store;

import io.replicador.change.TableName;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

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
   * Writes origin payloads of one table, in order: each payload's {@code new_record} and {@code
   * old_record} become the stored rows, read into the table's row type by the server.
   *
   * @param relid the table's oid
   * @param ops each payload's operation code (I, U, D)
   * @return the rows written
   */
  public int insertOrigin(long relid, TableName table, String[] payloads, String[] ops)
      throws SQLException {
    String rowType = "NULL::" + table.quoted();
    try (PreparedStatement ps =
        connection.prepareStatement(
            "INSERT INTO replicador.changelog"
                + " (relid, schema_name, table_name, op, new_row, old_row)"
                + " SELECT ?::int8::oid, ?, ?, p.op::\"char\","
                + " CASE WHEN p.op IN ('I', 'U') THEN json_populate_record("
                + rowType
                + ", p.payload::json -> 'new_record')::text END,"
                + " CASE WHEN p.op IN ('U', 'D') THEN json_populate_record("
                + rowType
                + ", p.payload::json -> 'old_record')::text END"
                + " FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS p(payload, op, ord)"
                + " ORDER BY p.ord")) {
      ps.setLong(1, relid);
      ps.setString(2, table.schema());
      ps.setString(3, table.name());
      ps.setArray(4, connection.createArrayOf("text", payloads));
      ps.setArray(5, connection.createArrayOf("text", ops));
      return ps.executeUpdate();
    }
  }
}
