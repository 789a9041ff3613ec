package io.replicador.capture;

import io.replicador.change.Identifiers;
import io.replicador.change.TableName;
import io.replicador.schema.TableCatalog;
import io.replicador.schema.TableCatalog.TableRef;
import io.replicador.store.PrimaryStore;
import io.replicador.store.PublisherFence;
import io.replicador.store.WalCaptureStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs and removes change capture on the primary: the {@code replicador} schema, its changelog
 * and trigger functions (the numbered migrations of {@link PrimaryStore}), and the capture triggers
 * of each table (installing again moves a table to the current ones). Each call is one transaction:
 * it installs everything asked for or nothing. Does not close the connection.
 */
public final class CaptureInstaller {
  private static final Logger log = LoggerFactory.getLogger(CaptureInstaller.class);
  private static final long LOCK_KEY = 0x5245504c4943L; // serialises concurrent installs

  private final Connection connection;
  private final PrimaryStore store;

  public CaptureInstaller(Connection connection) {
    this.connection = connection;
    this.store = new PrimaryStore(connection, "the primary");
  }

  /**
   * Installs capture for the tables; running it again is harmless.
   *
   * @throws CaptureException listing every table that cannot be captured, when any cannot
   */
  public List<TableName> install(List<TableName> tables) throws SQLException {
    return install(tables, null, null);
  }

  /**
   * Installs capture for the tables and, in the same transaction, drops the trigger named {@code
   * replacedTrigger} on each of them (the origin design's NOTIFY trigger), so every change is
   * captured by exactly one of the two: those committed before by the old trigger, the rest by the
   * changelog. The tables are locked against writes (reads go on) first; then the fence waits until
   * the active publisher has written every notification of the old trigger, so no change captured
   * after the switch overtakes one sent before it.
   *
   * @param replacedTrigger a trigger every table must have, or null to drop none
   * @param fence waits for the publisher while the tables are locked; null to not wait
   * @throws CaptureException listing every table that cannot be captured or lacks the trigger
   */
  public List<TableName> install(
      List<TableName> tables, String replacedTrigger, PublisherFence fence) throws SQLException {
    return inTransaction(
        () -> {
          lock();
          WalCaptureStore wal = new WalCaptureStore(connection);
          // tables captured from the WAL move back to triggers, all of them: one source at a time
          boolean fromWal = store.installed() && wal.find().isPresent() && !wal.ending();
          List<TableName> checked;
          if (fromWal) {
            Set<TableName> all = new LinkedHashSet<>(capturedTables());
            all.addAll(tables);
            checked = validate(new ArrayList<>(all));
            lockAgainstWrites(checked);
          } else {
            checked = validate(tables);
          }
          if (replacedTrigger != null) {
            checkReplacedTrigger(checked, replacedTrigger);
            lockAgainstWrites(checked);
            if (fence != null) {
              // before the script: it locks the changelog, which the publisher must write to
              fence.await();
            }
          }
          store.migrate();
          try (Statement st = connection.createStatement()) {
            if (replacedTrigger != null) {
              for (TableName t : checked) {
                st.execute(
                    "DROP TRIGGER " + Identifiers.quote(replacedTrigger) + " ON " + t.quoted());
                log.info("Dropped trigger {} on {}", Identifiers.quote(replacedTrigger), t);
              }
            }
          }
          for (TableName t : checked) {
            store.capture(t);
            log.info("Capturing changes of {}", t);
          }
          if (fromWal) {
            // Writers were locked out since before the triggers came: every change committed
            // before this transaction is in the WAL only, every later one in the changelog too.
            // The publisher ships the slot up to this transaction's message, then the changelog.
            wal.announceEnd();
            log.info(
                "Moved {} from the slot to triggers; the publisher ships the slot up to this point,"
                    + " then drops it",
                checked);
          }
          return checked;
        });
  }

  /**
   * Removes the triggers of the tables and, once no table is captured any more, the {@code
   * replicador} schema with its changelog.
   *
   * @return whether the schema was dropped
   */
  public boolean uninstall(List<TableName> tables) throws SQLException {
    return uninstall(tables, false);
  }

  /**
   * As {@link #uninstall(List)}; dropping the schema with changes not yet shipped is refused
   * (nothing is changed) unless {@code discardBacklog}.
   */
  public boolean uninstall(List<TableName> tables, boolean discardBacklog) throws SQLException {
    return inTransaction(
        () -> {
          lock();
          if (!schemaInstalled()) {
            return false;
          }
          boolean last = new java.util.HashSet<>(tables).containsAll(capturedTables());
          PrimaryStore.Backlog backlog = store.backlog();
          if (last && backlog.changes() > 0 && !discardBacklog) {
            throw new CaptureException(
                "Uninstalling would drop the changelog with "
                    + backlog.changes()
                    + " change(s) of "
                    + backlog.transactions()
                    + " transaction(s) not yet"
                    + " shipped to the replicas; run the publisher until 'replicador status'"
                    + " shows no backlog, or pass --discard-backlog to lose them (nothing was"
                    + " changed)");
          }
          for (TableName t : tables) {
            store.release(t);
            log.info("Stopped capturing changes of {}", t);
          }
          if (capturedTables().isEmpty()) {
            if (backlog.changes() > 0) {
              log.warn("Discarding {} change(s) not yet shipped", backlog.changes());
            }
            store.drop();
            log.info("No table is captured any more; dropped schema replicador");
            return true;
          }
          return false;
        });
  }

  /**
   * The source capture uses on this primary now: {@code wal} when the tables are captured from a
   * slot (and not moving back to triggers), else {@code trigger}.
   */
  public static String currentCapture(Connection connection) throws SQLException {
    WalCaptureStore wal = new WalCaptureStore(connection);
    return wal.find().isPresent() && !wal.ending() ? "wal" : "trigger";
  }

  /** The tables capture is installed for; empty when the schema is absent. */
  public List<TableName> capturedTables() throws SQLException {
    return store.capturedTables();
  }

  private boolean schemaInstalled() throws SQLException {
    return store.installed();
  }

  List<TableName> validate(List<TableName> tables) throws SQLException {
    TableCatalog catalog = new TableCatalog(connection);
    List<String> problems = new ArrayList<>();
    List<TableName> ok = new ArrayList<>();
    for (TableName t : tables) {
      Optional<TableRef> ref = catalog.find(t);
      if (ref.isEmpty()) {
        problems.add("Table " + t + " does not exist on the primary; check the name and schema");
      } else if (ref.get().kind() != 'r' && ref.get().kind() != 'p') {
        problems.add(t + " is not a table (relkind '" + ref.get().kind() + "'); name tables only");
      } else if (t.schema().equals("replicador")) {
        problems.add("Table " + t + " is Replicador's own; it cannot be captured");
      } else if (catalog.primaryKey(ref.get().oid()).isEmpty()) {
        problems.add(
            "Table "
                + t
                + " has no primary key; add one (ALTER TABLE "
                + t
                + " ADD PRIMARY KEY (...)) so replicas can find its rows");
      } else {
        ok.add(t);
      }
    }
    if (!problems.isEmpty()) {
      throw new CaptureException(String.join("; ", problems) + " (nothing was installed)");
    }
    return ok;
  }

  private void checkReplacedTrigger(List<TableName> tables, String trigger) throws SQLException {
    if (trigger.startsWith("replicador_")) {
      throw new CaptureException(
          "Trigger " + trigger + " is Replicador's own; name the old NOTIFY trigger to replace");
    }
    List<String> problems = new ArrayList<>();
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = ?::regclass AND tgname = ?"
                + " AND NOT tgisinternal")) {
      for (TableName t : tables) {
        ps.setString(1, t.quoted());
        ps.setString(2, trigger);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          if (rs.getLong(1) == 0) {
            problems.add(
                "Table "
                    + t
                    + " has no trigger named "
                    + trigger
                    + "; check the name (psql: \\d "
                    + t
                    + ") or leave out --replace-trigger if it is already gone");
          }
        }
      }
    }
    if (!problems.isEmpty()) {
      throw new CaptureException(String.join("; ", problems) + " (nothing was installed)");
    }
  }

  private void lockAgainstWrites(List<TableName> tables) throws SQLException {
    try (Statement st = connection.createStatement()) {
      for (TableName t : tables) {
        st.execute("LOCK TABLE " + t.quoted() + " IN SHARE ROW EXCLUSIVE MODE");
      }
    }
  }

  void lock() throws SQLException {
    try (PreparedStatement ps = connection.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
      ps.setLong(1, LOCK_KEY);
      ps.execute();
    }
  }

  private <T> T inTransaction(SqlWork<T> work) throws SQLException {
    boolean autoCommit = connection.getAutoCommit();
    connection.setAutoCommit(false);
    try {
      T result = work.run();
      connection.commit();
      return result;
    } catch (SQLException | RuntimeException e) {
      connection.rollback();
      throw e;
    } finally {
      connection.setAutoCommit(autoCommit);
    }
  }

  @FunctionalInterface
  private interface SqlWork<T> {
    T run() throws SQLException;
  }
}
