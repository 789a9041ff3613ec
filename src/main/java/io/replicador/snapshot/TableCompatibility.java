package io.replicador.snapshot;

import io.replicador.schema.ColumnDefinition;
import io.replicador.schema.TableDefinition;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Whether a table that already exists on the replica can take the primary's rows. Pure.
 *
 * <p>Every column the primary copies must exist with the same type and must not be generated on the
 * replica; columns only the replica has must accept a missing value (nullable, a default, an
 * identity or generated); the primary key must be on the same columns, since the listener finds
 * rows by it.
 */
public final class TableCompatibility {
  private TableCompatibility() {}

  /** The problems, each a sentence naming the column and the fix; empty when compatible. */
  public static List<String> problems(TableDefinition primary, TableDefinition replica) {
    List<String> problems = new ArrayList<>();
    Map<String, ColumnDefinition> replicaColumns = new LinkedHashMap<>();
    for (ColumnDefinition c : replica.columns()) {
      replicaColumns.put(c.name(), c);
    }
    String table = replica.name().toString();
    for (ColumnDefinition p : primary.copiedColumns()) {
      ColumnDefinition r = replicaColumns.get(p.name());
      if (r == null) {
        problems.add(
            "replica table "
                + table
                + " has no column \""
                + p.name()
                + "\" ("
                + p.type()
                + "); add it or drop the table so snapshot creates it");
      } else if (!r.type().equals(p.type())) {
        problems.add(
            "column \""
                + p.name()
                + "\" of replica table "
                + table
                + " is "
                + r.type()
                + " but "
                + p.type()
                + " on the primary; change its type to "
                + p.type());
      } else if (r.generated()) {
        problems.add(
            "column \""
                + p.name()
                + "\" of replica table "
                + table
                + " is generated on the"
                + " replica but not on the primary; make it a plain column");
      }
    }
    var primaryNames = new HashSet<String>();
    primary.columns().forEach(c -> primaryNames.add(c.name()));
    for (ColumnDefinition r : replica.columns()) {
      boolean fillsItself =
          !r.notNull() || r.defaultExpression() != null || r.identity() != 0 || r.generated();
      if (!primaryNames.contains(r.name()) && !fillsItself) {
        problems.add(
            "column \""
                + r.name()
                + "\" of replica table "
                + table
                + " exists only on the"
                + " replica and is NOT NULL without a default; give it a default or drop it");
      }
    }
    if (!new HashSet<>(replica.key()).equals(new HashSet<>(primary.key()))) {
      problems.add(
          "replica table "
              + table
              + " has primary key "
              + replica.key()
              + " but the primary "
              + primary.key()
              + "; give it the same primary key");
    }
    return problems;
  }
}
