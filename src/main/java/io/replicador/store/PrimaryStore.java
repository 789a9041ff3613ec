package io.replicador.store;

import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;

/**
 * The primary's {@code replicador} schema as everything but the publisher's changelog reader sees
 * it: its installation and version (numbered migrations under {@code store/primary}), the source
 * id, the captured tables, the publisher's state and lock, and the backlog. The changelog itself is
 * read and written by {@link ChangeLogReader} and {@link ChangeLogWriter}, in this package too.
 *
 * <p>Statements run in the caller's transaction on the caller's connection, which it does not
 * close; the caller commits. Not thread-safe.
 */
public final class PrimaryStore {
  static final Migrations MIGRATIONS =
      new Migrations(
          "primary",
          "/io/replicador/store/primary",
          List.of("V1__capture.sql", "V2__wal_capture.sql", "V3__ddl_and_refresh.sql"),
          "replicador.source");

  /**
   * The advisory lock (session level) whose holder is the active publisher; standbys wait for it.
   * As a bigint key it shows in {@code pg_locks} as classid = high 32 bits, objid = low 32 bits.
   */
  public static final long PUBLISHER_LOCK = 0x5245504c5055L;

  /**
   * Held shared (session level) by each publisher waiting as standby, so that status can list them.
   */
  public static final long STANDBY_LOCK = 0x5245504c5053L;

  /**
   * The channel of the doorbell: the capture triggers ring it while the publisher is idle, and
   * install asks the publisher through it for a fence.
   */
  public static final String DOORBELL_CHANNEL = "replicador";

  private final Connection connection;
  private final String where;

  /**
   * @param where the primary's address as messages name it
   */
  public PrimaryStore(Connection connection, String where) {
    this.connection = connection;
    this.where = where;
  }

  /** Creates or upgrades the schema in the caller's transaction (install does this). */
  public void migrate() throws SQLException {
    MIGRATIONS.apply(connection);
  }

  /**
   * Creates the schema when it is missing, in the caller's transaction; leaves an installed one as
   * it is (so a reconnecting publisher takes no lock on the changelog). Origin notify mode needs
   * the changelog and publisher state, not triggers. Returns whether it created it.
   */
  public boolean createIfMissing() throws SQLException {
    if (installed()) {
      return false;
    }
    migrate();
    return true;
  }

  /** Whether any version of the schema is installed. */
  public boolean installed() throws SQLException {
    return MIGRATIONS.present(connection);
  }

  /**
   * Fails with the command that fixes it unless the schema is installed at the version this code
   * reads: an older one is upgraded by {@code install}, a newer one needs a newer Replicador.
   */
  public void requireCurrent() throws SQLException {
    MIGRATIONS.require(connection, where, "run 'replicador install' for the captured tables again");
  }

  /** Fails with the fix unless some version of capture is installed. */
  public void requireInstalled() throws SQLException {
    if (!installed()) {
      throw new ConfigException(
          "Change capture is not installed on " + where + "; run 'replicador install' first");
    }
  }

  public String sourceId() throws SQLException {
    return Statements.first(
            connection, "SELECT source_id FROM replicador.source", rs -> rs.getString(1))
        .orElseThrow(() -> incomplete("source"));
  }

  /** The last position the publisher handed out (0 before the first). */
  public long lastPosition() throws SQLException {
    return Statements.first(
            connection, "SELECT next_position - 1 FROM replicador.publisher", rs -> rs.getLong(1))
        .orElseThrow(() -> incomplete("publisher"));
  }

  private ConfigException incomplete(String row) {
    return new ConfigException(
        "Change capture on "
            + where
            + " is incomplete (no "
            + row
            + " row); run 'replicador install' again");
  }

  /** The captured tables, in order; empty when capture is not installed. */
  public List<TableName> capturedTables() throws SQLException {
    if (!installed()) {
      return List.of();
    }
    return Statements.list(
        connection,
        "SELECT schema_name, table_name FROM replicador.captured_tables ORDER BY 1, 2",
        rs -> TableName.of(rs.getString(1), rs.getString(2)));
  }

  /** Installs the capture triggers of a table (the schema's own function does it). */
  public void capture(TableName table) throws SQLException {
    call("SELECT replicador.capture_table(?, ?)", table);
  }

  /** Removes the capture triggers of a table. */
  public void release(TableName table) throws SQLException {
    call("SELECT replicador.release_table(?, ?)", table);
  }

  private void call(String sql, TableName table) throws SQLException {
    Statements.list(connection, sql, rs -> null, table.schema(), table.name());
  }

  /**
   * Records a schema change in the stream at this point of the caller's transaction (see
   * store/primary/V3__ddl_and_refresh.sql): in the changelog, or as a message in the WAL when the
   * tables are captured from a slot.
   *
   * @param searchPath the search_path the statement ran with, for replicas to run it with
   */
  public void recordDdl(TableName table, String statement, String searchPath) throws SQLException {
    Statements.list(
        connection,
        "SELECT replicador.record_ddl(?, ?, ?, ?)",
        rs -> null,
        table.schema(),
        table.name(),
        statement,
        searchPath);
  }

  /**
   * Re-emits the primary's current version of one row at this point of the stream (see
   * replicador.refresh_row): an insert of the row when it is there, else a delete of its key. The
   * caller locks the table against writers first and commits.
   *
   * @param key the key's values, text forms, aligned with {@code keyColumns}
   * @return true when the row is there (an upsert), false when not (a delete)
   */
  public boolean refreshRow(TableName table, List<String> keyColumns, List<String> key)
      throws SQLException {
    return Statements.first(
            connection,
            "SELECT replicador.refresh_row(?, ?, jsonb_object(?::text[], ?::text[])) = 'I'",
            rs -> rs.getBoolean(1),
            table.schema(),
            table.name(),
            connection.createArrayOf("text", keyColumns.toArray()),
            connection.createArrayOf("text", key.toArray()))
        .orElseThrow();
  }

  /** Whether the changelog holds changes of the table that the publisher has not shipped yet. */
  public boolean hasWaitingChanges(TableName table) throws SQLException {
    return Statements.first(
            connection,
            "SELECT EXISTS (SELECT 1 FROM replicador.changelog WHERE schema_name = ?"
                + " AND table_name = ?)",
            rs -> rs.getBoolean(1),
            table.schema(),
            table.name())
        .orElse(false);
  }

  /** The doorbell's payload that tells the publisher the tables moved to another source. */
  public static final String CAPTURE_CHANGED = "capture-changed";

  /**
   * Tells the active publisher, once the caller commits, that tables moved between the triggers and
   * the slot, so it finishes with the source it reads and starts over with the current one.
   */
  public void announceCaptureChange() throws SQLException {
    Statements.first(
        connection, "SELECT pg_notify(?, ?)", rs -> true, DOORBELL_CHANNEL, CAPTURE_CHANGED);
  }

  /** Drops the whole schema, changelog included. */
  public void drop() throws SQLException {
    try (Statement st = connection.createStatement()) {
      st.execute("DROP SCHEMA replicador CASCADE");
    }
  }

  /** The backlog: changes and transactions waiting, and how old the oldest is. */
  public record Backlog(
      String source, long changes, long transactions, Long ageTransactions, Double ageSeconds) {}

  public Backlog backlog() throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs =
            st.executeQuery(
                """
                SELECT (SELECT source_id FROM replicador.source),
                       b.changes, b.transactions,
                       pg_snapshot_xmax(pg_current_snapshot())::text::int8 - o.txid::text::int8,
                       CASE WHEN current_setting('track_commit_timestamp') = 'on' THEN
                           extract(epoch FROM now() - pg_xact_commit_timestamp(
                               (o.txid::text::int8 % 4294967296)::text::xid))::float8 END
                FROM (SELECT coalesce(sum(CASE WHEN op = 'B' THEN cardinality(new_rows)
                                              ELSE 1 END), 0) AS changes,
                             count(DISTINCT txid) AS transactions
                      FROM replicador.changelog) b
                LEFT JOIN LATERAL (SELECT txid FROM replicador.changelog ORDER BY id LIMIT 1) o
                       ON true
                """)) {
      rs.next();
      long age = rs.getLong(4);
      Long ageTransactions = rs.wasNull() ? null : age;
      double seconds = rs.getDouble(5);
      Double ageSeconds = rs.wasNull() ? null : seconds;
      return new Backlog(
          rs.getString(1), rs.getLong(2), rs.getLong(3), ageTransactions, ageSeconds);
    }
  }

  /** The publisher's state: last position, the batch pending, who is active since when. */
  public record PublisherState(
      long lastPosition, Long pendingFrom, String activeBy, String activeSince) {}

  public PublisherState publisherState() throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT next_position - 1, pending_first, active_by, active_since::text"
                    + " FROM replicador.publisher")) {
      rs.next();
      long pf = rs.getLong(2);
      Long pendingFrom = rs.wasNull() ? null : pf;
      return new PublisherState(rs.getLong(1), pendingFrom, rs.getString(3), rs.getString(4));
    }
  }

  /**
   * Transactions shipped (confirmed by the broker) and captured (shipped or waiting), read in one
   * statement so that they agree: claimed but unconfirmed transactions are not shipped yet.
   */
  public record Progress(long shipped, long captured) {}

  public Progress progress() throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT p.next_position - 1 - coalesce(cardinality(p.pending_txids), 0),"
                    + " (SELECT count(DISTINCT txid) FROM replicador.changelog)"
                    + " - coalesce(cardinality(p.pending_txids), 0)"
                    + " FROM replicador.publisher p")) {
      rs.next();
      long shipped = rs.getLong(1);
      return new Progress(shipped, shipped + rs.getLong(2));
    }
  }

  /** The session holding the publisher lock in this database. */
  public record LockHolder(int pid, String application, String clientAddress, String since) {}

  public Optional<LockHolder> publisherSession() throws SQLException {
    return holders(PUBLISHER_LOCK).stream().findFirst();
  }

  /** The sessions of the publishers waiting as standby. */
  public List<LockHolder> standbySessions() throws SQLException {
    return holders(STANDBY_LOCK);
  }

  private List<LockHolder> holders(long key) throws SQLException {
    return Statements.list(
        connection,
        "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start::text"
            + " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            + " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            + " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            + " AND l.classid = ?::int8::oid AND l.objid = ?::int8::oid ORDER BY a.backend_start",
        rs -> new LockHolder(rs.getInt(1), rs.getString(2), rs.getString(3), rs.getString(4)),
        key >>> 32,
        key & 0xffffffffL);
  }

  /** What verify waits for: the source, a snapshot of the primary and the newest changelog id. */
  public record Horizon(String source, String snapshot, long maxId) {}

  public Horizon horizon() throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT (SELECT source_id FROM replicador.source), pg_current_snapshot()::text,"
                    + " (SELECT coalesce(max(id), 0) FROM replicador.changelog)")) {
      rs.next();
      return new Horizon(rs.getString(1), rs.getString(2), rs.getLong(3));
    }
  }

  /** Whether changes of the horizon's committed transactions still wait in the changelog. */
  public boolean unshipped(Horizon horizon) throws SQLException {
    return Statements.first(
            connection,
            "SELECT EXISTS (SELECT 1 FROM replicador.changelog WHERE id <= ?"
                + " AND pg_visible_in_snapshot(txid, ?::pg_snapshot))",
            rs -> rs.getBoolean(1),
            horizon.maxId(),
            horizon.snapshot())
        .orElse(false);
  }
}
