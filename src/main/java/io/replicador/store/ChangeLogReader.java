package io.replicador.store;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The publisher's side of the changelog on the primary: claiming committed transactions in a safe
 * order, streaming their rows, and deleting them once shipped. Uses one connection, which it does
 * not close; not thread-safe.
 *
 * <p>Order: transactions are taken in the order of their last changelog id. Two transactions that
 * touch the same row cannot overlap (the second waits for the first's row lock), so the one that
 * commits first has the smaller last id, and it is visible whenever the second one is. Hence every
 * row's changes ship in commit order, and a long transaction that wrote early but commits late is
 * simply shipped when it becomes visible.
 */
public final class ChangeLogReader {
  /**
   * The most inserted rows one changelog row of op 'B' holds (store/primary/V1__capture.sql); a
   * claim counts such a row as this many changes, so a batch never holds more than it claimed.
   */
  public static final int MAX_ROWS_PER_ENTRY = 1000;

  private final Connection connection;
  private final int windowRows;
  private long shippedRows;

  /** The highest changelog id claimed by this reader. */
  private long claimedThrough;

  public ChangeLogReader(Connection connection, int windowRows) {
    this.connection = connection;
    this.windowRows = windowRows;
  }

  /** Takes the publisher lock if free. Session-level: it is held until the connection closes. */
  public boolean tryLock(String who) throws SQLException {
    boolean locked;
    try (PreparedStatement ps = connection.prepareStatement("SELECT pg_try_advisory_lock(?)")) {
      ps.setLong(1, PrimaryStore.PUBLISHER_LOCK);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        locked = rs.getBoolean(1);
      }
    }
    if (locked) {
      try (PreparedStatement ps =
          connection.prepareStatement(
              "UPDATE replicador.publisher SET active_since = now(), active_by = ?")) {
        ps.setString(1, who);
        ps.executeUpdate();
      }
    }
    endTransaction();
    return locked;
  }

  /**
   * Marks this session as a standby publisher (for status) or no longer one. Session-level; goes
   * with the connection.
   */
  public void standingBy(boolean standby) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            standby
                ? "SELECT pg_advisory_lock_shared(?)"
                : "SELECT pg_advisory_unlock_shared(?)")) {
      ps.setLong(1, PrimaryStore.STANDBY_LOCK);
      ps.executeQuery().close();
    }
    endTransaction();
  }

  /** Who holds the publisher lock according to the state table, for the standby's log line. */
  public String activePublisher() throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs =
            st.executeQuery("SELECT coalesce(active_by, '?') FROM replicador.publisher")) {
      return rs.next() ? rs.getString(1) : "?";
    } finally {
      endTransaction();
    }
  }

  /** The batch a previous publisher claimed but did not finish, if any. */
  public Optional<ClaimedBatch> pending() throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT pending_first, pending_txids::text[] FROM replicador.publisher"
                    + " WHERE pending_first IS NOT NULL")) {
      if (!rs.next()) {
        return Optional.empty();
      }
      return Optional.of(shape(rs.getLong(1), strings(rs.getArray(2))));
    } finally {
      endTransaction();
    }
  }

  /**
   * In one transaction: deletes the rows of {@code shipped} batches, claims the next committed
   * transactions (at most {@code maxRows} changes in all unless the first transaction alone is
   * larger, none of {@code inFlight}), and records what is pending with its positions. The commit
   * waits for the disk only when it claims: a claim must be durable before its messages leave,
   * while a lost deletion just ships those batches again with the same positions.
   *
   * @param shipped batches the broker confirmed, oldest first
   * @param inFlight batches published but not yet confirmed, oldest first
   */
  public Optional<ClaimedBatch> claim(
      int maxRows, int maxTransactions, List<ClaimedBatch> shipped, List<ClaimedBatch> inFlight)
      throws SQLException {
    try {
      long deleted = delete(shipped);
      List<Found> found =
          maxTransactions > 0 ? next(maxRows, maxTransactions, inFlight) : List.of();
      List<String> txids = found.stream().map(Found::txid).toList();
      if (txids.isEmpty() && shipped.isEmpty()) {
        return Optional.empty();
      }
      List<String> pending = new ArrayList<>();
      inFlight.forEach(b -> pending.addAll(b.txids()));
      pending.addAll(txids);
      Long expected =
          !shipped.isEmpty()
              ? Long.valueOf(shipped.get(0).firstPosition())
              : !inFlight.isEmpty() ? Long.valueOf(inFlight.get(0).firstPosition()) : null;
      try (PreparedStatement ps =
          connection.prepareStatement(
              "UPDATE replicador.publisher SET next_position = next_position + ?,"
                  + " pending_first = CASE WHEN ? THEN coalesce(?, next_position) END,"
                  + " pending_txids = ?::text[]::xid8[]"
                  + " WHERE pending_first IS NOT DISTINCT FROM ? RETURNING next_position - ?")) {
        ps.setInt(1, txids.size());
        ps.setBoolean(2, !pending.isEmpty());
        ps.setObject(3, inFlight.isEmpty() ? null : inFlight.get(0).firstPosition(), Types.BIGINT);
        ps.setArray(
            4, pending.isEmpty() ? null : connection.createArrayOf("text", pending.toArray()));
        ps.setObject(5, expected, Types.BIGINT);
        ps.setInt(6, txids.size());
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            connection.rollback();
            throw new SQLException(
                "The publisher state no longer shows position "
                    + expected
                    + " as pending;"
                    + " another publisher took over");
          }
          if (txids.isEmpty()) {
            try (Statement st = connection.createStatement()) {
              st.execute("SET LOCAL synchronous_commit = off");
            }
            connection.commit();
            shippedRows += deleted;
            return Optional.empty();
          }
          long first = rs.getLong(1);
          connection.commit();
          shippedRows += deleted;
          return Optional.of(batch(first, found));
        }
      }
    } finally {
      endTransaction();
    }
  }

  /** Rows deleted after shipping so far; the publisher vacuums after many. */
  public long shippedRows() {
    return shippedRows;
  }

  private long delete(List<ClaimedBatch> shipped) throws SQLException {
    if (shipped.isEmpty()) {
      return 0;
    }
    List<String> txids = new ArrayList<>();
    long low = Long.MAX_VALUE;
    long high = Long.MIN_VALUE;
    for (ClaimedBatch b : shipped) {
      txids.addAll(b.txids());
      low = Math.min(low, b.lowId());
      high = Math.max(high, b.highId());
    }
    if (low > high) {
      return 0; // claimed transactions without rows
    }
    // The id range walks the primary key over the batches' rows alone; by txid only, the
    // planner cannot tell how many rows match and reads the whole table.
    try (PreparedStatement ps =
        connection.prepareStatement(
            "DELETE FROM replicador.changelog WHERE id BETWEEN ? AND ?"
                + " AND txid = ANY (?::text[]::xid8[])")) {
      ps.setLong(1, low);
      ps.setLong(2, high);
      ps.setArray(3, connection.createArrayOf("text", txids.toArray()));
      return ps.executeUpdate();
    }
  }

  /**
   * What the claim found of one transaction: its changelog rows, at most how many changes they
   * hold, and their id range.
   */
  private record Found(String txid, long rows, long changes, long lowId, long highId) {}

  /**
   * The committed transactions to claim next, in order of their last changelog id: only those
   * wholly inside a window of ids that starts past what is in flight and covers at least the oldest
   * transaction. One statement.
   */
  private List<Found> next(int maxRows, int maxTransactions, List<ClaimedBatch> inFlight)
      throws SQLException {
    Set<String> exclude = new HashSet<>();
    inFlight.forEach(b -> exclude.addAll(b.txids()));
    List<Found> found = new ArrayList<>();
    try (PreparedStatement ps =
        connection.prepareStatement(
            "WITH oldest AS (SELECT id, txid FROM replicador.changelog ORDER BY id LIMIT 1),"
                + " bounds AS (SELECT greatest(greatest((SELECT id FROM oldest), ?) + ?,"
                + "   (SELECT max(c.id) FROM replicador.changelog c"
                + "    WHERE c.txid = (SELECT txid FROM oldest))) AS cutoff)"
                + " SELECT c.txid::text, count(*), min(c.id), max(c.id),"
                + "   sum(CASE WHEN c.op = 'B' THEN ? ELSE 1 END)"
                + " FROM replicador.changelog c"
                + " WHERE c.id >= (SELECT id FROM oldest) AND c.id <= (SELECT cutoff FROM bounds)"
                + " GROUP BY c.txid HAVING NOT EXISTS (SELECT 1 FROM replicador.changelog c2"
                + "   WHERE c2.txid = c.txid AND c2.id > (SELECT cutoff FROM bounds))"
                + " ORDER BY max(c.id) LIMIT ?")) {
      ps.setLong(1, claimedThrough);
      ps.setLong(2, windowRows);
      ps.setInt(3, MAX_ROWS_PER_ENTRY);
      ps.setInt(4, maxTransactions + exclude.size());
      try (ResultSet rs = ps.executeQuery()) {
        long claimed = 0;
        while (rs.next() && found.size() < maxTransactions) {
          if (exclude.contains(rs.getString(1))) {
            continue;
          }
          long changes = rs.getLong(5);
          if (!found.isEmpty() && claimed + changes > maxRows) {
            break;
          }
          found.add(
              new Found(rs.getString(1), rs.getLong(2), changes, rs.getLong(3), rs.getLong(4)));
          claimed += changes;
          claimedThrough = Math.max(claimedThrough, rs.getLong(4));
        }
      }
    }
    return found;
  }

  /** The rows and id range of each of these transactions, for a batch claimed earlier. */
  private ClaimedBatch shape(long firstPosition, List<String> txids) throws SQLException {
    Map<String, Found> byTxid = new HashMap<>();
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT txid::text, count(*), min(id), max(id) FROM replicador.changelog"
                + " WHERE txid = ANY (?::text[]::xid8[]) GROUP BY txid")) {
      ps.setArray(1, connection.createArrayOf("text", txids.toArray()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          byTxid.put(
              rs.getString(1),
              new Found(rs.getString(1), rs.getLong(2), 0, rs.getLong(3), rs.getLong(4)));
        }
      }
    }
    List<Found> found = new ArrayList<>();
    for (String txid : txids) {
      found.add(byTxid.getOrDefault(txid, new Found(txid, 0, 0, Long.MAX_VALUE, Long.MIN_VALUE)));
    }
    return batch(firstPosition, found);
  }

  private static ClaimedBatch batch(long firstPosition, List<Found> found) {
    List<String> txids = new ArrayList<>();
    List<Long> rows = new ArrayList<>();
    long low = Long.MAX_VALUE;
    long high = Long.MIN_VALUE;
    for (Found f : found) {
      txids.add(f.txid());
      rows.add(f.rows());
      low = Math.min(low, f.lowId());
      high = Math.max(high, f.highId());
    }
    return new ClaimedBatch(firstPosition, txids, rows, low, high);
  }

  /**
   * Streams the batch's changes, transaction by transaction in claim order (see {@link
   * ChangeLogStream}), and ends the transaction.
   */
  public void read(ClaimedBatch batch, RowSink sink) throws Exception {
    try {
      new ChangeLogStream(connection).read(batch, sink);
    } finally {
      endTransaction();
    }
  }

  /**
   * Arms or disarms the doorbell (see store/primary/V1__capture.sql). Takes effect at once, for the
   * writers' statements that follow: setval is not transactional.
   */
  public void armDoorbell(boolean armed) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement("SELECT setval('replicador.bell', ?)")) {
      ps.setInt(1, armed ? 1 : 0);
      ps.executeQuery().close();
    } finally {
      endTransaction();
    }
  }

  /** Reclaims the space of shipped rows now rather than when autovacuum gets to it. */
  public void vacuum() throws SQLException {
    connection.setAutoCommit(true);
    try (Statement st = connection.createStatement()) {
      st.execute("VACUUM replicador.changelog");
    } finally {
      connection.setAutoCommit(false);
    }
  }

  /** Ends the current transaction so no snapshot is held while idle (LISTEN needs none). */
  private void endTransaction() throws SQLException {
    if (!connection.getAutoCommit()) {
      connection.commit();
    }
  }

  private static List<String> strings(Array array) throws SQLException {
    List<String> out = new ArrayList<>();
    for (Object o : (Object[]) array.getArray()) {
      out.add((String) o);
    }
    return out;
  }

  /** Receives rows as they stream in. */
  @FunctionalInterface
  public interface RowSink {
    void accept(ChangeLogRow row) throws Exception;
  }
}
