package io.replicador.capture;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The event triggers of {@code install --ddl auto}: schema changes of captured tables made without
 * {@code replicador ddl} (ALTER TABLE, CREATE TABLE in a captured schema, DROP TABLE, CREATE INDEX)
 * are recorded in the stream the same way, by functions of the {@code replicador} schema (see
 * store/primary/V3__ddl_and_refresh.sql). Only a superuser may create event triggers; without the
 * privilege nothing is created and capture works as before. Dropping the schema (uninstall) drops
 * them with their functions. Uses the caller's connection in auto-commit mode.
 */
public final class DdlEventTriggers {
  private static final String ON_COMMAND = "replicador_ddl";
  private static final String ON_DROP = "replicador_ddl_drop";

  private DdlEventTriggers() {}

  /** Creates (or re-creates) the event triggers; false, creating nothing, when the role may not. */
  public static boolean install(Connection c) throws SQLException {
    if (!superuser(c)) {
      return false;
    }
    try (Statement st = c.createStatement()) {
      st.execute("DROP EVENT TRIGGER IF EXISTS " + ON_COMMAND);
      st.execute(
          "CREATE EVENT TRIGGER "
              + ON_COMMAND
              + " ON ddl_command_end WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'CREATE INDEX')"
              + " EXECUTE FUNCTION replicador.record_ddl_event()");
      st.execute("DROP EVENT TRIGGER IF EXISTS " + ON_DROP);
      st.execute(
          "CREATE EVENT TRIGGER "
              + ON_DROP
              + " ON sql_drop WHEN TAG IN ('DROP TABLE')"
              + " EXECUTE FUNCTION replicador.record_drop_event()");
    }
    return true;
  }

  /** Removes the event triggers, if there are any. */
  public static void remove(Connection c) throws SQLException {
    try (Statement st = c.createStatement()) {
      st.execute("DROP EVENT TRIGGER IF EXISTS " + ON_COMMAND);
      st.execute("DROP EVENT TRIGGER IF EXISTS " + ON_DROP);
    }
  }

  private static boolean superuser(Connection c) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) {
      return rs.next() && rs.getBoolean(1);
    }
  }
}
