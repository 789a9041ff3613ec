package io.replicador.publish;

import io.replicador.Failures;
import io.replicador.change.TableName;
import io.replicador.publish.OriginPayloadTranslator.OriginChange;
import io.replicador.publish.OriginPayloadTranslator.OriginPayloadException;
import io.replicador.publish.OriginPayloadTranslator.OriginTable;
import io.replicador.store.ChangeLogWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the changes carried by origin-design notifications into the changelog, so they ship
 * through the same durable path (positions, confirms, deduplication) as captured changes.
 *
 * <p>The server converts each record: {@code json_populate_record(NULL::table, record)::text} under
 * the capture trigger's fixed output settings gives the row's text form exactly as the capture
 * trigger would have stored it, so every value goes through the column type's own input and output
 * functions and no value is re-encoded in Java. The unqualified table name of the payload is
 * resolved with {@code to_regclass(quote_ident(name))}, i.e. with this connection's search_path, as
 * the primary resolves it; a partition is reported under its partitioned table.
 *
 * <p>A payload is a hint, never the truth: a notification that cannot be the origin trigger's is
 * rejected ({@link OriginSenderCheck}), and what is shipped for one that passes is the row as the
 * primary holds it now, found by the payload's key ({@link ChangeLogWriter#insertOrigin}).
 *
 * <p>Uses the caller's connection (autocommit off), which it does not close; each {@link #write} is
 * one transaction. Not thread-safe.
 */
public final class OriginChangeWriter {
  private static final Logger log = LoggerFactory.getLogger(OriginChangeWriter.class);

  private final Connection connection;

  public OriginChangeWriter(Connection connection) {
    this.connection = connection;
  }

  /**
   * Writes the changes of the notifications, in order, in one transaction, and commits. Payloads
   * that cannot be used are logged (WARN, with channel and reason) and skipped.
   *
   * @return the number of changes written
   * @throws SQLException only when the connection fails; the notifications are then lost
   */
  public int write(List<PGNotification> notifications) throws SQLException {
    if (notifications.isEmpty()) {
      return 0;
    }
    boolean done = false;
    try {
      Map<String, Optional<OriginTable>> resolved = new HashMap<>();
      OriginPayloadTranslator translator =
          new OriginPayloadTranslator(
              name -> {
                Optional<OriginTable> t = resolved.get(name);
                if (t == null) {
                  t = resolve(name);
                  resolved.put(name, t);
                }
                return t;
              });
      List<Translated> changes = new ArrayList<>();
      OriginSenderCheck senders = new OriginSenderCheck(connection);
      for (PGNotification n : notifications) {
        OriginChange change;
        try {
          change = translator.translate(n.getParameter());
        } catch (OriginPayloadException e) {
          skipped(n.getName(), e.getMessage());
          continue;
        }
        String forged = senders.problem(n.getName(), n.getPID(), change);
        if (forged != null) {
          log.warn("Rejected a notification on channel '{}': {}", n.getName(), forged);
          continue;
        }
        changes.add(new Translated(n.getName(), change));
      }
      fixOutputSettings();
      int written = 0;
      int i = 0;
      while (i < changes.size()) {
        // consecutive changes of one table go in one statement, keeping their order
        int end = i + 1;
        while (end < changes.size()
            && changes.get(end).change.table().equals(changes.get(i).change.table())) {
          end++;
        }
        written += insertRun(changes.subList(i, end));
        i = end;
      }
      connection.commit();
      done = true;
      log.debug("Wrote {} origin change(s) to the changelog", written);
      return written;
    } finally {
      if (!done) {
        rollbackQuietly();
      }
    }
  }

  /** Inserts a run of one table's changes; if the server rejects one, retries one by one. */
  private int insertRun(List<Translated> run) throws SQLException {
    Savepoint before = connection.setSavepoint();
    try {
      int n = insert(run);
      connection.releaseSavepoint(before);
      return n;
    } catch (SQLException e) {
      if (Failures.isConnectionFailure(e)) {
        throw e;
      }
      connection.rollback(before);
      if (run.size() == 1) {
        skipped(
            run.get(0).channel,
            "the primary could not read its record as a row of "
                + run.get(0).change.table().name()
                + ": "
                + Failures.describe(e));
        return 0;
      }
    }
    int written = 0;
    for (Translated t : run) {
      written += insertRun(List.of(t));
    }
    return written;
  }

  private int insert(List<Translated> run) throws SQLException {
    OriginTable table = run.get(0).change.table();
    String[] payloads = new String[run.size()];
    String[] ops = new String[run.size()];
    for (int i = 0; i < run.size(); i++) {
      payloads[i] = run.get(i).change.payload();
      ops[i] = String.valueOf(run.get(i).change.op().code());
    }
    return new ChangeLogWriter(connection).insertOrigin(table.relid(), table.name(), payloads, ops);
  }

  /** The capture trigger's settings (store/primary/V1__capture.sql), for this transaction only. */
  private void fixOutputSettings() throws SQLException {
    try (Statement st = connection.createStatement()) {
      st.execute(
          "SELECT set_config('datestyle', 'ISO, YMD', true),"
              + " set_config('intervalstyle', 'postgres', true),"
              + " set_config('extra_float_digits', '3', true),"
              + " set_config('bytea_output', 'hex', true)");
    }
  }

  private Optional<OriginTable> resolve(String name) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text,"
                + " EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)"
                + " FROM (SELECT to_regclass(quote_ident(?)) AS r) q"
                + " JOIN pg_class c ON c.oid = coalesce(pg_partition_root(q.r), q.r)"
                + " JOIN pg_namespace n ON n.oid = c.relnamespace")) {
      ps.setString(1, name);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        return Optional.of(
            new OriginTable(
                rs.getLong(1),
                TableName.of(rs.getString(2), rs.getString(3)),
                rs.getString(4).charAt(0),
                rs.getBoolean(5)));
      }
    }
  }

  private static void skipped(String channel, String reason) {
    log.warn("Skipped a notification on channel '{}': {}", channel, reason);
  }

  private void rollbackQuietly() {
    try {
      connection.rollback();
    } catch (SQLException e) {
      log.debug("Rollback after a failed origin write failed too", e);
    }
  }

  private record Translated(String channel, OriginChange change) {}
}
