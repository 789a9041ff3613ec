package io.replicador;

import io.replicador.broker.BrokerFailures;
import java.sql.SQLException;

/**
 * The one place that turns failures into one-line reasons and decides which are worth retrying.
 */
public final class Failures {
  private Failures() {}

  /** One line naming what failed, following causes until one says something. */
  public static String describe(Throwable e) {
    Throwable t = e;
    while (t != null) {
      if (t instanceof SQLException sql) {
        return firstLine(sql.getMessage()) + " [SQLSTATE " + sql.getSQLState() + "]";
      }
      String broker = BrokerFailures.describe(t);
      if (broker != null) {
        return broker;
      }
      if (t.getMessage() != null && !t.getMessage().isBlank()) {
        String m = firstLine(t.getMessage());
        return t instanceof java.net.ConnectException || t instanceof java.net.UnknownHostException
            ? t.getClass().getSimpleName() + ": " + m
            : m;
      }
      t = t.getCause();
    }
    return e.getClass().getSimpleName();
  }

  /**
   * Whether a database failure is the connection's (SQLSTATE class 08, or the server shutting
   * down, 57P): reconnect and carry on. Anything else is about the data or the schema.
   */
  public static boolean isConnectionFailure(SQLException e) {
    String state = e.getSQLState();
    return state != null && (state.startsWith("08") || state.startsWith("57P"));
  }

  /**
   * Whether a failure to start is one that waiting cannot heal: a refused login or unknown
   * database on PostgreSQL (SQLSTATE 28, 3D000), a refused login or virtual host on the broker.
   * A long-running command stops on it at start (exit 2) instead of retrying for good.
   */
  public static boolean isConfigurationError(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof SQLException sql && sql.getSQLState() != null
          && (sql.getSQLState().startsWith("28") || sql.getSQLState().equals("3D000"))) {
        return true;
      }
    }
    return BrokerFailures.isConfigurationError(e);
  }

  private static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }
}
