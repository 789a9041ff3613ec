package io.replicador.verify;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Compares one table. The primary's keys cut the table into ranges of about {@code chunkRows} rows
 * (one ordered pass); both databases compute each range's row count and hash themselves, at the
 * same time; a range that differs is halved at the median key of the side with more rows in it,
 * until a range is small enough to fetch its keys and row hashes from both sides and compare them
 * by key. Only counts, hashes and the keys of small differing ranges cross the network.
 *
 * <p>Memory holds the range boundaries (about rows / chunkRows keys), one leaf range of rows and
 * the differences found. Uses the caller's connections; the executor runs the replica's half of
 * each query. Not thread-safe.
 */
final class TableVerifier {
  static final int LEAF_ROWS = 1000;

  private final Connection primary;
  private final Connection replica;
  private final ExecutorService replicaSide;
  private final VerifyQueries sql;
  private final int maxRows;

  TableVerifier(
      Connection primary,
      Connection replica,
      ExecutorService replicaSide,
      VerifyQueries sql,
      int maxRows) {
    this.primary = primary;
    this.replica = replica;
    this.replicaSide = replicaSide;
    this.sql = sql;
    this.maxRows = maxRows;
  }

  private record Summary(long rows, String hash) {}

  private record Pending(KeyRange range, Summary primary, Summary replica) {}

  TableResult verify(long chunkRows) throws SQLException, InterruptedException {
    List<KeyRange> ranges = KeyRange.between(boundaries(chunkRows));
    List<Difference> found = new ArrayList<>();
    boolean more = false;
    long primaryRows = 0;
    long replicaRows = 0;
    for (KeyRange range : ranges) {
      Summary[] s = summarize(range);
      primaryRows += s[0].rows();
      replicaRows += s[1].rows();
      if (s[0].equals(s[1])) {
        continue;
      }
      if (found.size() >= maxRows) {
        more = true;
        continue; // keep counting rows; the list is full
      }
      more |= drill(new Pending(range, s[0], s[1]), found);
    }
    return new TableResult(sql.table(), primaryRows, replicaRows, found, more);
  }

  /** Narrows a differing range down to rows; true when it stopped with differences left. */
  private boolean drill(Pending start, List<Difference> found)
      throws SQLException, InterruptedException {
    Deque<Pending> stack = new ArrayDeque<>();
    stack.push(start);
    while (!stack.isEmpty()) {
      if (found.size() >= maxRows) {
        return true;
      }
      Pending p = stack.pop();
      long larger = Math.max(p.primary().rows(), p.replica().rows());
      if (larger <= LEAF_ROWS) {
        List<Difference> leaf = compareRows(p.range());
        int room = maxRows - found.size();
        found.addAll(leaf.subList(0, Math.min(room, leaf.size())));
        if (leaf.size() > room) {
          return true;
        }
        continue;
      }
      boolean primaryLarger = p.primary().rows() >= p.replica().rows();
      List<String> middle = keyAtOffset(primaryLarger ? primary : replica, p.range(), larger / 2);
      List<KeyRange> halves = p.range().splitAt(middle);
      List<Pending> differing = new ArrayList<>();
      for (KeyRange half : halves) {
        Summary[] s = summarize(half);
        if (!s[0].equals(s[1])) {
          differing.add(new Pending(half, s[0], s[1]));
        }
      }
      for (int i = differing.size() - 1; i >= 0; i--) {
        stack.push(differing.get(i)); // lower half first
      }
    }
    return false;
  }

  private List<List<String>> boundaries(long chunkRows) throws SQLException {
    List<List<String>> out = new ArrayList<>();
    try (PreparedStatement ps = primary.prepareStatement(sql.boundaries())) {
      ps.setLong(1, chunkRows);
      ps.setFetchSize(1000);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(keyOf(rs));
        }
      }
    }
    return out;
  }

  /** Row count and hash of a range on both sides, computed at the same time. */
  private Summary[] summarize(KeyRange range) throws SQLException, InterruptedException {
    String query = sql.rangeSummary(range);
    Future<Summary> other = replicaSide.submit(() -> summary(replica, query, range));
    Summary mine = summary(primary, query, range);
    return new Summary[] {mine, await(other)};
  }

  private static Summary summary(Connection c, String query, KeyRange range) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(query)) {
      bind(ps, VerifyQueries.bounds(range), 1);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return new Summary(rs.getLong(1), rs.getString(2));
      }
    }
  }

  private List<String> keyAtOffset(Connection c, KeyRange range, long offset) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql.keyAtOffset(range))) {
      List<String> bounds = VerifyQueries.bounds(range);
      bind(ps, bounds, 1);
      ps.setLong(bounds.size() + 1, offset);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new SQLException(
              "Rows of "
                  + sql.table()
                  + " changed while verify ran; run it"
                  + " again with the replica caught up (--wait-caught-up)");
        }
        return keyOf(rs);
      }
    }
  }

  private List<Difference> compareRows(KeyRange range) throws SQLException, InterruptedException {
    String query = sql.rows(range);
    Future<Map<List<String>, String>> other = replicaSide.submit(() -> rows(replica, query, range));
    Map<List<String>, String> mine = rows(primary, query, range);
    return RowDiff.compare(sql.key(), mine, await(other));
  }

  private Map<List<String>, String> rows(Connection c, String query, KeyRange range)
      throws SQLException {
    Map<List<String>, String> out = new LinkedHashMap<>();
    try (PreparedStatement ps = c.prepareStatement(query)) {
      bind(ps, VerifyQueries.bounds(range), 1);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(keyOf(rs), rs.getString(sql.key().size() + 1));
        }
      }
    }
    return out;
  }

  private List<String> keyOf(ResultSet rs) throws SQLException {
    List<String> key = new ArrayList<>(sql.key().size());
    for (int i = 1; i <= sql.key().size(); i++) {
      key.add(rs.getString(i));
    }
    return key;
  }

  /** Values go as untyped text; the query casts each to its key column's type. */
  private static void bind(PreparedStatement ps, List<String> values, int first)
      throws SQLException {
    for (int i = 0; i < values.size(); i++) {
      ps.setString(first + i, values.get(i));
    }
  }

  private static <T> T await(Future<T> f) throws SQLException, InterruptedException {
    try {
      return f.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof SQLException s) {
        throw s;
      }
      throw new IllegalStateException(e.getCause());
    }
  }
}
