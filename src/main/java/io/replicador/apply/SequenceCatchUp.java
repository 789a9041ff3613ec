package io.replicador.apply;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;

/**
 * Keeps the replica's identity and serial sequences ahead of the values the primary sent.
 * Replicated rows carry the primary's values (inserted with OVERRIDING SYSTEM VALUE), which leaves
 * the replica's own sequence behind, so a row later inserted on the replica itself would collide
 * with a replicated key. This collects the highest value per sequence while a batch is applied and,
 * once per batch and sequence, moves the sequence past it if it is not already: one statement per
 * touched sequence, not per row. {@code setval} is not transactional, so a batch that rolls back
 * may leave a gap in the sequence, never a collision. Only ascending sequences are moved. Not
 * thread-safe; owns no connection.
 */
final class SequenceCatchUp {
  private static final String ADVANCE =
      "SELECT setval(s.seqrelid, ?) FROM pg_sequence s WHERE s.seqrelid = ?::regclass"
          + " AND s.seqincrement > 0 AND ? <= s.seqmax"
          + " AND ? >= coalesce(pg_sequence_last_value(s.seqrelid) + s.seqincrement, s.seqstart)";

  private final Map<String, Long> highest = new HashMap<>();

  /** Notes a value an insert or update writes into a column fed by {@code sequence}. */
  void note(String sequence, String value) {
    if (value != null) {
      try {
        highest.merge(sequence, Long.parseLong(value), Math::max);
      } catch (NumberFormatException notAnInteger) {
        // a sequence feeding a non-integer column: nothing sensible to advance to
      }
    }
  }

  /** Moves each noted sequence past its highest value, in the caller's transaction. */
  void advance(Connection connection) throws SQLException {
    if (highest.isEmpty()) {
      return;
    }
    try (PreparedStatement ps = connection.prepareStatement(ADVANCE)) {
      for (Map.Entry<String, Long> e : highest.entrySet()) {
        ps.setLong(1, e.getValue());
        ps.setString(2, e.getKey());
        ps.setLong(3, e.getValue());
        ps.setLong(4, e.getValue());
        ps.executeQuery().close();
      }
    } finally {
      highest.clear();
    }
  }

  /** Forgets what was noted (the batch rolled back). */
  void clear() {
    highest.clear();
  }
}
