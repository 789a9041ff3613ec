package io.replicador.apply;

import io.replicador.change.Relation;
import io.replicador.change.TableName;
import io.replicador.schema.ColumnInfo;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A replica table's columns, checked against a relation from the primary: every column the primary
 * sends must exist here; columns only the replica has keep their defaults; generated columns are
 * computed by the replica.
 */
final class ReplicaTable {
  private final TableName name;
  private final Map<String, ColumnInfo> columns = new LinkedHashMap<>();
  private final Map<String, String> sequences;

  /**
   * @param sequences column name to the replica sequence that feeds it
   */
  ReplicaTable(TableName name, List<ColumnInfo> columns, Map<String, String> sequences) {
    this.name = name;
    for (ColumnInfo c : columns) {
      this.columns.put(c.name(), c);
    }
    this.sequences = Map.copyOf(sequences);
  }

  /** The column's type as {@code format_type} prints it (a valid, quoted type name), or null. */
  String type(String column) {
    ColumnInfo c = columns.get(column);
    return c == null ? null : c.type();
  }

  /** Column name to the replica sequence (identity or serial) that feeds it. */
  Map<String, String> sequences() {
    return sequences;
  }

  /**
   * The relation's columns that are {@code GENERATED ALWAYS} identity columns here: an UPDATE
   * cannot set them, so the applier leaves them out of SET and checks them instead.
   */
  List<String> alwaysIdentity(Relation relation) {
    List<String> out = new ArrayList<>();
    for (String column : relation.columns()) {
      ColumnInfo c = columns.get(column);
      if (c != null && c.identityAlways()) {
        out.add(column);
      }
    }
    return out;
  }

  /** Checks that the relation fits; returns the columns an UPDATE may set. */
  List<String> check(Relation relation, String replicaName) throws ApplyException {
    for (String column : relation.columns()) {
      ColumnInfo c = columns.get(column);
      if (c == null) {
        throw new ApplyException(
            "Replica "
                + replicaName
                + ": table "
                + name
                + " has no column \""
                + column
                + "\" that the primary sends; add it (ALTER TABLE "
                + name
                + " ADD COLUMN ...)"
                + " and the listener continues by itself",
            name);
      }
      if (c.generated()) {
        throw new ApplyException(
            "Replica "
                + replicaName
                + ": column \""
                + column
                + "\" of "
                + name
                + " is generated on the replica but not on the primary; make it a plain column",
            name);
      }
    }
    for (String column : relation.key()) {
      if (!columns.containsKey(column)) {
        throw new ApplyException(
            "Replica "
                + replicaName
                + ": table "
                + name
                + " has no key column \""
                + column
                + "\"; add it so rows can be found",
            name);
      }
    }
    List<String> settable = new ArrayList<>();
    for (String column : relation.columns()) {
      if (!columns.get(column).identityAlways()) {
        settable.add(column);
      }
    }
    return settable;
  }
}
