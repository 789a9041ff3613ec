package io.replicador.snapshot;

import io.replicador.change.TableName;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The order in which a replica whose foreign keys stay active (no session_replication_role) can
 * take its tables: a referenced table before the tables that reference it, so that each copy
 * satisfies the keys checked as it commits. Self-references need no order (a COPY checks them at
 * its end); in a cycle the order is arbitrary. Pure once read; not thread-safe.
 */
final class ForeignKeyOrder {
  /** Table to the tables it references, among the tables being copied. */
  private final Map<TableName, Set<TableName>> references;

  ForeignKeyOrder(Map<TableName, Set<TableName>> references) {
    this.references = references;
  }

  /** Reads the replica's foreign keys between {@code tables}. */
  static ForeignKeyOrder read(Connection replica, List<TableName> tables) throws SQLException {
    Set<TableName> wanted = new HashSet<>(tables);
    Map<TableName, Set<TableName>> references = new HashMap<>();
    try (PreparedStatement ps =
            replica.prepareStatement(
                "SELECT cn.nspname, cc.relname, fn.nspname, fc.relname FROM pg_constraint k"
                    + " JOIN pg_class cc ON cc.oid = k.conrelid"
                    + " JOIN pg_namespace cn ON cn.oid = cc.relnamespace"
                    + " JOIN pg_class fc ON fc.oid = k.confrelid"
                    + " JOIN pg_namespace fn ON fn.oid = fc.relnamespace"
                    + " WHERE k.contype = 'f' AND k.conrelid <> k.confrelid");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        TableName child = TableName.of(rs.getString(1), rs.getString(2));
        TableName parent = TableName.of(rs.getString(3), rs.getString(4));
        if (wanted.contains(child) && wanted.contains(parent)) {
          references.computeIfAbsent(child, k -> new HashSet<>()).add(parent);
        }
      }
    }
    return new ForeignKeyOrder(references);
  }

  /** Whether any two of the tables are linked by a foreign key. */
  boolean linked() {
    return !references.isEmpty();
  }

  /** The tables, each after those it references (a cycle is broken where it is met). */
  List<TableName> parentsFirst(List<TableName> tables) {
    Set<TableName> out = new LinkedHashSet<>();
    Set<TableName> visiting = new HashSet<>();
    for (TableName t : tables) {
      visit(t, out, visiting);
    }
    return new ArrayList<>(out);
  }

  private void visit(TableName t, Set<TableName> out, Set<TableName> visiting) {
    if (out.contains(t) || !visiting.add(t)) {
      return;
    }
    for (TableName parent : references.getOrDefault(t, Set.of())) {
      visit(parent, out, visiting);
    }
    out.add(t);
  }
}
