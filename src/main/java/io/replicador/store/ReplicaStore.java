package io.replicador.store;

import io.replicador.change.PrimarySnapshot;
import io.replicador.change.TableName;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The only code that touches a replica's {@code replicador} schema: the positions each consumer
 * (replica name) applied ({@code applied}), the staged parts of large transactions ({@code
 * staged}), the tables a snapshot copied ({@code snapshot}), and why a listener halted ({@code
 * halted}), and the offset a stream replica read up to ({@code stream_offset}). Its DDL is in the
 * numbered migrations under {@code store/replica}.
 *
 * <p>Statements run in the caller's transaction on the caller's connection, which it does not
 * close; the caller commits. Not thread-safe.
 */
public final class ReplicaStore {
  static final Migrations MIGRATIONS =
      new Migrations(
          "replica",
          "/io/replicador/store/replica",
          List.of(
              "V1__bookkeeping.sql",
              "V2__snapshot_boundary.sql",
              "V3__halted.sql",
              "V4__stream_offset.sql"),
          "replicador.applied");

  private final Connection connection;
  private final String consumer;
  private PreparedStatement stagedBody;

  /**
   * @param consumer the replica name whose bookkeeping this is
   */
  public ReplicaStore(Connection connection, String consumer) {
    this.connection = connection;
    this.consumer = consumer;
  }

  /**
   * Creates or upgrades the bookkeeping to this version's schema, and commits: the listener and
   * snapshot own their replica's schema, so they migrate it themselves. Refuses a schema written by
   * a newer version. Turns autocommit off.
   */
  public static void migrate(Connection connection) throws SQLException {
    connection.setAutoCommit(false);
    MIGRATIONS.migrate(connection);
  }

  /**
   * Which database this is, for binding a replica name to it: the cluster's system identifier and
   * the database's name.
   */
  public static String identity(Connection connection) throws SQLException {
    return Statements.first(
            connection,
            "SELECT system_identifier::text || '/' || current_database() FROM pg_control_system()",
            rs -> rs.getString(1))
        .orElseThrow();
  }

  /** The last applied position per source. */
  public Map<String, Long> positions() throws SQLException {
    Map<String, Long> loaded = new HashMap<>();
    for (Map.Entry<String, Long> e :
        Statements.list(
            connection,
            "SELECT source, position FROM replicador.applied WHERE consumer = ?",
            rs -> Map.entry(rs.getString(1), rs.getLong(2)),
            consumer)) {
      loaded.put(e.getKey(), e.getValue());
    }
    return loaded;
  }

  /** Records the positions applied in the caller's transaction ({@code lastXid}: per source). */
  public void savePositions(Map<String, Long> positions, Map<String, String> lastXid)
      throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "INSERT INTO replicador.applied (consumer, source, position, xid, applied_at)"
                + " VALUES (?, ?, ?, ?, now()) ON CONFLICT (consumer, source) DO UPDATE"
                + " SET position = EXCLUDED.position, xid = EXCLUDED.xid,"
                + " applied_at = EXCLUDED.applied_at")) {
      for (Map.Entry<String, String> e : lastXid.entrySet()) {
        ps.setString(1, consumer);
        ps.setString(2, e.getKey());
        ps.setLong(3, positions.get(e.getKey()));
        ps.setString(4, e.getValue());
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  /** A consumer's applied position of a source and how long ago it was applied. */
  public record Applied(long position, double ageSeconds) {}

  /** What this consumer applied from the source, if anything; empty when no listener ran. */
  public Optional<Applied> applied(String source) throws SQLException {
    if (!bookkept()) {
      return Optional.empty();
    }
    return Statements.first(
        connection,
        "SELECT position, extract(epoch FROM now() - applied_at)::float8"
            + " FROM replicador.applied WHERE consumer = ? AND source = ?",
        rs -> new Applied(rs.getLong(1), rs.getDouble(2)),
        consumer,
        source);
  }

  /** A consumer and the position it applied. */
  public record ConsumerPosition(String consumer, long position) {}

  /**
   * The consumer furthest behind on the source: {@code consumer} itself, or of every consumer of
   * this database when it is null; empty when none applied anything from it.
   */
  public static Optional<ConsumerPosition> furthestBehind(
      Connection connection, String source, String consumer) throws SQLException {
    if (!bookkept(connection)) {
      return Optional.empty();
    }
    return Statements.first(
        connection,
        "SELECT consumer, position FROM replicador.applied WHERE source = ?"
            + " AND (?::text IS NULL OR consumer = ?::text) ORDER BY position, consumer LIMIT 1",
        rs -> new ConsumerPosition(rs.getString(1), rs.getLong(2)),
        source,
        consumer,
        consumer);
  }

  /** Whether any listener or snapshot kept books in this database. */
  public boolean bookkept() throws SQLException {
    return bookkept(connection);
  }

  private static boolean bookkept(Connection connection) throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs = st.executeQuery("SELECT to_regclass('replicador.applied') IS NOT NULL")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }

  // ---- where a stream replica is

  /** The offset of the last message of {@code stream} this consumer processed, or -1. */
  public long streamOffset(String stream) throws SQLException {
    if (!streamOffsetsKept()) {
      return -1;
    }
    return Statements.first(
            connection,
            "SELECT last_offset FROM replicador.stream_offset WHERE consumer = ? AND stream = ?",
            rs -> rs.getLong(1),
            consumer,
            stream)
        .orElse(-1L);
  }

  /** Records, in the caller's transaction, the offset of the last message processed. */
  public void saveStreamOffset(String stream, long offset) throws SQLException {
    Statements.update(
        connection,
        "INSERT INTO replicador.stream_offset (consumer, stream, last_offset) VALUES (?, ?, ?)"
            + " ON CONFLICT (consumer, stream) DO UPDATE SET last_offset = EXCLUDED.last_offset,"
            + " saved_at = now()",
        consumer,
        stream,
        offset);
  }

  /** Every stream offset this consumer saved, by stream (for status). */
  public Map<String, Long> streamOffsets() throws SQLException {
    Map<String, Long> loaded = new HashMap<>();
    if (!bookkept() || !streamOffsetsKept()) {
      return loaded;
    }
    for (Map.Entry<String, Long> e :
        Statements.list(
            connection,
            "SELECT stream, last_offset FROM replicador.stream_offset WHERE consumer = ?",
            rs -> Map.entry(rs.getString(1), rs.getLong(2)),
            consumer)) {
      loaded.put(e.getKey(), e.getValue());
    }
    return loaded;
  }

  private boolean streamOffsetsKept() throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs =
            st.executeQuery("SELECT to_regclass('replicador.stream_offset') IS NOT NULL")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }

  /**
   * Takes the advisory lock that lets one listener at a time read a stream for this consumer (a
   * stream has no single active consumer), for the session of this connection; false when another
   * session holds it.
   */
  public boolean tryListenerLock() throws SQLException {
    return Statements.first(
            connection,
            "SELECT pg_try_advisory_lock(hashtext('replicador.listen'), hashtext(?))",
            rs -> rs.getBoolean(1),
            consumer)
        .orElse(false);
  }

  /**
   * Whether a listener of this consumer holds its lock (see {@link #tryListenerLock}) in another
   * session of this database.
   */
  public boolean listenerRunning() throws SQLException {
    return Statements.first(
            connection,
            "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                + " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                + " AND classid = hashtext('replicador.listen')::oid"
                + " AND objid = hashtext(?)::oid AND objsubid = 2",
            rs -> rs.getBoolean(1),
            consumer)
        .orElse(false);
  }

  // ---- why a listener halted

  /** Records why this consumer's listener stopped applying, replacing an earlier reason. */
  public void recordHalt(String reason) throws SQLException {
    Statements.update(
        connection,
        "INSERT INTO replicador.halted (consumer, reason) VALUES (?, ?) ON CONFLICT (consumer)"
            + " DO UPDATE SET reason = EXCLUDED.reason, halted_at = now()",
        consumer,
        reason);
  }

  /** Forgets that this consumer halted (it applies again). */
  public void clearHalt() throws SQLException {
    Statements.update(connection, "DELETE FROM replicador.halted WHERE consumer = ?", consumer);
  }

  /** Why this consumer's listener halted, when it did and has not applied since. */
  public Optional<String> halted() throws SQLException {
    if (!bookkept() || !haltsKept()) {
      return Optional.empty();
    }
    return Statements.first(
        connection,
        "SELECT reason || ' (since ' || to_char(halted_at AT TIME ZONE 'UTC',"
            + " 'YYYY-MM-DD HH24:MI:SS') || ' UTC)' FROM replicador.halted WHERE consumer = ?",
        rs -> rs.getString(1),
        consumer);
  }

  /** Whether the bookkeeping is recent enough to keep halts (status reads older ones too). */
  private boolean haltsKept() throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs = st.executeQuery("SELECT to_regclass('replicador.halted') IS NOT NULL")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }

  // ---- staged parts of large transactions

  /** Stages a part, once (a part sent twice is kept once). */
  public void stage(String source, long position, int part, byte[] body) throws SQLException {
    Statements.update(
        connection,
        "INSERT INTO replicador.staged (consumer, source, position, part, body)"
            + " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        consumer,
        source,
        position,
        part,
        body);
  }

  /** The parts of a transaction staged so far. */
  public Set<Integer> stagedParts(String source, long position) throws SQLException {
    return new HashSet<>(
        Statements.list(
            connection,
            "SELECT part FROM replicador.staged WHERE consumer = ? AND source = ?"
                + " AND position = ?",
            rs -> rs.getInt(1),
            consumer,
            source,
            position));
  }

  /** A staged part's message body. */
  public byte[] stagedPart(String source, long position, int part) throws SQLException {
    if (stagedBody == null) {
      stagedBody =
          connection.prepareStatement(
              "SELECT body FROM replicador.staged WHERE consumer = ? AND source = ?"
                  + " AND position = ? AND part = ?");
    }
    stagedBody.setString(1, consumer);
    stagedBody.setString(2, source);
    stagedBody.setLong(3, position);
    stagedBody.setInt(4, part);
    try (ResultSet rs = stagedBody.executeQuery()) {
      if (!rs.next()) {
        throw new SQLException("Staged part " + part + " of position " + position + " is gone");
      }
      return rs.getBytes(1);
    }
  }

  public void deleteStaged(String source, long position) throws SQLException {
    Statements.update(
        connection,
        "DELETE FROM replicador.staged WHERE consumer = ? AND source = ? AND position = ?",
        consumer,
        source,
        position);
  }

  // ---- what snapshots copied

  /** Per source, the tables a snapshot copied and the primary snapshot it copied each in. */
  public Map<String, Map<TableName, PrimarySnapshot>> copies() throws SQLException {
    Map<String, Map<TableName, PrimarySnapshot>> loaded = new HashMap<>();
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT source, schema_name, table_name, primary_snapshot FROM replicador.snapshot"
                + " WHERE consumer = ? AND source IS NOT NULL AND primary_snapshot IS NOT NULL")) {
      ps.setString(1, consumer);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          loaded
              .computeIfAbsent(rs.getString(1), k -> new HashMap<>())
              .put(
                  TableName.of(rs.getString(2), rs.getString(3)),
                  PrimarySnapshot.parse(rs.getString(4)));
        }
      }
    }
    return loaded;
  }

  /** The tables a snapshot of this consumer has copied. */
  public Set<TableName> copiedTables() throws SQLException {
    return new HashSet<>(
        Statements.list(
            connection,
            "SELECT schema_name, table_name FROM replicador.snapshot WHERE consumer = ?",
            rs -> TableName.of(rs.getString(1), rs.getString(2)),
            consumer));
  }

  /** Records a table as copied, in the primary snapshot {@code primarySnapshot} of source. */
  public void recordCopy(TableName table, long rows, String source, String primarySnapshot)
      throws SQLException {
    Statements.update(
        connection,
        "INSERT INTO replicador.snapshot (consumer, schema_name, table_name, copied_rows,"
            + " source, primary_snapshot) VALUES (?, ?, ?, ?, ?, ?)"
            + " ON CONFLICT (consumer, schema_name, table_name) DO UPDATE SET"
            + " copied_rows = EXCLUDED.copied_rows, finished_at = now(),"
            + " source = EXCLUDED.source, primary_snapshot = EXCLUDED.primary_snapshot",
        consumer,
        table.schema(),
        table.name(),
        rows,
        source,
        primarySnapshot);
  }

  /** Forgets this consumer: its positions, staged parts and copies. */
  public void forget() throws SQLException {
    for (String table : List.of("replicador.snapshot", "replicador.applied", "replicador.staged")) {
      Statements.update(connection, "DELETE FROM " + table + " WHERE consumer = ?", consumer);
    }
    if (haltsKept()) {
      clearHalt();
    }
    if (streamOffsetsKept()) {
      Statements.update(
          connection, "DELETE FROM replicador.stream_offset WHERE consumer = ?", consumer);
    }
  }

  /**
   * Starts this consumer's stream anew: forgets its copies, staged parts and positions, and records
   * {@code handedOut} of {@code source} as applied (when above 0).
   */
  public void startOver(String source, long handedOut) throws SQLException {
    forget();
    if (handedOut > 0) {
      Statements.update(
          connection,
          "INSERT INTO replicador.applied (consumer, source, position, xid, applied_at)"
              + " VALUES (?, ?, ?, NULL, now())",
          consumer,
          source,
          handedOut);
    }
  }
}
