package io.replicador.publish;

import io.replicador.change.Operation;
import io.replicador.change.TableName;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

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
  /** Publisher advisory lock: whoever holds it is the active publisher. */
  public static final long PUBLISHER_LOCK = 0x5245504c5055L;

  private final Connection connection;
  private final int windowRows;

  public ChangeLogReader(Connection connection, int windowRows) {
    this.connection = connection;
    this.windowRows = windowRows;
  }

  public String sourceId() throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs = st.executeQuery("SELECT source_id FROM replicador.source")) {
      if (!rs.next()) {
        throw new SQLException("replicador.source is empty; run 'replicador install' again");
      }
      return rs.getString(1);
    } finally {
      endTransaction();
    }
  }

  /** Takes the publisher lock if free. Session-level: it is held until the connection closes. */
  public boolean tryLock(String who) throws SQLException {
    boolean locked;
    try (PreparedStatement ps = connection.prepareStatement("SELECT pg_try_advisory_lock(?)")) {
      ps.setLong(1, PUBLISHER_LOCK);
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
      return Optional.of(new ClaimedBatch(rs.getLong(1), strings(rs.getArray(2))));
    } finally {
      endTransaction();
    }
  }

  /**
   * Claims the next committed transactions, at most {@code maxRows} changes in all unless the
   * first transaction alone is larger, and records the claim with its positions.
   */
  public Optional<ClaimedBatch> claim(int maxRows, int maxTransactions) throws SQLException {
    try {
      long minId;
      String firstTxid;
      try (Statement st = connection.createStatement();
          ResultSet rs =
              st.executeQuery(
                  "SELECT id, txid::text FROM replicador.changelog ORDER BY id LIMIT 1")) {
        if (!rs.next()) {
          return Optional.empty();
        }
        minId = rs.getLong(1);
        firstTxid = rs.getString(2);
      }
      long cutoff = minId + windowRows;
      try (PreparedStatement ps =
          connection.prepareStatement(
              "SELECT max(id) FROM replicador.changelog WHERE txid = ?::xid8")) {
        ps.setString(1, firstTxid);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          cutoff = Math.max(cutoff, rs.getLong(1));
        }
      }
      // Only transactions wholly inside the window: a transaction's last id decides its order.
      List<String> txids = new ArrayList<>();
      try (PreparedStatement ps =
          connection.prepareStatement(
              "SELECT c.txid::text, count(*) FROM replicador.changelog c WHERE c.id <= ?"
                  + " GROUP BY c.txid HAVING NOT EXISTS (SELECT 1 FROM replicador.changelog c2"
                  + " WHERE c2.txid = c.txid AND c2.id > ?) ORDER BY max(c.id) LIMIT ?")) {
        ps.setLong(1, cutoff);
        ps.setLong(2, cutoff);
        ps.setInt(3, maxTransactions);
        try (ResultSet rs = ps.executeQuery()) {
          long rows = 0;
          while (rs.next()) {
            long n = rs.getLong(2);
            if (!txids.isEmpty() && rows + n > maxRows) {
              break;
            }
            txids.add(rs.getString(1));
            rows += n;
          }
        }
      }
      if (txids.isEmpty()) {
        return Optional.empty();
      }
      try (PreparedStatement ps =
          connection.prepareStatement(
              "UPDATE replicador.publisher SET pending_first = next_position,"
                  + " pending_txids = ?::text[]::xid8[], next_position = next_position + ?"
                  + " RETURNING pending_first")) {
        ps.setArray(1, connection.createArrayOf("text", txids.toArray()));
        ps.setInt(2, txids.size());
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          long first = rs.getLong(1);
          connection.commit();
          return Optional.of(new ClaimedBatch(first, txids));
        }
      }
    } finally {
      endTransaction();
    }
  }

  /** Streams the batch's rows, transaction by transaction in claim order, each in id order. */
  public void read(ClaimedBatch batch, RowSink sink) throws Exception {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT c.txid::text, c.relid::int8, c.schema_name, c.table_name, c.op::text,"
                + " c.new_row, c.old_row"
                + " FROM unnest(?::text[]::xid8[]) WITH ORDINALITY AS t(txid, ord)"
                + " JOIN replicador.changelog c ON c.txid = t.txid ORDER BY t.ord, c.id")) {
      ps.setArray(1, connection.createArrayOf("text", batch.txids().toArray()));
      ps.setFetchSize(1000);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          sink.accept(
              new ChangeLogRow(
                  rs.getString(1),
                  rs.getLong(2),
                  TableName.of(rs.getString(3), rs.getString(4)),
                  Operation.fromCode(rs.getString(5).charAt(0)),
                  rs.getString(6),
                  rs.getString(7)));
        }
      }
    } finally {
      endTransaction();
    }
  }

  /** Deletes the batch's rows and clears the claim, in one transaction. */
  public long finish(ClaimedBatch batch) throws SQLException {
    try {
      long deleted;
      try (PreparedStatement ps =
          connection.prepareStatement(
              "DELETE FROM replicador.changelog WHERE txid = ANY (?::text[]::xid8[])")) {
        ps.setArray(1, connection.createArrayOf("text", batch.txids().toArray()));
        deleted = ps.executeUpdate();
      }
      try (PreparedStatement ps =
          connection.prepareStatement(
              "UPDATE replicador.publisher SET pending_first = NULL, pending_txids = NULL"
                  + " WHERE pending_first = ?")) {
        ps.setLong(1, batch.firstPosition());
        if (ps.executeUpdate() != 1) {
          connection.rollback();
          throw new SQLException(
              "The claimed batch at position " + batch.firstPosition()
                  + " is no longer pending; another publisher took over");
        }
      }
      connection.commit();
      return deleted;
    } finally {
      endTransaction();
    }
  }

  /** Arms or disarms the doorbell (see capture-v1.sql). */
  public void armDoorbell(boolean armed) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement("UPDATE replicador.doorbell SET armed = ?")) {
      ps.setBoolean(1, armed);
      ps.executeUpdate();
      connection.commit();
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
