package io.replicador.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The shapes every store statement takes: bind the parameters (values only, never SQL), run, read.
 * Runs in the caller's transaction. Stateless.
 */
final class Statements {
  private Statements() {}

  /** Reads one row into a value. */
  @FunctionalInterface
  interface Row<T> {
    T read(ResultSet rs) throws SQLException;
  }

  /** Every row the query returns. */
  static <T> List<T> list(Connection c, String sql, Row<T> row, Object... params)
      throws SQLException {
    try (PreparedStatement ps = prepare(c, sql, params);
        ResultSet rs = ps.executeQuery()) {
      List<T> out = new ArrayList<>();
      while (rs.next()) {
        out.add(row.read(rs));
      }
      return out;
    }
  }

  /** The first row the query returns, if any. */
  static <T> Optional<T> first(Connection c, String sql, Row<T> row, Object... params)
      throws SQLException {
    try (PreparedStatement ps = prepare(c, sql, params);
        ResultSet rs = ps.executeQuery()) {
      return rs.next() ? Optional.ofNullable(row.read(rs)) : Optional.empty();
    }
  }

  /** Runs a statement that returns no rows; returns the rows it changed. */
  static int update(Connection c, String sql, Object... params) throws SQLException {
    try (PreparedStatement ps = prepare(c, sql, params)) {
      return ps.executeUpdate();
    }
  }

  private static PreparedStatement prepare(Connection c, String sql, Object... params)
      throws SQLException {
    PreparedStatement ps = c.prepareStatement(sql);
    try {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      return ps;
    } catch (SQLException | RuntimeException e) {
      ps.close();
      throw e;
    }
  }
}
