package io.replicador.apply;

import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;
import java.util.Set;

/**
 * Decides whether a listener that cannot set {@code session_replication_role} may apply to a
 * replica. Without it the replica's foreign-key actions and triggers fire for every applied change.
 * That gives each change the effect it had on the primary as long as the applier expresses it with
 * the primary's own operation (an update as an UPDATE). It cannot where a row must be replaced: a
 * GENERATED ALWAYS identity column can only be changed by deleting and inserting its row, and that
 * delete would fire ON DELETE CASCADE, SET NULL or SET DEFAULT and DELETE triggers on rows the
 * primary kept. Such replicas are refused, naming the table, the foreign key or trigger, and the
 * fixes. Stateless.
 */
final class ReplicaSafety {
  private ReplicaSafety() {}

  /**
   * The first table among {@code tables} (all user tables when empty) whose identity column would
   * make a replacement fire something, described; or empty.
   */
  static Optional<String> firstHazard(Connection connection, Set<TableName> tables)
      throws SQLException {
    String[] names = tables.stream().map(TableName::quoted).toArray(String[]::new);
    // tgtype bit 8 is DELETE; tgenabled 'D' (disabled) and 'R' (replica only) do not fire here
    String sql =
        """
        WITH scope AS (
            SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'replicador')
              AND n.nspname NOT LIKE 'pg\\_%'
              AND (cardinality(?::text[]) = 0 OR c.oid = ANY (
                  SELECT to_regclass(t) FROM unnest(?::text[]) AS t))
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                  AND a.attidentity = 'a' AND NOT a.attisdropped))
        SELECT s.name,
               format('foreign key %I of %I.%I (ON DELETE %s)', k.conname, cn.nspname, cc.relname,
                   CASE k.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL'
                       ELSE 'SET DEFAULT' END)
        FROM scope s JOIN pg_constraint k ON k.confrelid = s.oid
            JOIN pg_class cc ON cc.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
        WHERE k.contype = 'f' AND k.confdeltype IN ('c', 'n', 'd')
        UNION ALL
        SELECT s.name, format('trigger %I on DELETE', t.tgname)
        FROM scope s JOIN pg_trigger t ON t.tgrelid = s.oid
        WHERE NOT t.tgisinternal AND t.tgtype & 8 <> 0 AND t.tgenabled IN ('O', 'A')
        ORDER BY 1, 2 LIMIT 1
        """;
    try (PreparedStatement ps = connection.prepareStatement(sql)) {
      ps.setArray(1, connection.createArrayOf("text", names));
      ps.setArray(2, connection.createArrayOf("text", names));
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        return Optional.of(
            "table "
                + rs.getString(1)
                + " has a GENERATED ALWAYS identity column, so a change of"
                + " it is applied by deleting and inserting its row, and that delete fires "
                + rs.getString(2));
      }
    }
  }

  /** Refuses the replica when {@link #firstHazard} finds something, unless allowed. */
  static void check(
      Connection connection, String replicaName, Set<TableName> tables, boolean allowed)
      throws SQLException {
    Optional<String> hazard = firstHazard(connection, tables);
    if (hazard.isPresent() && !allowed) {
      String role;
      try (ResultSet rs = connection.createStatement().executeQuery("SELECT current_user")) {
        rs.next();
        role = rs.getString(1);
      }
      throw new ConfigException(
          "Replica "
              + replicaName
              + ": the listener cannot set session_replication_role, and "
              + hazard.get()
              + " on the replica, changing rows the primary kept; run the listener"
              + " as a superuser, or GRANT SET ON PARAMETER session_replication_role TO \""
              + role.replace("\"", "\"\"")
              + "\" (PostgreSQL 15+), or pass"
              + " --allow-replica-triggers to accept the risk");
    }
  }
}
