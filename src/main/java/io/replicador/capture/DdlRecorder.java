package io.replicador.capture;

import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import io.replicador.schema.TableCatalog;
import io.replicador.store.PrimaryStore;
import io.replicador.store.WalCaptureStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a schema change on the primary and records it in the stream in the same transaction ({@code
 * replicador ddl}), so that every replica runs it at exactly that point: after the changes
 * committed before it, before those committed after it. Only statements on captured tables (or a
 * new table in a captured schema, which becomes captured) are run; others are refused before
 * anything runs. Uses the caller's connection, which it does not close; blocks; not thread-safe.
 *
 * <p>With trigger capture the changelog keeps each row as its text, which the publisher reads with
 * the catalog as it is when it publishes. So, before the statement runs, the table is locked
 * against writers and the recorder waits (up to {@code drainTimeout}) until the publisher has
 * shipped the table's rows still in the changelog: every row of the table there afterwards has the
 * new shape. From the WAL, where the slot describes each change's columns as they were, it waits
 * instead until the publisher has read what committed before (see {@link #awaitSlot}).
 */
public final class DdlRecorder {
  private static final Logger log = LoggerFactory.getLogger(DdlRecorder.class);

  private static final Duration POLL = Duration.ofMillis(50);

  private final Connection connection;
  private final Connection marks;
  private final PrimaryStore store;
  private final Duration drainTimeout;

  /**
   * @param connection runs and records the statement
   * @param marks another connection to the primary, for the marks that tell when the publisher has
   *     read the WAL so far (they must commit while {@code connection}'s transaction is open)
   * @param drainTimeout how long to wait for the publisher before giving up
   */
  public DdlRecorder(Connection connection, Connection marks, Duration drainTimeout) {
    this.connection = connection;
    this.marks = marks;
    this.store = new PrimaryStore(connection, "the primary");
    this.drainTimeout = drainTimeout;
  }

  /**
   * What was run and recorded.
   *
   * @param table the table the change is recorded for (the old name of a renamed table)
   * @param captured the table capture covers afterwards, when that changed (created or renamed);
   *     else null
   */
  public record Recorded(DdlStatement statement, TableName table, TableName captured) {}

  /**
   * Runs and records the statement, committing both, or neither.
   *
   * @throws ConfigException when the statement is refused (nothing ran)
   * @throws SQLException when the primary rejects it (nothing was recorded)
   */
  public Recorded run(String sql) throws SQLException, InterruptedException {
    DdlStatement ddl = DdlStatement.classify(sql);
    boolean autoCommit = connection.getAutoCommit();
    connection.setAutoCommit(false);
    try {
      store.requireCurrent();
      new CaptureInstaller(connection).lock(); // not while install or uninstall runs
      List<TableName> captured = store.capturedTables();
      TableCatalog catalog = new TableCatalog(connection);
      boolean wal = CaptureInstaller.currentCapture(connection).equals("wal");
      TableName table;
      TableName nowCaptured = null;
      if (ddl.kind() == DdlStatement.Kind.CREATE_TABLE) {
        String schema =
            ddl.target().schema() != null ? ddl.target().schema() : catalog.creationSchema();
        if (schema == null || captured.stream().noneMatch(t -> t.schema().equals(schema))) {
          throw new ConfigException(
              "CREATE TABLE "
                  + ddl.target()
                  + ": schema "
                  + (schema == null ? "(none on the search_path)" : schema)
                  + " has no captured table, so the new table would not be replicated; create"
                  + " it in a captured schema, or install capture for that schema first");
        }
        table = TableName.of(schema, ddl.target().name());
        nowCaptured = table;
      } else {
        table = resolve(catalog, ddl.target());
        if (!captured.contains(table)) {
          throw new ConfigException(
              "Table "
                  + table
                  + " is not captured, so ddl does not record changes of it; run the statement"
                  + " yourself, or capture the table first (replicador install --tables "
                  + table
                  + ")");
        }
        if (ddl.renamedTo() != null) {
          nowCaptured = TableName.of(table.schema(), ddl.renamedTo());
        }
        try (Statement st = connection.createStatement()) {
          // blocks the table's writers (and waits for those in progress) until this commits
          st.execute("LOCK TABLE " + table.quoted() + " IN ACCESS EXCLUSIVE MODE");
        }
        if (!wal) {
          awaitShipped(table);
        } else if (ddl.kind() != DdlStatement.Kind.CREATE_INDEX) {
          awaitSlot(table);
        }
      }
      String searchPath = searchPath();
      try (Statement st = connection.createStatement()) {
        // the statement is recorded here: install --ddl auto's event triggers leave it alone
        st.execute("SELECT set_config('replicador.recording', 'on', true)");
        st.execute(sql);
      }
      switch (ddl.kind()) {
        case CREATE_TABLE -> {
          Optional<TableCatalog.TableRef> ref = catalog.find(table);
          if (ref.isEmpty() || catalog.primaryKey(ref.get().oid()).isEmpty()) {
            throw new ConfigException(
                "CREATE TABLE "
                    + table
                    + ": the table has no primary key, which capture needs; add one to the"
                    + " statement (nothing was created)");
          }
          startCapture(table, wal);
        }
        case DROP_TABLE -> store.release(table);
        case ALTER_TABLE -> {
          if (nowCaptured != null) {
            store.release(table);
            startCapture(nowCaptured, wal);
          }
        }
        case CREATE_INDEX -> {
          // the table's shape and capture are unchanged
        }
      }
      store.recordDdl(table, sql, searchPath);
      connection.commit();
      log.info("Ran and recorded {} on {}", ddl.kind(), table);
      return new Recorded(ddl, table, nowCaptured);
    } catch (SQLException | RuntimeException | InterruptedException e) {
      connection.rollback();
      throw e;
    } finally {
      connection.setAutoCommit(autoCommit);
    }
  }

  private void startCapture(TableName table, boolean wal) throws SQLException {
    if (wal) {
      WalCaptureStore walStore = new WalCaptureStore(connection);
      walStore.publish(List.of(table));
      walStore.captured(table);
    } else {
      store.capture(table);
    }
  }

  private TableName resolve(TableCatalog catalog, DdlStatement.Name name) throws SQLException {
    Optional<TableName> found =
        name.schema() == null
            ? catalog.visible(name.name())
            : catalog.find(TableName.of(name.schema(), name.name())).map(r -> r.name());
    return found.orElseThrow(
        () ->
            new ConfigException(
                "Table "
                    + name
                    + " does not exist on the primary"
                    + (name.schema() == null ? " (on its search_path)" : "")
                    + "; check the name, or qualify it with its schema"));
  }

  private String searchPath() throws SQLException {
    try (PreparedStatement ps =
            connection.prepareStatement("SELECT current_setting('search_path')");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getString(1);
    }
  }

  /**
   * From the WAL: waits until the publisher has shipped every transaction committed so far. The
   * slot describes each change's columns as they were, but the publisher reads the table's key from
   * the catalog as it is: a dropped table, or a key column gone, would leave earlier changes it has
   * not read yet without a key.
   */
  private void awaitSlot(TableName table) throws SQLException, InterruptedException {
    WalCaptureStore wal = new WalCaptureStore(connection);
    String slot = wal.find().orElseThrow().slot();
    // The mark's message is not transactional, but the WAL holding it is sent only once flushed:
    // a commit with a transaction id flushes it, instead of whatever comes next on the server.
    marks.setAutoCommit(false);
    long mark;
    try {
      mark = new WalCaptureStore(marks).mark();
      try (Statement st = marks.createStatement()) {
        st.execute("SELECT pg_current_xact_id()");
      }
      marks.commit();
    } finally {
      marks.setAutoCommit(true);
    }
    long deadline = System.nanoTime() + drainTimeout.toNanos();
    while (wal.slot(slot).map(WalCaptureStore.Slot::confirmedLsn).orElse(0L) < mark) {
      if (System.nanoTime() > deadline) {
        throw new ConfigException(
            "The publisher has not shipped the changes committed before this schema change of "
                + table
                + " within "
                + drainTimeout.toSeconds()
                + " s; start the publisher (replicador publish) or let it catch up, then run ddl"
                + " again (or give --wait more time); nothing was changed");
      }
      TimeUnit.NANOSECONDS.sleep(POLL.toNanos());
    }
  }

  /**
   * Waits until the publisher has shipped the rows of the table the changelog holds; the caller
   * holds the table's lock, so no new ones come.
   */
  private void awaitShipped(TableName table) throws SQLException, InterruptedException {
    long deadline = System.nanoTime() + drainTimeout.toNanos();
    boolean said = false;
    while (store.hasWaitingChanges(table)) {
      if (System.nanoTime() > deadline) {
        throw new ConfigException(
            "Changes of "
                + table
                + " are still waiting in the changelog after "
                + drainTimeout.toSeconds()
                + " s; the statement must come after them: start the publisher (replicador"
                + " publish) or let it catch up, then run ddl again (or give --wait more time);"
                + " nothing was changed");
      }
      if (!said) {
        log.info("Waiting for the publisher to ship the changes of {} captured so far", table);
        said = true;
      }
      TimeUnit.NANOSECONDS.sleep(POLL.toNanos());
    }
  }
}
