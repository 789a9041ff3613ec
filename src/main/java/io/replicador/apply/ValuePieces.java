package io.replicador.apply;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Joins the pieces of large values on the replica, so that the listener never holds a whole value:
 * each piece goes into a temporary table of the session as it arrives, and the change they belong
 * to reads its value back with {@link #expression}, joined and converted by the server. The pieces
 * belong to the replica transaction that applies them (they go with a rollback and are emptied at
 * commit). Uses the applier's connection; not thread-safe.
 */
final class ValuePieces {
  private static final String TABLE = "pg_temp.replicador_value_pieces";

  private final Connection connection;
  private PreparedStatement insert;
  private int next;

  ValuePieces(Connection connection) {
    this.connection = connection;
  }

  /** Creates the session's table; call once per session, outside a transaction that may fail. */
  void prepare() throws SQLException {
    try (Statement st = connection.createStatement()) {
      st.execute(
          "CREATE TEMPORARY TABLE IF NOT EXISTS replicador_value_pieces"
              + " (col int NOT NULL, seq int NOT NULL, piece text NOT NULL) ON COMMIT DELETE ROWS");
      // pieces are read back once, whole: compressing them would cost more than it saves
      st.execute("ALTER TABLE " + TABLE + " ALTER COLUMN piece SET STORAGE EXTERNAL");
    }
    connection.commit();
  }

  void add(int column, String piece) throws SQLException {
    if (insert == null) {
      insert = connection.prepareStatement("INSERT INTO " + TABLE + " VALUES (?, ?, ?)");
    }
    insert.setInt(1, column);
    insert.setInt(2, next++);
    insert.setString(3, piece);
    insert.executeUpdate();
  }

  /**
   * The SQL expression of column {@code column}'s joined value, read by the input function of
   * {@code type} (a type name as {@code format_type} prints it).
   */
  static String expression(int column, String type) {
    return "(SELECT string_agg(piece, '' ORDER BY seq) FROM "
        + TABLE
        + " WHERE col = "
        + column
        + ")::"
        + type;
  }

  /** Forgets the pieces once their change is applied. */
  void clear() throws SQLException {
    if (next > 0) {
      try (Statement st = connection.createStatement()) {
        st.execute("DELETE FROM " + TABLE);
      }
      next = 0;
    }
  }

  /** After a rollback: the pieces went with it. */
  void reset() {
    next = 0;
  }

  void close() throws SQLException {
    if (insert != null) {
      insert.close();
      insert = null;
    }
  }
}
