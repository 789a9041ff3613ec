package io.replicador.testing;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** Small JDBC conveniences for tests. */
public final class Db {
  private Db() {}

  public static void exec(PgCluster cluster, String database, String... sql) {
    try (Connection c = cluster.connect(database);
        Statement st = c.createStatement()) {
      for (String s : sql) {
        st.execute(s);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /** The first column of the first row, as text (null when no row). */
  public static String query(PgCluster cluster, String database, String sql) {
    try (Connection c = cluster.connect(database);
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      return rs.next() ? rs.getString(1) : null;
    } catch (SQLException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /**
   * A checksum of a table's content: the md5 of every row's text form in key order. Equal checksums
   * mean equal rows, value for value.
   */
  public static String checksum(PgCluster cluster, String database, String table, String orderBy) {
    return query(
        cluster,
        database,
        "SELECT count(*) || ':' || coalesce(md5(string_agg(ROW(t.*)::text, E'\\n' ORDER BY "
            + orderBy
            + ")), '') FROM "
            + table
            + " t");
  }
}
