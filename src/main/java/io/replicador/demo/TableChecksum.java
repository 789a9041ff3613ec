package io.replicador.demo;

import io.replicador.change.TableName;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * A table's row count and the md5 of all its rows' text forms in primary-key order: equal checksums
 * mean equal content, value for value. (The {@code verify} command does this per key range and
 * names differing rows; the demo only needs the verdict.)
 */
record TableChecksum(long rows, String md5) {
  static TableChecksum of(Connection c, TableName table) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t.id)), '')"
                    + " FROM "
                    + table.quoted()
                    + " t")) {
      rs.next();
      return new TableChecksum(rs.getLong(1), rs.getString(2));
    }
  }

  @Override
  public String toString() {
    return rows + " rows, md5 " + md5;
  }
}
