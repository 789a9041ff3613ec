package io.replicador.verify;

import io.replicador.change.Identifiers;
import io.replicador.change.TableName;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The SQL verify runs on both databases for one table. Columns are named explicitly and quoted
 * (column order may differ between primary and replica, and a column may share the table alias's
 * name); range bounds are bind parameters cast to the key columns' types. Pure.
 *
 * @param columns the primary's columns that are compared
 * @param key the primary-key columns, in key order
 * @param keyTypes the key columns' types as format_type spells them (schema-qualified)
 */
public record VerifyQueries(
    TableName table, List<String> columns, List<String> key, List<String> keyTypes) {

  public VerifyQueries {
    columns = List.copyOf(columns);
    key = List.copyOf(key);
    keyTypes = List.copyOf(keyTypes);
  }

  private static String qualified(String column) {
    return "t." + Identifiers.quote(column);
  }

  private String rowHash() {
    return "md5(ROW("
        + columns.stream().map(VerifyQueries::qualified).collect(Collectors.joining(", "))
        + ")::text)";
  }

  private String keyList() {
    return key.stream().map(VerifyQueries::qualified).collect(Collectors.joining(", "));
  }

  private String keyTuple() {
    return key.size() == 1 ? keyList() : "(" + keyList() + ")";
  }

  private String keyTexts() {
    return key.stream().map(c -> qualified(c) + "::text").collect(Collectors.joining(", "));
  }

  private String params() {
    List<String> casts = new ArrayList<>();
    for (String type : keyTypes) {
      casts.add("CAST(? AS " + type + ")");
    }
    return key.size() == 1 ? casts.get(0) : "(" + String.join(", ", casts) + ")";
  }

  /** The WHERE clause for a range; bind {@link #bounds} in order. */
  public String where(KeyRange range) {
    List<String> conditions = new ArrayList<>();
    if (range.lower() != null) {
      conditions.add(keyTuple() + " >= " + params());
    }
    if (range.upper() != null) {
      conditions.add(keyTuple() + " < " + params());
    }
    return conditions.isEmpty() ? "" : " WHERE " + String.join(" AND ", conditions);
  }

  /** The values to bind for {@link #where}. */
  public static List<String> bounds(KeyRange range) {
    List<String> values = new ArrayList<>();
    if (range.lower() != null) {
      values.addAll(range.lower());
    }
    if (range.upper() != null) {
      values.addAll(range.upper());
    }
    return values;
  }

  /**
   * Row count and a hash of the rows in a range. The hash adds up the first 64 bits of each row's
   * md5, so it does not depend on the order rows are read in (nor on collations) and needs no sort;
   * {@code sum(bigint)} is numeric, so it does not overflow.
   */
  public String rangeSummary(KeyRange range) {
    return "SELECT count(*), coalesce(sum(('x' || left("
        + rowHash()
        + ", 16))::bit(64)::int8), 0)"
        + "::text FROM "
        + table.quoted()
        + " t"
        + where(range);
  }

  /**
   * Every {@code every}-th key in key order, starting after the first row: boundaries of ranges of
   * {@code every} rows. One index-ordered pass over the primary.
   */
  public String boundaries() {
    List<String> aliases = new ArrayList<>();
    for (int i = 0; i < key.size(); i++) {
      aliases.add("b" + i);
    }
    List<String> selected = new ArrayList<>();
    for (int i = 0; i < key.size(); i++) {
      selected.add(qualified(key.get(i)) + "::text AS " + aliases.get(i));
    }
    return "SELECT "
        + String.join(", ", aliases)
        + " FROM (SELECT "
        + String.join(", ", selected)
        + ", row_number() OVER (ORDER BY "
        + keyList()
        + ") AS rn FROM "
        + table.quoted()
        + " t) x WHERE rn % ? = 1 AND rn > 1 ORDER BY rn";
  }

  /** The key at a row offset within a range, in key order: where to split it. */
  public String keyAtOffset(KeyRange range) {
    return "SELECT "
        + keyTexts()
        + " FROM "
        + table.quoted()
        + " t"
        + where(range)
        + " ORDER BY "
        + keyList()
        + " OFFSET ? LIMIT 1";
  }

  /** Key texts and row hash of every row in a (small) range. */
  public String rows(KeyRange range) {
    return "SELECT "
        + keyTexts()
        + ", "
        + rowHash()
        + " FROM "
        + table.quoted()
        + " t"
        + where(range)
        + " ORDER BY "
        + keyList();
  }
}
