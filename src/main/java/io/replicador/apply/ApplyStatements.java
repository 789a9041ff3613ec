package io.replicador.apply;

import io.replicador.change.Identifiers;
import io.replicador.change.TableName;
import java.util.List;
import java.util.stream.Collectors;

/** SQL for applying changes to a replica table. Pure functions; every identifier is quoted. */
final class ApplyStatements {
  private ApplyStatements() {}

  /**
   * An upsert: inserting a row that is already there (a snapshot overlap, a redelivery) updates
   * it instead. Identity columns take the primary's values.
   */
  static String upsert(TableName table, List<String> columns, List<String> key) {
    String cols = columns.stream().map(Identifiers::quote).collect(Collectors.joining(", "));
    String params = columns.stream().map(c -> "?").collect(Collectors.joining(", "));
    String keyCols = key.stream().map(Identifiers::quote).collect(Collectors.joining(", "));
    List<String> nonKey = columns.stream().filter(c -> !key.contains(c)).toList();
    String onConflict =
        nonKey.isEmpty()
            ? "DO NOTHING"
            : "DO UPDATE SET "
                + nonKey.stream()
                    .map(Identifiers::quote)
                    .map(c -> c + " = EXCLUDED." + c)
                    .collect(Collectors.joining(", "));
    return "INSERT INTO " + table.quoted() + " (" + cols + ") OVERRIDING SYSTEM VALUE VALUES ("
        + params + ") ON CONFLICT (" + keyCols + ") " + onConflict;
  }

  /** Sets {@code setColumns} of the row found by its old key. */
  static String update(TableName table, List<String> setColumns, List<String> key) {
    String set =
        setColumns.stream()
            .map(c -> Identifiers.quote(c) + " = ?")
            .collect(Collectors.joining(", "));
    return "UPDATE " + table.quoted() + " SET " + set + " WHERE " + keyMatch(key);
  }

  static String delete(TableName table, List<String> key) {
    return "DELETE FROM " + table.quoted() + " WHERE " + keyMatch(key);
  }

  static String truncate(TableName table) {
    return "TRUNCATE " + table.quoted();
  }

  private static String keyMatch(List<String> key) {
    return key.stream().map(c -> Identifiers.quote(c) + " = ?").collect(Collectors.joining(" AND "));
  }
}
