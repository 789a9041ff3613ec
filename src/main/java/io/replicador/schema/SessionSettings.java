package io.replicador.schema;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Fixes the session settings that shape text forms of values, so that the primary's output is read
 * back exactly by the replica and the two databases print equal values identically (copy and verify
 * depend on it). {@code search_path = pg_catalog} makes {@code format_type} and {@code pg_get_expr}
 * qualify every name outside pg_catalog.
 */
public final class SessionSettings {
  private SessionSettings() {}

  public static void apply(Connection connection) throws SQLException {
    try (Statement st = connection.createStatement()) {
      st.execute("SET search_path = pg_catalog");
    }
    applyKeepingSearchPath(connection);
  }

  /** The settings of {@link #apply} but the search path, for a session that runs user code. */
  public static void applyKeepingSearchPath(Connection connection) throws SQLException {
    try (Statement st = connection.createStatement()) {
      st.execute(
          "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';"
              + " SET extra_float_digits = 3; SET bytea_output = 'hex'; SET TimeZone = 'UTC';"
              + " SET standard_conforming_strings = on");
    }
  }
}
