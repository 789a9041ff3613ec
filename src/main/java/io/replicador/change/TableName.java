package io.replicador.change;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * A schema-qualified table name, as PostgreSQL stores it (case preserved, no quotes).
 *
 * <p>{@link #parse} reads the SQL spelling a user types: unquoted parts fold to lower case, quoted
 * parts keep case, spaces and doubled quotes. {@link #toString} gives the quoted SQL form, safe to
 * put in a statement.
 */
public record TableName(String schema, String name) implements Comparable<TableName> {

  public TableName {
    Objects.requireNonNull(schema, "schema");
    Objects.requireNonNull(name, "name");
  }

  public static TableName of(String schema, String name) {
    return new TableName(schema, name);
  }

  /**
   * Parses {@code schema.table}, {@code table} (schema {@code public}) or quoted forms such as
   * {@code "Sales Data"."Odd ""Table"" Name"}.
   */
  public static TableName parse(String text) {
    List<String> parts = splitQualified(text);
    if (parts.size() == 1) {
      return new TableName("public", parts.get(0));
    }
    if (parts.size() == 2) {
      return new TableName(parts.get(0), parts.get(1));
    }
    throw new IllegalArgumentException(
        "Table name '" + text + "' has " + parts.size() + " parts; write schema.table");
  }

  /** Parses a comma-separated list of table names; commas inside quotes belong to the name. */
  public static List<TableName> parseList(String text) {
    List<TableName> tables = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '"') {
        quoted = !quoted;
      }
      if (c == ',' && !quoted) {
        addIfPresent(tables, current.toString());
        current.setLength(0);
      } else {
        current.append(c);
      }
    }
    addIfPresent(tables, current.toString());
    return tables;
  }

  private static void addIfPresent(List<TableName> tables, String part) {
    if (!part.isBlank()) {
      tables.add(parse(part.strip()));
    }
  }

  /** Splits a dotted SQL name into its identifiers, applying SQL's case and quote rules. */
  public static List<String> splitQualified(String text) {
    List<String> parts = new ArrayList<>();
    String s = text.strip();
    int i = 0;
    while (true) {
      if (i >= s.length()) {
        throw new IllegalArgumentException("Name '" + text + "' is empty or ends with a dot");
      }
      StringBuilder part = new StringBuilder();
      if (s.charAt(i) == '"') {
        i++;
        while (true) {
          if (i >= s.length()) {
            throw new IllegalArgumentException("Name '" + text + "' has an unclosed quote");
          }
          char c = s.charAt(i);
          if (c == '"') {
            if (i + 1 < s.length() && s.charAt(i + 1) == '"') {
              part.append('"');
              i += 2;
              continue;
            }
            i++;
            break;
          }
          part.append(c);
          i++;
        }
        if (part.length() == 0) {
          throw new IllegalArgumentException("Name '" + text + "' has an empty quoted part");
        }
        parts.add(part.toString());
      } else {
        while (i < s.length() && s.charAt(i) != '.') {
          char c = s.charAt(i);
          if (c == '"' || Character.isWhitespace(c)) {
            throw new IllegalArgumentException(
                "Name '" + text + "' has '" + c + "' outside quotes; quote that part: \"...\"");
          }
          part.append(c);
          i++;
        }
        if (part.length() == 0) {
          throw new IllegalArgumentException("Name '" + text + "' has an empty part");
        }
        parts.add(part.toString().toLowerCase(Locale.ROOT));
      }
      if (i == s.length()) {
        return parts;
      }
      if (s.charAt(i) != '.') {
        throw new IllegalArgumentException(
            "Name '" + text + "' has text after a quoted part; separate parts with a dot");
      }
      i++;
    }
  }

  /** The quoted SQL spelling, e.g. {@code "public"."users"}. */
  public String quoted() {
    return Identifiers.quote(schema) + "." + Identifiers.quote(name);
  }

  @Override
  public String toString() {
    return quoted();
  }

  @Override
  public int compareTo(TableName o) {
    int c = schema.compareTo(o.schema);
    return c != 0 ? c : name.compareTo(o.name);
  }
}
