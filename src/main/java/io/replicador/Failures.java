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

  private static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }
}
