package io.replicador.store;

import io.replicador.change.Operation;
import io.replicador.change.TableName;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a claimed batch's rows from the changelog in the order they ship, in the caller's
 * transaction on the publisher's connection. Not thread-safe.
 */
final class ChangeLogStream {
  /**
   * Rows whose stored text is larger than this are not read by the batch's query but streamed on
   * their own ({@link LargeRowReader}), so the publisher's memory does not grow with a value.
   */
  static final int LARGE_ROW_BYTES = 1 << 20;

  /** The op of a changelog row holding several rows one statement inserted. */
  private static final String INSERTED_ROWS = "B";

  private final Connection connection;

  ChangeLogStream(Connection connection) {
    this.connection = connection;
  }

  /**
   * Streams the batch's changes, transaction by transaction in claim order, each in id order and,
   * within a changelog row of several inserted rows (op 'B'), in array order.
   *
   * <p>One ordered scan of the primary key over the id range the batch spans: rows of other
   * transactions in that range are skipped, and rows of a transaction that comes later in claim
   * order than the one being streamed are held until it is its turn (concurrent transactions
   * interleave their ids; a batch holds at most its claimed changes, and a larger transaction is
   * claimed alone, so it always streams straight through). The server unnests op 'B' rows, so the
   * fetch size bounds what is in memory, however many rows a statement inserted.
   */
  void read(ClaimedBatch batch, ChangeLogReader.RowSink sink) throws Exception {
    {
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
                  + first("c.txid::text")
                  + first("c.relid::int8")
                  + first("c.schema_name")
                  + first("c.table_name")
                  + first("c.op::text")
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
                    "Inserted rows of changelog row "
                        + id
                        + " arrived out of order (the first was "
                        + rs.getLong(2)
                        + ")");
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
                  "Inserted rows of changelog row "
                      + id
                      + " arrived out of order ("
                      + n
                      + " after "
                      + (element - 1)
                      + ")");
            }
            String newRow = rs.getString(3);
            String oldRow = rs.getString(4);
            stream.row(
                entryTx,
                new ChangeLogRow(
                    txid,
                    relid,
                    table,
                    op,
                    newRow,
                    oldRow,
                    id,
                    inArray ? n : 0,
                    rs.getBoolean(10),
                    rs.getBoolean(11)));
          }
          if (entryTx >= 0) {
            stream.entryDone(entryTx);
          }
        }
      }
      int unfinished = stream.unfinished();
      if (unfinished >= 0) {
        throw new IllegalStateException(
            "Rows of transaction "
                + batch.txids().get(unfinished)
                + " (position "
                + (batch.firstPosition() + unfinished)
                + ") changed while they were read; the"
                + " changelog was changed by something other than the publisher");
      }
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
   * Back to the session's settings once the read is planned. The sink looks up tables in the same
   * transaction, and planned under the settings above those lookups were slow enough to show in the
   * lag (docs/performance.md).
   */
  private static final String PLAN_AS_BEFORE =
      "SET LOCAL enable_sort TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT;"
          + " SET LOCAL enable_bitmapscan TO DEFAULT; SET LOCAL enable_seqscan TO DEFAULT";

  /** A column of the changelog row on its first result row only (null on the rest). */
  private static String first(String column) {
    return ", CASE WHEN coalesce(b.n, 1) = 1 THEN " + column + " END";
  }

  /**
   * Passes a batch's rows on in claim order: those of the transaction being streamed at once, those
   * of later ones when their turn comes.
   */
  private static final class InClaimOrder {
    private final long[] remaining; // changelog rows not yet read, per transaction
    private final List<List<ChangeLogRow>> held = new ArrayList<>();
    private final ChangeLogReader.RowSink sink;
    private int head; // the transaction being streamed

    InClaimOrder(List<Long> rows, ChangeLogReader.RowSink sink) throws Exception {
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
}
