package io.replicador.status;

import io.replicador.Failures;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueInspector;
import io.replicador.broker.Topology;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import io.replicador.publish.ChangeLogReader;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeoutException;

/**
 * Reads the status once. The backlog's age costs nothing extra on the write path: it is counted
 * in transactions (the server's next transaction id minus the oldest waiting one), and in seconds
 * only where the server already keeps commit timestamps ({@code track_commit_timestamp}); a
 * timestamp column in the changelog would add bytes to every captured change. Opens and closes
 * its own connections; a replica that cannot be read is reported, not fatal.
 */
public final class StatusReader {
  private final PostgresAddress primary;
  private final BrokerAddress broker;
  private final Map<String, PostgresAddress> replicas;

  /**
   * @param replicas replica name to its database, or to null to look at the queue only
   */
  public StatusReader(
      PostgresAddress primary, BrokerAddress broker, Map<String, PostgresAddress> replicas) {
    this.primary = primary;
    this.broker = broker;
    this.replicas = new LinkedHashMap<>(replicas);
  }

  public Status read() throws SQLException, IOException, TimeoutException {
    PrimaryStatus p;
    try (Connection c = primary.connect("replicador-status")) {
      p = primaryStatus(c);
    }
    List<ReplicaStatus> out = new ArrayList<>();
    try (QueueInspector queues = new QueueInspector(broker, "replicador-status")) {
      for (Map.Entry<String, PostgresAddress> e : replicas.entrySet()) {
        out.add(replicaStatus(e.getKey(), e.getValue(), queues, p));
      }
    }
    return new Status(p, out);
  }

  private PrimaryStatus primaryStatus(Connection c) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT to_regclass('replicador.changelog') IS NOT NULL"
                    + " AND to_regclass('replicador.publisher') IS NOT NULL")) {
      rs.next();
      if (!rs.getBoolean(1)) {
        throw new ConfigException("Change capture is not installed on " + primary
            + "; run 'replicador install' first");
      }
    }
    String source;
    long changes;
    long transactions;
    Long ageTransactions = null;
    Double ageSeconds = null;
    try (Statement st = c.createStatement();
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
      source = rs.getString(1);
      changes = rs.getLong(2);
      transactions = rs.getLong(3);
      long age = rs.getLong(4);
      if (!rs.wasNull()) {
        ageTransactions = age;
      }
      double seconds = rs.getDouble(5);
      if (!rs.wasNull()) {
        ageSeconds = seconds;
      }
    }
    long last;
    Long pendingFrom;
    String activeBy;
    String activeSince;
    try (Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT next_position - 1, pending_first, active_by, active_since::text"
                    + " FROM replicador.publisher")) {
      rs.next();
      last = rs.getLong(1);
      long pf = rs.getLong(2);
      pendingFrom = rs.wasNull() ? null : pf;
      activeBy = rs.getString(3);
      activeSince = rs.getString(4);
    }
    return new PrimaryStatus(
        primary.toString(), source, changes, transactions, ageTransactions, ageSeconds, last,
        pendingFrom, publisherSession(c).orElse(null), activeBy, activeSince);
  }

  /** The session holding the publisher's advisory lock in this database, if any. */
  private static Optional<PrimaryStatus.PublisherSession> publisherSession(Connection c)
      throws SQLException {
    long key = ChangeLogReader.PUBLISHER_LOCK;
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start::text"
                + " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                + " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                + " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                + " AND l.classid = ?::int8::oid AND l.objid = ?::int8::oid")) {
      // A bigint advisory key shows as classid = high 32 bits, objid = low 32 bits.
      ps.setLong(1, key >>> 32);
      ps.setLong(2, key & 0xffffffffL);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        return Optional.of(
            new PrimaryStatus.PublisherSession(
                rs.getInt(1), rs.getString(2), rs.getString(3), rs.getString(4)));
      }
    }
  }

  private ReplicaStatus replicaStatus(
      String name, PostgresAddress address, QueueInspector queues, PrimaryStatus p) {
    String queue = Topology.queueName(name);
    List<String> problems = new ArrayList<>();
    Long messages = null;
    Integer consumers = null;
    Long dead = null;
    try {
      Optional<QueueInspector.QueueCounts> q = queues.inspect(queue);
      if (q.isPresent()) {
        messages = q.get().messages();
        consumers = q.get().consumers();
      } else {
        problems.add("queue " + queue + " does not exist (run snapshot or listen to create it)");
      }
      Optional<QueueInspector.QueueCounts> d =
          queues.inspect(Topology.deadLetterQueueName(name));
      dead = d.map(QueueInspector.QueueCounts::messages).orElse(null);
    } catch (IOException | TimeoutException e) {
      problems.add("cannot read queue " + queue + ": " + Failures.describe(e));
    }
    Long position = null;
    Long behind = null;
    Double age = null;
    Double lag = null;
    if (address != null) {
      try (Connection c = address.connect("replicador-status")) {
        try (PreparedStatement ps =
            c.prepareStatement(
                "SELECT position, extract(epoch FROM now() - applied_at)::float8"
                    + " FROM replicador.applied WHERE consumer = ? AND source = ?")) {
          ps.setString(1, name);
          ps.setString(2, p.source());
          try (ResultSet rs = ps.executeQuery()) {
            if (rs.next()) {
              position = rs.getLong(1);
              age = rs.getDouble(2);
              behind = Math.max(0, p.lastPosition() - position);
              boolean caughtUp = behind == 0 && (messages == null || messages == 0);
              lag = caughtUp ? 0.0 : age;
            } else {
              problems.add("the replica has applied nothing from this primary yet");
            }
          }
        }
      } catch (SQLException e) {
        problems.add(
            "42P01".equals(e.getSQLState())
                ? "the replica has no replicador.applied table (no listener ran there yet)"
                : "cannot read the replica: " + Failures.describe(e));
      }
    }
    return new ReplicaStatus(
        name, queue, messages, consumers, dead, position, behind, age, lag,
        problems.isEmpty() ? null : String.join("; ", problems));
  }
}
