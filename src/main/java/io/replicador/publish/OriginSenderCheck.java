package io.replicador.publish;

import io.replicador.publish.OriginPayloadTranslator.OriginChange;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;

/**
 * Refuses origin notifications that cannot have come from the origin trigger. Any role that can
 * connect can {@code NOTIFY} any channel with any payload, so a notification counts only when:
 *
 * <ul>
 *   <li>the table it names has an enabled trigger whose function (or arguments) names the channel,
 *       i.e. a trigger that notifies there: a table no such trigger covers is not replicated
 *       through this mode;
 *   <li>the session that sent it, when it is still connected, runs as a role that may write the
 *       table that way (INSERT, UPDATE, DELETE or TRUNCATE privilege). A sender that has
 *       disconnected cannot be checked: then only the first rule and the payload's treatment as a
 *       hint (see {@code ChangeLogWriter.insertOrigin}) protect the replicas.
 * </ul>
 *
 * Answers are kept for the batch it serves (one instance per batch); reads through the caller's
 * connection and transaction. Not thread-safe.
 */
final class OriginSenderCheck {
  private final Connection connection;
  private final Map<String, Boolean> covered = new HashMap<>();

  OriginSenderCheck(Connection connection) {
    this.connection = connection;
  }

  /** Why the notification must not be shipped, or null when it may. */
  String problem(String channel, int pid, OriginChange change) throws SQLException {
    long relid = change.table().relid();
    String table = change.table().name().toString();
    Boolean notifies = covered.get(channel + "/" + relid);
    if (notifies == null) {
      notifies = notifies(channel, relid);
      covered.put(channel + "/" + relid, notifies);
    }
    if (!notifies) {
      return "table "
          + table
          + " has no enabled trigger that notifies on channel '"
          + channel
          + "', so this notification is not the origin trigger's (anyone who can connect can"
          + " send one)";
    }
    String privilege =
        switch (change.op()) {
          case INSERT -> "INSERT";
          case UPDATE -> "UPDATE";
          case DELETE -> "DELETE";
          case TRUNCATE -> "TRUNCATE";
          default -> null;
        };
    if (privilege == null) {
      return null;
    }
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT a.usename, CASE WHEN ? IN ('DELETE', 'TRUNCATE')"
                + " THEN has_table_privilege(a.usesysid, ?::int8::oid, ?)"
                + " ELSE has_any_column_privilege(a.usesysid, ?::int8::oid, ?) END"
                + " FROM pg_stat_activity a WHERE a.pid = ? AND a.usesysid IS NOT NULL")) {
      ps.setString(1, privilege);
      ps.setLong(2, relid);
      ps.setString(3, privilege);
      ps.setLong(4, relid);
      ps.setString(5, privilege);
      ps.setInt(6, pid);
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next() && !rs.getBoolean(2)) {
          return "it was sent by role '"
              + rs.getString(1)
              + "' (backend pid "
              + pid
              + "), which may not "
              + privilege
              + " "
              + table
              + ", so it is not the origin trigger's";
        }
      }
    }
    return null;
  }

  private boolean notifies(String channel, long relid) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT EXISTS (SELECT FROM pg_trigger tg JOIN pg_proc f ON f.oid = tg.tgfoid"
                + " WHERE tg.tgrelid = ?::int8::oid AND NOT tg.tgisinternal"
                + " AND tg.tgenabled <> 'D'"
                + " AND (strpos(f.prosrc, ?) > 0 OR strpos(encode(tg.tgargs, 'escape'), ?) > 0))")) {
      ps.setLong(1, relid);
      ps.setString(2, channel);
      ps.setString(3, channel);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }
}
