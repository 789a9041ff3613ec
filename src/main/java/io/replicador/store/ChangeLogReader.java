package io.replicador.store;

import io.replicador.change.Operation;
import io.replicador.change.TableName;
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
 * The publisher's side of the changelog on the primary: claiming committed transactions in a
 * safe order, streaming their rows, and deleting them once shipped. Uses one connection, which it
 * does not close; not thread-safe.
 *
 * <p>Order: transactions are taken in the order of their last changelog id. Two transactions that
 * touch the same row cannot overlap (the second waits for the first's row lock), so the one that
 * commits first has the smaller last id, and it is visible whenever the second one is. Hence
 * every row's changes ship in commit order, and a long transaction that wrote early but commits
 * late is simply shipped when it becomes visible.
 */
public final class ChangeLogReader {
  /**
   * The most inserted rows one changelog row of op 'B' holds (store/primary/V1__capture.sql); a claim counts
   * such a row as this many changes, so a batch never holds more than it claimed.
   */
  public static final int MAX_ROWS_PER_ENTRY = 1000;
  /**
   * Rows whose stored text is larger than this are not read by the batch's query but streamed
   * on their own ({@link LargeRowReader}), so the publisher's memory does not grow with a value.
   */
  static final int LARGE_ROW_BYTES = 1 << 20;
  /** The op of a changelog row holding several rows one statement inserted. */
  private static final String INSERTED_ROWS = "B";

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
   * larger, none of {@code inFlight}), and records what is pending with its positions. The
   * commit waits for the disk only when it claims: a claim must be durable before its messages
   * leave, while a lost deletion just ships those batches again with the same positions.
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
          !shipped.isEmpty() ? Long.valueOf(shipped.get(0).firstPosition())
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
        ps.setArray(4, pending.isEmpty() ? null : connection.createArrayOf("text", pending.toArray()));
        ps.setObject(5, expected, Types.BIGINT);
        ps.setInt(6, txids.size());
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            connection.rollback();
            throw new SQLException(
                "The publisher state no longer shows position " + expected + " as pending;"
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
   * wholly inside a window of ids that starts past what is in flight and covers at least the
   * oldest transaction. One statement.
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
      found.add(
          byTxid.getOrDefault(txid, new Found(txid, 0, 0, Long.MAX_VALUE, Long.MIN_VALUE)));
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
   * Streams the batch's changes, transaction by transaction in claim order, each in id order and,
   * within a changelog row of several inserted rows (op 'B'), in array order.
   *
   * <p>One ordered scan of the primary key over the id range the batch spans: rows of other
   * transactions in that range are skipped, and rows of a transaction that comes later in claim
   * order than the one being streamed are held until it is its turn (concurrent transactions
   * interleave their ids; a batch holds at most its claimed changes, and a larger transaction is
   * claimed alone, so it always streams straight through). The server unnests op 'B' rows, so
   * the fetch size bounds what is in memory, however many rows a statement inserted.
   */
  public void read(ClaimedBatch batch, RowSink sink) throws Exception {
    try {
      Map<String, Integer> order = new HashMap<>();
      for (String txid : batch.txids()) {
        order.put(txid, order.size());
      }
      InClaimOrder stream = new InClaimOrder(batch.rows(), sink);
      try (Statement st = connection.createStatement()) {
        st.execute(WALK_IN_ID_ORDER);
      }
      try (PreparedStatement ps =
          connection.prepareStatement(
              // what describes a changelog row comes with its first inserted row only
              "SELECT c.id, b.n,"
                  // a large row's text is streamed by LargeRowReader instead (octet_length of a
                  // stored value reads its size, not the value)
                  + " CASE WHEN octet_length(coalesce(b.row, c.new_row)) <= ?"
                  + "   THEN coalesce(b.row, c.new_row) END,"
                  + " CASE WHEN octet_length(c.old_row) <= ? THEN c.old_row END"
                  + first("c.txid::text") + first("c.relid::int8") + first("c.schema_name")
                  + first("c.table_name") + first("c.op::text")
                  + ", octet_length(coalesce(b.row, c.new_row)) > ?, octet_length(c.old_row) > ?"
                  + " FROM replicador.changelog c"
                  + " LEFT JOIN LATERAL unnest(c.new_rows) WITH ORDINALITY AS b(row, n) ON true"
                  + " WHERE c.id BETWEEN ? AND ? ORDER BY c.id")) {
        ps.setInt(1, LARGE_ROW_BYTES);
        ps.setInt(2, LARGE_ROW_BYTES);
        ps.setInt(3, LARGE_ROW_BYTES);
        ps.setInt(4, LARGE_ROW_BYTES);
        ps.setLong(5, batch.lowId());
        ps.setLong(6, batch.highId());
        ps.setFetchSize(1000);
        try (ResultSet rs = ps.executeQuery()) {
          try (Statement st = connection.createStatement()) {
            st.execute(PLAN_AS_BEFORE); // planned now; the sink's own queries plan as usual
          }
          long entry = Long.MIN_VALUE; // the changelog row being read
          int entryTx = -1; // its transaction's place in the batch; -1: not streamed
          long element = 0;
          String txid = null;
          long relid = 0;
          TableName table = null;
          Operation op = null;
          while (rs.next()) {
            long id = rs.getLong(1);
            if (id != entry) {
              if (entryTx >= 0) {
                stream.entryDone(entryTx);
              }
              txid = rs.getString(5);
              if (txid == null) {
                throw new IllegalStateException(
                    "Inserted rows of changelog row " + id + " arrived out of order (the first was "
                        + rs.getLong(2) + ")");
              }
              Integer tx = order.get(txid);
              entry = id;
              entryTx = tx != null && stream.wanted(tx) ? tx : -1;
              element = 0;
              if (entryTx >= 0) {
                relid = rs.getLong(6);
                table = TableName.of(rs.getString(7), rs.getString(8));
                String code = rs.getString(9);
                op =
                    code.equals(INSERTED_ROWS)
                        ? Operation.INSERT
                        : Operation.fromCode(code.charAt(0));
              }
            }
            if (entryTx < 0) {
              continue; // another transaction's row in the range
            }
            long n = rs.getLong(2);
            boolean inArray = !rs.wasNull();
            if (inArray && n != ++element) {
              throw new IllegalStateException(
                  "Inserted rows of changelog row " + id + " arrived out of order (" + n
                      + " after " + (element - 1) + ")");
            }
            String newRow = rs.getString(3);
            String oldRow = rs.getString(4);
            stream.row(
                entryTx,
                new ChangeLogRow(
                    txid, relid, table, op, newRow, oldRow, id, inArray ? n : 0,
                    rs.getBoolean(10), rs.getBoolean(11)));
          }
          if (entryTx >= 0) {
            stream.entryDone(entryTx);
          }
        }
      }
      int unfinished = stream.unfinished();
      if (unfinished >= 0) {
        throw new IllegalStateException(
            "Rows of transaction " + batch.txids().get(unfinished) + " (position "
                + (batch.firstPosition() + unfinished) + ") changed while they were read; the"
                + " changelog was changed by something other than the publisher");
      }
    } finally {
      endTransaction();
    }
  }

  /**
   * For planning the read alone: the changelog's primary key walked in order, nothing sorted. A
   * sort would come after a scan in physical order (not id order once vacuum reuses space), and a
   * sort larger than work_mem does not keep the order of equal ids: the rows of one changelog row
   * would come out of order, which {@link #read} refuses, and the publisher would stop on the same
   * batch after each restart. Set explicitly, whatever the database's own settings are.
   */
  private static final String WALK_IN_ID_ORDER =
      "SET LOCAL enable_sort = off; SET LOCAL enable_indexscan = on;"
          + " SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off";

  /**
   * Back to the session's settings once the read is planned. The sink looks up tables in the
   * same transaction, and planned under the settings above those lookups took 80 to 130 ms each
   * (lag p99 at 1,000 inserts/s rose from 18 to 93 ms).
   */
  private static final String PLAN_AS_BEFORE =
      "SET LOCAL enable_sort TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT;"
          + " SET LOCAL enable_bitmapscan TO DEFAULT; SET LOCAL enable_seqscan TO DEFAULT";

  /** A column of the changelog row on its first result row only (null on the rest). */
  private static String first(String column) {
    return ", CASE WHEN coalesce(b.n, 1) = 1 THEN " + column + " END";
  }

  /**
   * Passes a batch's rows on in claim order: those of the transaction being streamed at once,
   * those of later ones when their turn comes.
   */
  private static final class InClaimOrder {
    private final long[] remaining; // changelog rows not yet read, per transaction
    private final List<List<ChangeLogRow>> held = new ArrayList<>();
    private final RowSink sink;
    private int head; // the transaction being streamed

    InClaimOrder(List<Long> rows, RowSink sink) throws Exception {
      this.remaining = rows.stream().mapToLong(Long::longValue).toArray();
      this.sink = sink;
      for (int i = 0; i < remaining.length; i++) {
        held.add(new ArrayList<>());
      }
      advance(); // claimed transactions without rows have nothing to stream
    }

    /** Whether rows of this transaction are still to come (not: already streamed). */
    boolean wanted(int tx) {
      return tx >= head;
    }

    void row(int tx, ChangeLogRow row) throws Exception {
      if (tx == head) {
        sink.accept(row);
      } else {
        held.get(tx).add(row);
      }
    }

    /** Every row of one changelog row of the transaction has been passed to {@link #row}. */
    void entryDone(int tx) throws Exception {
      remaining[tx]--;
      advance();
    }

    /** The first transaction not wholly read, or -1. */
    int unfinished() {
      return head < remaining.length ? head : -1;
    }

    private void advance() throws Exception {
      while (head < remaining.length && remaining[head] == 0) {
        head++;
        if (head < remaining.length) {
          for (ChangeLogRow h : held.get(head)) {
            sink.accept(h);
          }
          held.get(head).clear();
        }
      }
    }
  }

  /**
   * Arms or disarms the doorbell (see store/primary/V1__capture.sql). Takes effect at once, for the writers'
   * statements that follow: setval is not transactional.
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
