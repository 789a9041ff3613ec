package io.replicador.capture;

import io.replicador.change.TableName;
import io.replicador.store.PrimaryStore;
import io.replicador.store.WalCaptureStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs and removes capture from the WAL ({@code install --capture wal}): a publication of the
 * tables and one logical replication slot with the built-in {@code pgoutput} plugin, beside the
 * {@code replicador} schema that keeps the source id and the publisher's positions.
 *
 * <p>First it checks everything the server and the role must allow, and refuses with one line per
 * missing thing and nothing changed. Tables captured by triggers move over: in the transaction that
 * drops their triggers, with writers to them locked out, it records the WAL position from which the
 * slot takes over, so each change is shipped by exactly one of the two (the publisher ships the
 * changelog's rest first). Does not close the connection.
 */
public final class WalCaptureInstaller {
  private static final Logger log = LoggerFactory.getLogger(WalCaptureInstaller.class);

  private final Connection connection;
  private final CaptureInstaller triggers;
  private final PrimaryStore store;
  private final WalCaptureStore wal;

  public WalCaptureInstaller(Connection connection) {
    this.connection = connection;
    this.triggers = new CaptureInstaller(connection);
    this.store = new PrimaryStore(connection, "the primary");
    this.wal = new WalCaptureStore(connection);
  }

  /**
   * Captures the tables (and any captured by triggers so far) from the WAL; running it again is
   * harmless.
   *
   * @return the tables captured from the WAL now
   * @throws CaptureException one line per missing requirement or bad table, when any
   */
  public List<TableName> install(List<TableName> tables) throws SQLException {
    boolean autoCommit = connection.getAutoCommit();
    try {
      connection.setAutoCommit(false);
      Set<TableName> all = new LinkedHashSet<>(triggers.capturedTables());
      all.addAll(tables);
      List<TableName> checked = triggers.validate(new ArrayList<>(all));
      List<String> problems = requirements(checked);
      if (!problems.isEmpty()) {
        throw new CaptureException(String.join("\n", problems) + "\n(nothing was installed)");
      }
      boolean fresh = !store.installed();
      triggers.lock();
      store.migrate();
      String slot =
          wal.find().map(w -> w.slot()).orElse(WalCaptureStore.slotName(store.sourceId()));
      // the publication first: the slot decodes with the catalog as it was at each change, and a
      // publication younger than the slot's start would be missing for the changes before it
      wal.publish(checked);
      connection.commit();
      if (wal.slot(slot).isEmpty()) {
        connection.setAutoCommit(true); // PostgreSQL creates a slot only outside a transaction
        try {
          wal.createSlot(slot);
        } catch (SQLException e) {
          connection.setAutoCommit(false);
          undo(fresh);
          throw e;
        }
        connection.setAutoCommit(false);
        log.info("Created logical replication slot {} (plugin pgoutput)", slot);
      }
      triggers.lock();
      for (TableName t : checked) {
        try (Statement st = connection.createStatement()) {
          st.execute("LOCK TABLE " + t.quoted() + " IN SHARE ROW EXCLUSIVE MODE");
        }
      }
      // Writers of the tables have committed (the locks waited for them) and none can start
      // before this commits: every change committed before this position was captured by the
      // triggers, every one after it by the slot.
      long takeOver = currentWalPosition();
      List<TableName> moved = new ArrayList<>();
      if (wal.find().isEmpty()) {
        for (TableName t : triggers.capturedTables()) {
          store.release(t);
          moved.add(t);
        }
      }
      wal.record(slot, takeOver);
      for (TableName t : checked) {
        wal.captured(t);
        log.info("Capturing changes of {} from the WAL", t);
      }
      if (!moved.isEmpty()) {
        log.info(
            "Moved {} from trigger capture to the slot; the publisher ships the changelog's rest"
                + " first",
            moved);
        store.announceCaptureChange();
      }
      connection.commit();
      return checked;
    } catch (SQLException | RuntimeException e) {
      connection.rollback();
      throw e;
    } finally {
      connection.setAutoCommit(autoCommit);
    }
  }

  /**
   * Drops the publication the failed call created, and the schema if it created that too; best
   * effort.
   */
  private void undo(boolean fresh) {
    try {
      if (wal.find().isEmpty()) {
        wal.dropPublication();
      }
      if (fresh) {
        store.drop();
      }
      connection.commit();
    } catch (SQLException e) {
      log.warn("Could not drop publication {} after the failure", WalCaptureStore.PUBLICATION, e);
    }
  }

  /**
   * What the server and the role lack for WAL capture of the tables, one line each with the fix;
   * empty when nothing.
   */
  List<String> requirements(List<TableName> tables) throws SQLException {
    List<String> problems = new ArrayList<>();
    try (Statement st = connection.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT current_setting('wal_level'), r.rolsuper, r.rolreplication,"
                    + " current_setting('server_version_num')::int,"
                    + " has_database_privilege(current_database(), 'CREATE'),"
                    + " current_setting('max_replication_slots')::int,"
                    + " (SELECT count(*) FROM pg_replication_slots), current_user,"
                    + " current_database()"
                    + " FROM pg_roles r WHERE r.rolname = current_user")) {
      rs.next();
      String user = rs.getString(8);
      if (!"logical".equals(rs.getString(1))) {
        problems.add(
            "The server's wal_level is "
                + rs.getString(1)
                + ", and capture from the WAL needs logical: set wal_level = logical in"
                + " postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart the server,"
                + " or install with --capture trigger");
      }
      if (!rs.getBoolean(2) && !rs.getBoolean(3)) {
        problems.add(
            "Role "
                + user
                + " may not read a replication slot: ALTER ROLE \""
                + user.replace("\"", "\"\"")
                + "\" REPLICATION (as a superuser), or install with --capture trigger");
      }
      if (rs.getInt(4) < 140000) {
        problems.add(
            "Capture from the WAL needs PostgreSQL 14 or newer (the server is "
                + rs.getInt(4) / 10000
                + "); use --capture trigger");
      }
      if (!rs.getBoolean(2) && !rs.getBoolean(5) && !wal.publicationExists()) {
        problems.add(
            "Role "
                + user
                + " may not create the publication: GRANT CREATE ON DATABASE \""
                + rs.getString(9).replace("\"", "\"\"")
                + "\" TO \""
                + user.replace("\"", "\"\"")
                + "\"");
      }
      if (wal.ending()) {
        problems.add(
            "Capture is moving from the slot back to triggers and the publisher has not shipped"
                + " the slot's rest yet; run publish until 'replicador status' no longer shows the"
                + " slot, then install again");
      }
      if (wal.find().isEmpty() && rs.getInt(7) >= rs.getInt(6)) {
        problems.add(
            "The server has no free replication slot (max_replication_slots = "
                + rs.getInt(6)
                + ", all in use): raise max_replication_slots and restart, or drop an unused slot");
      }
    }
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT pg_has_role(c.relowner, 'USAGE'), pg_get_userbyid(c.relowner),"
                + " c.relreplident::text FROM pg_class c WHERE c.oid = ?::regclass")) {
      for (TableName t : tables) {
        ps.setString(1, t.quoted());
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          if (!rs.getBoolean(1)) {
            problems.add(
                "Table "
                    + t
                    + " belongs to role "
                    + rs.getString(2)
                    + ", and only its owner may publish it: install as "
                    + rs.getString(2)
                    + ", or GRANT \""
                    + rs.getString(2).replace("\"", "\"\"")
                    + "\" TO the installing role");
          }
          String identity = rs.getString(3);
          if (!identity.equals("d") && !identity.equals("f")) {
            problems.add(
                "Table "
                    + t
                    + " has REPLICA IDENTITY "
                    + (identity.equals("n") ? "NOTHING" : "USING INDEX")
                    + ", and the slot must name rows by their primary key: ALTER TABLE "
                    + t
                    + " REPLICA IDENTITY DEFAULT");
          }
        }
      }
    }
    return problems;
  }

  /**
   * Stops capturing the tables; once none is left, drops publication, slot and the {@code
   * replicador} schema. Refused while a publisher reads the slot and the last tables go.
   *
   * @return whether the schema was dropped
   */
  public boolean uninstall(List<TableName> tables) throws SQLException {
    boolean autoCommit = connection.getAutoCommit();
    String slot;
    try {
      connection.setAutoCommit(false);
      triggers.lock();
      WalCaptureStore.WalCapture capture = wal.find().orElseThrow();
      slot = capture.slot();
      boolean last = new LinkedHashSet<>(tables).containsAll(triggers.capturedTables());
      if (last) {
        Integer reader = wal.slot(slot).map(WalCaptureStore.Slot::activePid).orElse(null);
        if (reader != null) {
          throw new CaptureException(
              "A publisher reads slot "
                  + slot
                  + " (server process "
                  + reader
                  + "); stop it, then run uninstall again (nothing was changed)");
        }
      }
      wal.unpublish(tables);
      for (TableName t : tables) {
        store.release(t); // drops triggers too, where a move back to them is under way
        log.info("Stopped capturing changes of {}", t);
      }
      if (!last) {
        connection.commit();
        return false;
      }
      wal.forget();
      wal.dropPublication();
      store.drop();
      connection.commit();
      connection.setAutoCommit(true);
      if (!wal.dropSlot(slot)) {
        log.warn(
            "Slot {} is in use; drop it once its reader is gone: SELECT"
                + " pg_drop_replication_slot('{}')",
            slot,
            slot);
      }
      log.info(
          "No table is captured any more; dropped slot {}, the publication and schema replicador",
          slot);
      return true;
    } catch (SQLException | RuntimeException e) {
      if (!connection.getAutoCommit()) {
        connection.rollback();
      }
      throw e;
    } finally {
      connection.setAutoCommit(autoCommit);
    }
  }

  private long currentWalPosition() throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs = st.executeQuery("SELECT pg_current_wal_insert_lsn()::text")) {
      rs.next();
      return org.postgresql.replication.LogSequenceNumber.valueOf(rs.getString(1)).asLong();
    }
  }
}
