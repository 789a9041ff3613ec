package io.replicador;

import io.replicador.broker.BrokerFailures;
import java.sql.SQLException;

/** The one place that turns failures into one-line reasons and decides which are worth retrying. */
public final class Failures {
  /**
   * Where a password can go instead of the command line, where {@code ps} shows it. pgjdbc's own
   * messages for these failures do not say.
   */
  private static final String PASSWORD_HINT =
      "; give the user's password in PGPASSWORD, in ~/.pgpass, or in the address in the"
          + " --config file";

  private Failures() {}

  /** One line naming what failed, following causes until one says something. */
  public static String describe(Throwable e) {
    Throwable t = e;
    while (t != null) {
      if (t instanceof SQLException sql) {
        // pgjdbc's words for a missing password blame SCRAM or "an empty string"
        String what =
            isMissingPassword(sql)
                ? "The server asks for a password and none was given"
                : firstLine(sql.getMessage());
        return what
            + " [SQLSTATE "
            + sql.getSQLState()
            + "]"
            + (isAuthenticationFailure(sql) ? PASSWORD_HINT : "");
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
   * Why a connection could not be opened, in a few words ("connection refused", "unknown host
   * rabbit_1", "no answer in time"); see {@link BrokerFailures#networkReason}.
   */
  public static String networkReason(Throwable e) {
    return BrokerFailures.networkReason(e);
  }

  /**
   * Whether a database failure is the connection's (SQLSTATE class 08, or the server shutting down,
   * 57P): reconnect and carry on. Anything else is about the data or the schema.
   */
  public static boolean isConnectionFailure(SQLException e) {
    String state = e.getSQLState();
    return state != null && (state.startsWith("08") || state.startsWith("57P"));
  }

  /**
   * Whether a failure to start is one that waiting cannot heal: a refused login or unknown database
   * on PostgreSQL (SQLSTATE 28, 3D000), a refused login or virtual host on the broker. A
   * long-running command stops on it at start (exit 2) instead of retrying for good.
   */
  public static boolean isConfigurationError(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof SQLException sql
          && (isAuthenticationFailure(sql) || "3D000".equals(sql.getSQLState()))) {
        return true;
      }
    }
    return BrokerFailures.isConfigurationError(e);
  }

  /**
   * Whether the login was refused: by the server (SQLSTATE 28P01, wrong password; 28000, no such
   * role or no pg_hba.conf entry), or by pgjdbc because the server asked for a password and it had
   * none. A setting must change.
   */
  public static boolean isAuthenticationFailure(SQLException e) {
    String state = e.getSQLState();
    return "28P01".equals(state) || "28000".equals(state) || isMissingPassword(e);
  }

  /**
   * pgjdbc refuses with 08004 ("connection rejected") when the server asks for a password it does
   * not have; 08004 has other causes (no SSL on the server), which do not mention a password.
   */
  private static boolean isMissingPassword(SQLException e) {
    return "08004".equals(e.getSQLState())
        && e.getMessage() != null
        && e.getMessage().contains("password");
  }

  private static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }
}
