package io.replicador.apply;

import io.replicador.change.Identifiers;
import io.replicador.change.TableName;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** SQL for applying changes to a replica table. Pure functions; every identifier is quoted. */
final class ApplyStatements {
  private ApplyStatements() {}

  /**
   * An upsert: inserting a row that is already there (a snapshot overlap, a redelivery) updates it
   * instead. Identity columns take the primary's values.
   */
  static String upsert(TableName table, List<String> columns, List<String> key) {
    return upsert(table, columns, key, List.of());
  }

  /**
   * An upsert whose conflict branch leaves {@code keep} alone: the replica's {@code GENERATED
   * ALWAYS} identity columns, which an UPDATE (even ON CONFLICT's) may only set to DEFAULT.
   */
  static String upsert(TableName table, List<String> columns, List<String> key, List<String> keep) {
    return upsert(table, columns, key, keep, Map.of());
  }

  /**
   * An upsert in which the columns of {@code expressions} take those SQL expressions instead of a
   * parameter (the joined pieces of large values).
   */
  static String upsert(
      TableName table,
      List<String> columns,
      List<String> key,
      List<String> keep,
      Map<String, String> expressions) {
    String cols = columns.stream().map(Identifiers::quote).collect(Collectors.joining(", "));
    String params =
        columns.stream()
            .map(c -> expressions.getOrDefault(c, "?"))
            .collect(Collectors.joining(", "));
    String keyCols = key.stream().map(Identifiers::quote).collect(Collectors.joining(", "));
    List<String> nonKey =
        columns.stream().filter(c -> !key.contains(c) && !keep.contains(c)).toList();
    String onConflict =
        nonKey.isEmpty()
            ? "DO NOTHING"
            : "DO UPDATE SET "
                + nonKey.stream()
                    .map(Identifiers::quote)
                    .map(c -> c + " = EXCLUDED." + c)
                    .collect(Collectors.joining(", "));
    return "INSERT INTO "
        + table.quoted()
        + " ("
        + cols
        + ") OVERRIDING SYSTEM VALUE VALUES ("
        + params
        + ") ON CONFLICT ("
        + keyCols
        + ") "
        + onConflict;
  }

  /** Sets {@code setColumns} of the row found by its old key. */
  static String update(TableName table, List<String> setColumns, List<String> key) {
    return update(table, setColumns, key, List.of());
  }

  /**
   * Sets {@code setColumns} of the row found by its old key, if its {@code guard} columns (which
   * cannot be SET) already hold the new values; parameters: set values, key, guards.
   */
  static String update(
      TableName table, List<String> setColumns, List<String> key, List<String> guard) {
    return update(table, setColumns, key, guard, Map.of());
  }

  /** An update in which the columns of {@code expressions} are set to those SQL expressions. */
  static String update(
      TableName table,
      List<String> setColumns,
      List<String> key,
      List<String> guard,
      Map<String, String> expressions) {
    String set =
        setColumns.stream()
            .map(c -> Identifiers.quote(c) + " = " + expressions.getOrDefault(c, "?"))
            .collect(Collectors.joining(", "));
    String guards =
        guard.stream()
            .map(c -> " AND " + Identifiers.quote(c) + " IS NOT DISTINCT FROM ?")
            .collect(Collectors.joining());
    return "UPDATE " + table.quoted() + " SET " + set + " WHERE " + keyMatch(key) + guards;
  }

  /**
   * Moves the row found by its old key to its new key and values, as the primary's UPDATE did,
   * unless the new key is already taken (then nothing matches and the applier replaces the row). An
   * UPDATE rather than delete and insert: a replica's ON DELETE actions and DELETE triggers must
   * not fire for what was an update. Parameters: set values, old key, guards, new key.
   */
  static String keyUpdate(
      TableName table,
      List<String> setColumns,
      List<String> key,
      List<String> guard,
      Map<String, String> expressions) {
    return update(table, setColumns, key, guard, expressions)
        + " AND NOT EXISTS (SELECT 1 FROM "
        + table.quoted()
        + " WHERE "
        + keyMatch(key)
        + ")";
  }

  static String delete(TableName table, List<String> key) {
    return "DELETE FROM " + table.quoted() + " WHERE " + keyMatch(key);
  }

  static String exists(TableName table, List<String> key) {
    return "SELECT 1 FROM " + table.quoted() + " WHERE " + keyMatch(key);
  }

  static String truncate(TableName table) {
    return "TRUNCATE " + table.quoted();
  }

  private static String keyMatch(List<String> key) {
    return key.stream()
        .map(c -> Identifiers.quote(c) + " = ?")
        .collect(Collectors.joining(" AND "));
  }
}
